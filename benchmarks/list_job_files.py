"""Throughput of listing a 100,000-file job: MathpixHook (sync and async) beside mpxpy's files_iter.

Usage (mpxpy comes from the ``bench`` dependency group: ``uv pip install --group bench``)::

    .venv/bin/python benchmarks/list_job_files.py [--sizes 20000,100000] [--page-size 1000] [--repeat 5]

What it does, and why it is a fair comparison:

- The emulator runs in its OWN process (``python -m airflow_provider_mathpix.testing``), so
  the clients measured here do not share a GIL with the server.
- One job of ``--files`` items is created through the hook (s3:// sources without a data
  source: they fail fast inside the emulator, so nothing is fetched during the run).
- Every client walks the same job with the same page size, following ``next_page_token``
  to the end; each run must return every custom_id exactly once or the script fails.
- Baselines measured in the same run: ``mpxpy`` (Mathpix's official client, 0.0.23,
  ``MathpixClient(api_url=...)`` then ``file_job_get(job_id).files_iter(limit=...)``; it
  uses ``requests`` without a session, so one new connection per page), and plain
  ``httpx.Client`` / ``httpx.AsyncClient`` loops (the floors: no validation, no retry
  machinery, same transport as the hook).
- The async hook puts the next page's request on the wire as soon as this page's body is
  in (its token guessed from the raw bytes, checked against the parsed page: see
  ``hooks/_ahead.py``), so the emulator's work on page N+1 overlaps our parsing of page N
  and the consumer taking its records. That needs a second core: on a busy machine the
  two processes take turns and the gain shrinks. ``--manifest`` gives every client the
  same per-record consumer work (a JSON line per record), more for the overlap to hide.
- Figures are records/s, best and median of ``--repeat`` timed rounds; the clients take
  turns (round-robin, after one untimed warm-up round) so that load from anything else
  on the machine affects them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
from _emulator import emulator_process
from _measure import Result, Row

APP_KEY = "bench-app-key"
APP_ID = "bench-app-id"


def measure(
    runs: list[tuple[str, Callable[[], list[str]]]], expected: set[str], repeat: int
) -> list[dict[str, Any]]:
    """Round-robin the clients (one untimed warm-up each) so load drift on a shared machine hits all alike."""
    rates: dict[str, list[float]] = {name: [] for name, _ in runs}
    for round_no in range(repeat + 1):
        for name, run in runs:
            began = time.perf_counter()
            ids = run()
            elapsed = time.perf_counter() - began
            if len(ids) != len(expected) or set(ids) != expected:
                raise SystemExit(
                    f"{name}: listed {len(ids)} records, {len(set(ids) & expected)} expected ones"
                )
            if round_no:  # round 0 warms connections, imports and the server's listing path
                rates[name].append(len(ids) / elapsed)
    return [{"client": n, "best": max(r), "median": statistics.median(r)} for n, r in rates.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20000,100000", help="comma-separated job sizes (files)")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--manifest",
        action="store_true",
        help="the consumer serialises every record to a JSON line (what a manifest writer does)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    def take(record: dict[str, Any]) -> str:
        if args.manifest:
            json.dumps(record)
        return str(record["custom_id"])

    result = Result("list_job_files", "Listing a job's files", ylabel="records/s (higher is better)")
    with emulator_process() as (url, _pid):
        os.environ["AIRFLOW_CONN_MATHPIX_BENCH"] = json.dumps(
            {"conn_type": "mathpix", "host": url, "password": APP_KEY, "login": APP_ID}
        )
        from airflow_provider_mathpix.hooks.mathpix import MathpixHook

        hook = MathpixHook("mathpix_bench")
        for n in sizes:
            results = list_one(hook, url, n, args.page_size, args.repeat, take)
            print(
                f"\nlisting {n:,} job files, page size {args.page_size}, best/median of {args.repeat} runs, "
                f"consumer: {'JSON line per record' if args.manifest else 'none'}"
            )
            width = max(len(r["client"]) for r in results)
            for r in results:
                print(f"  {r['client']:<{width}}  {r['best']:>10,.0f} records/s  (median {r['median']:,.0f})")
                result.point(r["client"], n, r["median"])
            medians = {r["client"]: r["median"] for r in results}
            if n == sizes[-1] and MPXPY in medians:
                for name, label in ((SYNC, "sync"), (ASYNC, "async")):
                    result.rows.append(
                        Row(
                            f"List {n:,} job files ({label})",
                            "records/s",
                            medians[name],
                            medians[MPXPY],
                            "mpxpy files_iter",
                            medians[FLOOR_SYNC if label == "sync" else FLOOR_ASYNC],
                            f"plain httpx {label} loop",
                            goal="ours/anchor >= 1.0",
                            met=medians[name] >= medians[MPXPY],
                        )
                    )
        hook.close()
    result.sizes = f"N = {args.sizes}, page size {args.page_size}, median of {args.repeat}"
    result.emit()
    return 0


SYNC = "MathpixHook.iter_job_files (sync)"
ASYNC = "MathpixHook.aiter_job_files (async)"
MPXPY = "mpxpy FileJob.files_iter (anchor)"
FLOOR_SYNC = "plain httpx.Client loop (sync floor)"
FLOOR_ASYNC = "plain httpx.AsyncClient loop (async floor)"


def list_one(
    hook: Any, url: str, n: int, page: int, repeat: int, take: Callable[[dict[str, Any]], str]
) -> list[dict[str, Any]]:
    """Create a job of ``n`` files, then every client lists it ``repeat`` times, round-robin."""
    job_id = f"bench-job-{n}"
    items = ({"source_uri": f"s3://bench/doc-{i}.pdf", "custom_id": f"doc-{i}"} for i in range(n))
    began = time.perf_counter()
    job = hook.submit_job(items, job_id=job_id, max_items_per_request=50_000)
    print(
        f"created job {job['job_id']}: {job['file_count']:,} files in {job['calls']} calls, "
        f"{time.perf_counter() - began:.1f} s",
        flush=True,
    )
    expected = {f"doc-{i}" for i in range(n)}

    def hook_sync() -> list[str]:
        return [take(f) for f in hook.iter_job_files(job_id, page_size=page)]

    def hook_async() -> list[str]:
        async def walk() -> list[str]:
            async with hook:
                return [take(f) async for f in hook.aiter_job_files(job_id, page_size=page)]

        return asyncio.run(walk())

    def plain_httpx() -> list[str]:
        out: list[str] = []
        with httpx.Client(base_url=url, headers={"app_key": APP_KEY}) as client:
            params: dict[str, Any] = {"limit": page}
            while True:
                body = client.get(f"/files/v1/jobs/{job_id}/files", params=params).json()
                out.extend(take(f) for f in body["files"])
                if not body.get("next_page_token"):
                    return out
                params["paging_state"] = body["next_page_token"]

    def plain_httpx_async() -> list[str]:
        async def walk() -> list[str]:
            out: list[str] = []
            async with httpx.AsyncClient(base_url=url, headers={"app_key": APP_KEY}) as client:
                params: dict[str, Any] = {"limit": page}
                while True:
                    body = (await client.get(f"/files/v1/jobs/{job_id}/files", params=params)).json()
                    out.extend(take(f) for f in body["files"])
                    if not body.get("next_page_token"):
                        return out
                    params["paging_state"] = body["next_page_token"]

        return asyncio.run(walk())

    runs: list[tuple[str, Callable[[], list[str]]]] = [(SYNC, hook_sync), (ASYNC, hook_async)]
    try:
        from mpxpy.mathpix_client import MathpixClient

        mpx_job = MathpixClient(app_id=APP_ID, app_key=APP_KEY, api_url=url).file_job_get(job_id)

        def mpxpy_files_iter() -> list[str]:
            return [take(f) for f in mpx_job.files_iter(limit=page)]

        runs.append((MPXPY, mpxpy_files_iter))
    except ImportError:
        print("mpxpy is not installed (dependency group 'bench'): its anchor is skipped")
    runs.append((FLOOR_SYNC, plain_httpx))
    runs.append((FLOOR_ASYNC, plain_httpx_async))
    return measure(runs, expected, repeat)


if __name__ == "__main__":
    raise SystemExit(main())
