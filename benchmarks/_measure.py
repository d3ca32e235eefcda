"""What every benchmark shares: peak memory, CPU time, machine load, and the result line.

Peak memory is read from ``VmHWM`` in ``/proc/<pid>/status`` (the high-water mark of
the process's own resident set). ``ru_maxrss`` is NOT used: Linux carries it across
fork+exec, so a small child of a big parent reports the parent's peak.

Each benchmark prints one ``BENCH_RESULT {json}`` line; ``benchmarks/run_all.py`` (what
``make bench`` runs) collects them into ``docs/benchmarks.md`` and one plot per benchmark.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

MARKER = "BENCH_RESULT "


def _status_kb(field_name: str, pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/{pid}/status")


def peak_rss_mb(pid: int | str = "self") -> float:
    """The process's own peak resident set (VmHWM), in MiB."""
    return _status_kb("VmHWM", pid) / 1024


def rss_mb(pid: int | str = "self") -> float:
    """The process's resident set now (VmRSS), in MiB."""
    return _status_kb("VmRSS", pid) / 1024


def reset_peak_rss() -> None:
    """Start a new VmHWM window for this process (Linux >= 4.0: write 5 to clear_refs)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} / {five:.1f} / {fifteen:.1f}"


def command_line() -> str:
    return ".venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)


@dataclass
class Row:
    """One line of the table: our figure beside the anchor and the floor of the same run."""

    path: str
    unit: str
    provider: float
    anchor: float | None = None
    anchor_name: str = ""
    floor: float | None = None
    floor_name: str = ""
    #: Which way is better for this unit (times and memory: lower; rates: higher).
    higher_is_better: bool = True
    goal: str = ""
    met: bool | None = None
    note: str = ""

    def ratio(self, other: float | None) -> float | None:
        """``ours / other``, in the row's own unit (the goals are written in these terms)."""
        if other is None or not other:
            return None
        return self.provider / other


@dataclass
class Result:
    benchmark: str
    title: str
    xlabel: str = "N"
    ylabel: str = ""
    rows: list[Row] = field(default_factory=list)
    #: Curves for the plot: name -> [[x, y], ...] (provider, anchor, floor ...).
    series: dict[str, list[list[float]]] = field(default_factory=dict)
    sizes: str = ""

    def point(self, name: str, x: float, y: float) -> None:
        self.series.setdefault(name, []).append([x, y])

    def emit(self) -> None:
        for row in self.rows:
            parts = [f"{row.path}: ours {row.provider:,.3g} {row.unit}"]
            if row.anchor is not None:
                parts.append(f"{row.anchor_name} {row.anchor:,.3g} (ours/anchor {row.ratio(row.anchor):.2f})")
            if row.floor is not None:
                parts.append(f"{row.floor_name} {row.floor:,.3g} (ours/floor {row.ratio(row.floor):.2f})")
            if row.goal:
                parts.append(f"goal {row.goal}: {'met' if row.met else 'NOT met'}")
            print("  " + "; ".join(parts))
        payload: dict[str, Any] = asdict(self)
        payload["command"] = command_line()
        payload["load"] = load_text()
        print(MARKER + json.dumps(payload), flush=True)
