"""N concurrent MathpixJobTriggers in one asyncio loop, beside N bare httpx coroutines.

Usage::

    .venv/bin/python benchmarks/triggers_1000.py [--sizes 100,1000] [--job-seconds 10] [--poll-interval 2]

What it measures, and the floor it prints beside it:

- The emulator runs in its OWN process, so its memory and CPU never count. Each job
  holds its one file ``pending`` for ``--job-seconds``, so every waiter polls several
  times before its job completes.
- Each scenario runs in a FRESH child process which imports everything, reports ready,
  and only then are its N single-file jobs submitted (so the jobs' clocks start when the
  waiters can poll). The child then runs all N waiters concurrently in one loop until
  each has its answer, and reports: CPU seconds of the loop, its RSS once imports are
  done, its own peak RSS (``VmHWM`` from ``/proc/self/status``; never ``ru_maxrss``,
  which Linux carries across fork+exec), the event loop's stalls (a 10 ms ticker's
  lateness: p99 and worst) and the full (gen 2) garbage collections with the longest.
  The emulator's request counter gives the number of polls.
- Ours: ``MathpixJobTrigger`` rebuilt from ``serialize()`` (as the triggerer does), its
  ``run()`` driven to the first event. The floor: N bare coroutines, each with its own
  ``httpx.AsyncClient`` (one shared TLS context), doing ``GET /files/v1/jobs/{id}``,
  parsing the JSON and sleeping the same interval until the job is terminal.
- ``bare+jitter``: the same bare coroutines with the triggers' poll spread (random first
  delay, jittered waits), which gives up the lockstep wake-ups of plain bare coroutines:
  what is left between it and ours is the trigger's own work.
- At the largest N (unless ``--no-freeze``): ours with ``gc.freeze()`` after the imports (what
  docs/triggers.md recommends for a triggerer running thousands of triggers).
- Logging is off in the child, for ours and the floor alike (a triggerer logs to files;
  this measures the loop): Airflow's own ``[logging] logging_level`` is CRITICAL there
  (``AIRFLOW__LOGGING__LOGGING_LEVEL``), which is what silences Airflow 3's structlog
  trigger and hook loggers (``logging.disable`` does not reach them), and
  ``logging.disable`` silences the standard library's (httpx's, Airflow 2's). The child
  checks that a trigger's logger is off before it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import http.server
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _emulator import emulator_process
from _measure import Result, Row, cpu_seconds, peak_rss_mb, reset_peak_rss, rss_mb

APP_KEY = "bench-app-key"
#: Airflow's ``[logging] logging_level``: Airflow 3 configures its structlog loggers from it.
LOG_LEVEL_ENV = "AIRFLOW__LOGGING__LOGGING_LEVEL"


def _control(url: str, method: str, path: str) -> dict[str, Any]:
    req = urllib.request.Request(f"{url}{path}", method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
    return json.loads(body) if body else {}


@contextlib.contextmanager
def pdf_source() -> Iterator[str]:
    from reportlab.pdfgen import canvas

    directory = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"mathpix-bench-{os.getpid()}")
    os.makedirs(directory, exist_ok=True)
    pdf = canvas.Canvas(os.path.join(directory, "one.pdf"))
    pdf.drawString(72, 720, "Benchmark page")
    pdf.showPage()
    pdf.save()
    handler = functools.partial(_QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/one.pdf"
    finally:
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def _conn_env(url: str) -> dict[str, str]:
    conn = json.dumps({"conn_type": "mathpix", "host": url, "password": APP_KEY})
    return {"AIRFLOW_CONN_MATHPIX_BENCH": conn}


def scenario(
    url: str, source: str, n: int, mode: str, poll_interval: float, job_seconds: float
) -> dict[str, Any]:
    """Start a child, submit ``n`` jobs once it is ready, let it wait them out; its figures."""
    import logging

    os.environ.update(_conn_env(url))
    # One "submitted" line per job would bury the figures (see main for Airflow 3's loggers).
    logging.disable(logging.INFO)
    from airflow_provider_mathpix.hooks.mathpix import MathpixHook

    _control(url, "POST", "/_emulator/reset")
    job_ids = [f"bench-{mode.replace(' ', '-').replace('+', '-')}-{n}-{i}" for i in range(n)]
    spec = {"jobs": job_ids, "poll_interval": poll_interval, "mode": mode, "url": url}
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        env={**os.environ, **_conn_env(url), LOG_LEVEL_ENV: "CRITICAL"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        raise RuntimeError(f"child failed to start:\n{child.communicate()[1][-4000:]}")
    with MathpixHook("mathpix_bench") as hook:
        for job_id in job_ids:
            hook.submit_job([{"source_uri": source, "custom_id": "doc"}], job_id=job_id)
    before = _control(url, "GET", "/_emulator/stats")["requests"]
    out, err = child.communicate("go\n", timeout=job_seconds * 20 + 600)
    if child.returncode != 0:
        raise RuntimeError(f"child failed:\n{err[-4000:]}")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    report["polls"] = _control(url, "GET", "/_emulator/stats")["requests"] - before
    report["mode"] = mode
    return report


async def _bare_wait(client: Any, job_id: str, interval: float, jitter: bool) -> dict[str, Any]:
    from airflow_provider_mathpix.triggers.mathpix import FIRST_POLL_SPREAD_MAX, POLL_JITTER

    if jitter:  # the triggers' spread, so that only the trigger's own work differs
        await asyncio.sleep(random.uniform(0, min(interval, FIRST_POLL_SPREAD_MAX)))
    while True:
        record = (await client.get(f"/files/v1/jobs/{job_id}")).json()
        if record["status"] in ("completed", "error"):
            return {"status": "success"}
        await asyncio.sleep(interval * (random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER) if jitter else 1))


def child(spec: dict[str, Any]) -> None:
    """Run the waiters in this process and print one JSON line of figures."""
    import logging

    import httpx

    logging.disable(logging.CRITICAL)
    from airflow.sdk._shared.module_loading import import_string

    from airflow_provider_mathpix.hooks._transport import ssl_context
    from airflow_provider_mathpix.triggers.mathpix import MathpixJobTrigger

    mode = spec["mode"]
    gc.collect()
    if mode == "ours+gc.freeze":
        gc.freeze()
    print("ready", flush=True)
    sys.stdin.readline()
    reset_peak_rss()
    rss_after_import = rss_mb()
    interval = spec["poll_interval"]
    end_time = time.time() + 3600
    triggers = []
    if mode.startswith("ours"):
        for job_id in spec["jobs"]:
            classpath, kwargs = MathpixJobTrigger(
                job_id, "mathpix_bench", poll_interval=interval, end_time=end_time
            ).serialize()
            triggers.append(import_string(classpath)(**kwargs))
        if triggers[0].log.isEnabledFor(logging.CRITICAL - 1):
            raise SystemExit(f"the triggers' logging is not off ({LOG_LEVEL_ENV} ignored?)")

    full_gcs: list[float] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            full_gcs.append(time.perf_counter() - gc_started[0])

    gc.callbacks.append(on_gc)

    async def first_event(trigger: Any) -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise RuntimeError("trigger ended without an event")

    async def bare(job_id: str) -> dict[str, Any]:

        async with httpx.AsyncClient(
            base_url=spec["url"], headers={"app_key": APP_KEY}, verify=ssl_context()
        ) as client:
            return await _bare_wait(client, job_id, interval, jitter=mode == "bare+jitter")

    stalls: list[float] = []

    async def ticker(done: asyncio.Event) -> None:
        tick = 0.01
        while not done.is_set():
            began = time.perf_counter()
            await asyncio.sleep(tick)
            stalls.append(time.perf_counter() - began - tick)

    async def main() -> list[dict[str, Any]]:
        done = asyncio.Event()
        watch = asyncio.create_task(ticker(done))
        if mode.startswith("ours"):
            events = await asyncio.gather(*(first_event(t) for t in triggers))
        else:
            events = await asyncio.gather(*(bare(j) for j in spec["jobs"]))
        done.set()
        await watch
        return events

    cpu0 = cpu_seconds()
    wall0 = time.monotonic()
    events = asyncio.run(main())
    wall = time.monotonic() - wall0
    cpu = cpu_seconds() - cpu0
    stalls.sort()
    print(
        json.dumps(
            {
                "triggers": len(events),
                "statuses": sorted({e["status"] for e in events}),
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 3),
                "peak_rss_mb": round(peak_rss_mb(), 2),
                "rss_after_import_mb": round(rss_after_import, 2),
                "stall_p99_ms": round(1000 * stalls[int(0.99 * (len(stalls) - 1))], 1),
                "stall_max_ms": round(1000 * stalls[-1], 1),
                "full_gcs": len(full_gcs),
                "longest_full_gc_ms": round(1000 * max(full_gcs, default=0.0), 1),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated trigger counts")
    parser.add_argument("--job-seconds", type=float, default=10.0, help="how long each job stays pending")
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--no-freeze", action="store_true", help="skip the gc.freeze() scenario")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0

    # Before Airflow is imported here (it configures logging once): the parent's "submitted"
    # lines are structlog's under Airflow 3, out of logging.disable's reach.
    os.environ.setdefault(LOG_LEVEL_ENV, "WARNING")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    emulator_args = ("--time-per-file", str(args.job_seconds), "--time-per-page", "0", "--format-lag", "0")
    with emulator_process(*emulator_args) as (url, _pid), pdf_source() as source:
        for n in sizes:
            modes = ["bare httpx", "bare+jitter", "ours"]
            modes += ["ours+gc.freeze"] if n == sizes[-1] and not args.no_freeze else []
            for mode in modes:
                report = scenario(url, source, n, mode, args.poll_interval, args.job_seconds)
                if report["statuses"] != ["success"]:
                    raise SystemExit(f"unexpected events with {n} {mode}: {report['statuses']}")
                rows.append(report)
                print(json.dumps(report), flush=True)

    print(
        f"\nN waiters in one asyncio loop (jobs pending {args.job_seconds:g} s, poll every "
        f"{args.poll_interval:g} s)\n"
    )
    print(
        f"{'N':>6} {'waiters':>15} {'polls':>6} {'CPU s':>6} {'CPU ms/poll':>11} {'peak MB':>8} "
        f"{'KB/waiter':>9} {'stall p99 ms':>12} {'worst ms':>8} {'full GCs':>8} {'longest GC ms':>13}"
    )
    for r in rows:
        r["ms_per_poll"] = 1000 * r["cpu_s"] / max(r["polls"], 1)
        r["kb_per_waiter"] = 1024 * (r["peak_rss_mb"] - r["rss_after_import_mb"]) / r["triggers"]
        print(
            f"{r['triggers']:>6} {r['mode']:>15} {r['polls']:>6} {r['cpu_s']:>6} {r['ms_per_poll']:>11.3f} "
            f"{r['peak_rss_mb']:>8} {r['kb_per_waiter']:>9.1f} {r['stall_p99_ms']:>12} "
            f"{r['stall_max_ms']:>8} {r['full_gcs']:>8} {r['longest_full_gc_ms']:>13}"
        )

    def pick(n: int, mode: str) -> dict[str, Any]:
        return next(r for r in rows if r["triggers"] == n and r["mode"] == mode)

    cpu = Result(
        "triggers_cpu", "CPU per poll of N waiting triggers", ylabel="CPU ms per poll (lower is better)"
    )
    mem = Result("triggers_rss", "Peak RSS per waiting trigger", ylabel="KB per waiter (lower is better)")
    stall = Result(
        "triggers_stall", "Worst event-loop stalls (p99 of a 10 ms ticker)", ylabel="ms (lower is better)"
    )
    for r in rows:
        cpu.point(r["mode"], r["triggers"], r["ms_per_poll"])
        mem.point(r["mode"], r["triggers"], r["kb_per_waiter"])
        stall.point(r["mode"], r["triggers"], r["stall_p99_ms"])
    n = sizes[-1]
    floor, ours = pick(n, "bare httpx"), pick(n, "ours")
    cpu.rows.append(
        Row(
            f"{n:,} MathpixJobTriggers in one loop: CPU per poll",
            "ms",
            ours["ms_per_poll"],
            floor=floor["ms_per_poll"],
            floor_name="bare httpx coroutines",
            higher_is_better=False,
            goal="ours/floor <= 1.1",
            met=ours["ms_per_poll"] <= 1.1 * floor["ms_per_poll"],
        )
    )
    mem.rows.append(
        Row(
            f"{n:,} MathpixJobTriggers: RSS per trigger",
            "KB",
            ours["kb_per_waiter"],
            floor=floor["kb_per_waiter"],
            floor_name="bare httpx coroutines",
            higher_is_better=False,
            goal="<= 64 KB",
            met=ours["kb_per_waiter"] <= 64,
        )
    )
    jittered = pick(n, "bare+jitter")
    cpu.rows[-1].note = (
        f"bare coroutines with the triggers' poll spread: {jittered['ms_per_poll']:.3g} ms, "
        f"ours/that {ours['ms_per_poll'] / jittered['ms_per_poll']:.2f}"
    )
    note = (
        f"full GCs: ours {ours['full_gcs']} (longest {ours['longest_full_gc_ms']} ms), "
        f"bare {floor['full_gcs']}"
    )
    if any(r["mode"] == "ours+gc.freeze" for r in rows):
        frozen = pick(n, "ours+gc.freeze")
        note += (
            f"; with gc.freeze(): p99 {frozen['stall_p99_ms']} ms, {frozen['full_gcs']} full GCs "
            f"(longest {frozen['longest_full_gc_ms']} ms)"
        )
    stall.rows.append(
        Row(
            f"{n:,} triggers: worst event-loop stall (p99)",
            "ms",
            ours["stall_p99_ms"],
            floor=floor["stall_p99_ms"],
            floor_name="bare coroutines",
            higher_is_better=False,
            goal="ours/floor <= 1.2",
            met=ours["stall_p99_ms"] <= 1.2 * max(floor["stall_p99_ms"], 1.0),
            note=note,
        )
    )
    sizes_text = f"N = {args.sizes}, jobs pending {args.job_seconds:g} s, poll every {args.poll_interval:g} s"
    for result in (cpu, mem, stall):
        result.sizes = sizes_text
        result.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
