"""``make bench``: run every benchmark, then write docs/benchmarks.md and one plot per benchmark.

Usage::

    .venv/bin/python benchmarks/run_all.py [--only storage_download,triggers_1000] [--quick]

Each benchmark runs as its own process with the sizes below (each script takes its
sizes as flags: run one alone to measure bigger N) and prints a ``BENCH_RESULT`` line
(see ``_measure.py``): our figure beside the anchor and the floor measured in the same
run. The whole output of each script is kept under ``.bench-logs/``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import MARKER, load_text

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
PLOTS = REPO / "docs" / "img" / "benchmarks"
LOGS = REPO / ".bench-logs"

#: The sizes ``make bench`` runs (about 15 minutes on a loaded 2-core machine).
SUITE: list[tuple[str, list[str]]] = [
    ("storage_download", ["--sizes", "100,300", "--repeat", "3"]),
    ("triggers_1000", ["--sizes", "100,1000", "--job-seconds", "16"]),
    ("list_job_files", ["--sizes", "20000,100000", "--repeat", "3"]),
    (
        "storage_prefix_submit",
        ["--counts", "10000,50000", "--synthetic-counts", "200000", "--mpxpy-max", "50000"],
    ),
    ("manifest_errored", ["--sizes", "1000,100000", "--all-max", "1000", "--repeat", "3"]),
    ("incremental_check", ["--documents", "1000000"]),
    ("emulator_scale", ["--items", "100000"]),
    ("demo_wall_time", []),
]
QUICK: dict[str, list[str]] = {
    "storage_download": ["--sizes", "30,60"],
    "triggers_1000": ["--sizes", "20,100", "--job-seconds", "4", "--no-freeze"],
    "list_job_files": ["--sizes", "2000,5000", "--repeat", "1"],
    "storage_prefix_submit": ["--counts", "500,2000"],
    "manifest_errored": ["--sizes", "200,500", "--all-max", "500", "--repeat", "1"],
    "incremental_check": ["--documents", "20000"],
    "emulator_scale": ["--items", "5000", "--baseline-items", "500"],
    "demo_wall_time": [],
}


def run(name: str, flags: list[str]) -> tuple[list[dict[str, Any]], float, int]:
    LOGS.mkdir(exist_ok=True)
    cmd = [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), *flags]
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    began = time.perf_counter()
    results: list[dict[str, Any]] = []
    with open(LOGS / f"{name}.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith(MARKER):
                results.append(json.loads(line[len(MARKER) :]))
            elif not line.startswith("20") or "warning" in line or "error" in line.lower():
                print("   " + line.rstrip()[:300], flush=True)  # skip Airflow's info log lines
        code = proc.wait()
    return results, time.perf_counter() - began, code


def logged(name: str) -> list[dict[str, Any]]:
    """The results in a benchmark's log from an earlier run (none if it never ran)."""
    log = LOGS / f"{name}.log"
    if not log.exists():
        return []
    lines = log.read_text(encoding="utf-8").splitlines()
    found = [json.loads(line[len(MARKER) :]) for line in lines if line.startswith(MARKER)]
    for result in found:
        result["command"] = result["command"].replace(str(REPO) + os.sep, "")
    return found


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return f"{text} {unit}".strip()


def table_row(row: dict[str, Any]) -> str:
    unit = row["unit"]
    ours = _fmt(row["provider"], unit)
    refs, ratios = [], []
    for kind in ("anchor", "floor"):
        if row[kind] is not None:
            refs.append(f"{row[f'{kind}_name']}: {_fmt(row[kind], unit)}")
            ratios.append(f"ours/{kind} {row['provider'] / row[kind]:.2f}" if row[kind] else "")
    met = {True: "met", False: "**not met**", None: "-"}[row["met"]]
    note = f" ({row['note']})" if row["note"] else ""
    cells = [
        f"{row['path']}{note}",
        "; ".join(refs) or "-",
        ours,
        "; ".join(ratios) or "-",
        row["goal"] or "-",
        met,
    ]
    return "| " + " | ".join(cells) + " |"


def plot(result: dict[str, Any]) -> str | None:
    if not result["series"]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    PLOTS.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, points in result["series"].items():
        xs, ys = zip(*sorted(points), strict=True)
        style = "-o" if name.startswith("ours") else "--s" if "floor" in name or "bare" in name else ":^"
        ax.plot(xs, ys, style, label=name)
    ax.set_xscale("log")
    ax.set_xlabel(result["xlabel"])
    ax.set_ylabel(result["ylabel"])
    ax.set_title(result["title"], fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = PLOTS / f"{result['benchmark']}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return f"img/benchmarks/{path.name}"


def write_doc(
    results: list[dict[str, Any]], timings: dict[str, float], started: str, load_start: str
) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Every figure below comes from one `make bench` run "
        "(`.venv/bin/python benchmarks/run_all.py`): each benchmark measures our figure beside "
        "its anchor (what a user would otherwise run: mostly Mathpix's own client mpxpy, plain "
        "boto3/s3fs) and its floor (the least the work can cost: a bare loop, the link, the "
        "emulator's own rate), in the same process tree and the same minutes. On a shared "
        "machine the absolute figures move with the load; the ratios are what to compare.",
        "",
        f"- Run started {started}; {platform.python_implementation()} {platform.python_version()} "
        f"on {platform.machine()}.",
        f"- Load at the start: {load_start}; at the end: {load_text()}.",
        "- Sizes run are stated per benchmark; every script takes its sizes as flags.",
        "",
        "| Path | Anchor / floor in the same run | Ours | Ratio | Goal | Goal met |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        lines.extend(table_row(row) for row in result["rows"])
    lines.append("")
    for result in results:
        lines += [
            f"## {result['title']}",
            "",
            f"- Command: `{result['command']}`",
            f"- Sizes: {result['sizes'] or 'defaults'}",
            f"- Load when it finished: {result['load']}"
            + (
                f"; the script took {timings[result['benchmark']]:.0f} s."
                if timings.get(result["benchmark"])
                else "."
            ),
            "",
        ]
        image = plot(result)
        if image:
            lines += [f"![{result['title']}]({image})", ""]
    DOC.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {DOC.relative_to(REPO)} and {len(list(PLOTS.glob('*.png')))} plots", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite runs")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_start = load_text()
    # With --only, the other benchmarks keep the results of their last run (their logs).
    by_script = {name: logged(name) for name, _ in SUITE} if only else {}
    failed = []
    for name, flags in SUITE:
        if only and name not in only:
            continue
        found, seconds, code = run(name, QUICK[name] if args.quick else flags)
        if code:
            failed.append(name)
            print(f"   {name} FAILED (exit {code}); its log: .bench-logs/{name}.log", flush=True)
        for result in found:
            result["seconds"] = seconds
            result["command"] = result["command"].replace(str(REPO) + os.sep, "")
        by_script[name] = found
    results = [result for name, _ in SUITE for result in by_script.get(name, [])]
    timings = {result["benchmark"]: float(result.get("seconds", 0.0)) for result in results}
    write_doc(results, timings, started if not only else f"{started} (partly: {args.only})", load_start)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
