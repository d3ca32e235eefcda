"""1,000 concurrent MathpixJobTriggers in one asyncio loop, as the triggerer runs them.

Usage::

    .venv/bin/python benchmarks/triggers_1000.py [--triggers 1000] [--baseline 10] [--job-seconds 10]

What it measures, and the baseline it prints beside it:

- The emulator runs in its OWN process (``python -m airflow_provider_mathpix.testing``) so
  its memory and CPU never count against the triggers.
- A small PDF is served over loopback; one single-file job per trigger is submitted up
  front (the emulator fetches the shared source once, then holds every file ``pending``
  for ``--job-seconds``), so every trigger polls several times before its job completes.
- Each scenario runs in a FRESH child process: rebuilt from ``serialize()`` (as the
  triggerer does), the triggers' ``run()`` generators are driven concurrently in one
  asyncio loop until each yields its single event. The child reports its peak RSS
  (``ru_maxrss``), its RSS once Airflow and the provider are imported (before any
  trigger), and the CPU seconds its loop used; the emulator's request counter gives the
  number of polls.
- Baselines in the same run: the same scenario with ``--baseline`` triggers, and the
  same ``--triggers`` with every client loading its own CA bundle (``verify=True``, what
  ``httpx.AsyncClient()`` does by default) instead of the hook's one shared TLS context.
  The figures to compare are RSS per trigger and CPU milliseconds per poll.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.server
import json
import os
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from _emulator import emulator_process

APP_KEY = "bench-app-key"


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
    url: str, source: str, n: int, poll_interval: float, job_seconds: float, own_tls: bool = False
) -> dict[str, Any]:
    """Submit ``n`` jobs, then run ``n`` triggers in a fresh child process."""
    os.environ.update(_conn_env(url))
    from airflow_provider_mathpix.hooks.mathpix import MathpixHook

    _control(url, "POST", "/_emulator/reset")
    job_ids = [f"bench-{n}-{i}" for i in range(n)]
    with MathpixHook("mathpix_bench") as hook:
        for job_id in job_ids:
            hook.submit_job([{"source_uri": source, "custom_id": "doc"}], job_id=job_id)
    before = _control(url, "GET", "/_emulator/stats")["requests"]
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            json.dumps({"jobs": job_ids, "poll_interval": poll_interval, "own_tls": own_tls}),
        ],
        env={**os.environ, **_conn_env(url)},
        capture_output=True,
        text=True,
        timeout=job_seconds * 20 + 600,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"child failed:\n{child.stderr[-4000:]}")
    report = json.loads(child.stdout.strip().splitlines()[-1])
    report["polls"] = _control(url, "GET", "/_emulator/stats")["requests"] - before
    report["tls"] = "per client" if own_tls else "shared"
    return report


def child(spec: dict[str, Any]) -> None:
    """Run the triggers in this process and print one JSON line of figures."""
    import logging

    logging.disable(logging.CRITICAL)  # a triggerer logs to files; here logging would dominate
    from airflow.sdk._shared.module_loading import import_string

    from airflow_provider_mathpix.triggers.mathpix import MathpixJobTrigger

    if spec.get("own_tls"):
        # The counterfactual: each client builds its own TLS context, as httpx does by default.
        import httpx

        from airflow_provider_mathpix.hooks import mathpix as hook_module

        shared = hook_module.client_kwargs
        hook_module.client_kwargs = lambda settings, **kw: shared(  # type: ignore[assignment]
            settings, **{**kw, "tls": httpx.create_ssl_context()}
        )
    rss_after_import = _rss_now_mb()
    end_time = time.time() + 3600
    triggers = []
    for job_id in spec["jobs"]:
        classpath, kwargs = MathpixJobTrigger(
            job_id, "mathpix_bench", poll_interval=spec["poll_interval"], end_time=end_time
        ).serialize()
        triggers.append(import_string(classpath)(**kwargs))

    async def first_event(trigger: Any) -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise RuntimeError("trigger ended without an event")

    async def main() -> list[dict[str, Any]]:
        return await asyncio.gather(*(first_event(t) for t in triggers))

    cpu0 = _cpu_seconds()
    wall0 = time.monotonic()
    events = asyncio.run(main())
    wall = time.monotonic() - wall0
    cpu = _cpu_seconds() - cpu0
    statuses = sorted({e["status"] for e in events})
    print(
        json.dumps(
            {
                "triggers": len(triggers),
                "statuses": statuses,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "rss_after_import_mb": round(rss_after_import, 1),
            }
        )
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_now_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / (1024 * 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=10)
    parser.add_argument("--job-seconds", type=float, default=30.0, help="how long each job stays pending")
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0

    rows = []
    emulator_args = ("--time-per-file", str(args.job_seconds), "--time-per-page", "0", "--format-lag", "0")
    with emulator_process(*emulator_args) as (url, _pid), pdf_source() as source:
        for n, own_tls in ((args.baseline, False), (args.triggers, False), (args.triggers, True)):
            report = scenario(url, source, n, args.poll_interval, args.job_seconds, own_tls)
            if report["statuses"] != ["success"]:
                raise SystemExit(f"unexpected events with {n} triggers: {report['statuses']}")
            rows.append(report)
    print(
        f"\n{args.triggers} vs {args.baseline} MathpixJobTriggers in one asyncio loop "
        f"(jobs pending {args.job_seconds:g} s, poll every {args.poll_interval:g} s)\n"
    )
    header = (
        f"{'triggers':>8} {'TLS context':>11} {'polls':>7} {'wall s':>7} {'CPU s':>7} {'CPU ms/poll':>11} "
        f"{'peak RSS MB':>11} {'RSS at import':>13} {'MB/trigger':>10}"
    )
    print(header)
    for r in rows:
        per_poll = 1000 * r["cpu_s"] / max(r["polls"], 1)
        per_trigger = (r["peak_rss_mb"] - r["rss_after_import_mb"]) / r["triggers"]
        print(
            f"{r['triggers']:>8} {r['tls']:>11} {r['polls']:>7} {r['wall_s']:>7} {r['cpu_s']:>7} "
            f"{per_poll:>11.3f} {r['peak_rss_mb']:>11} {r['rss_after_import_mb']:>13} {per_trigger:>10.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
