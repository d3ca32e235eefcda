"""The manifest of an N-file job whose files all errored, beside listing the job alone.

Usage::

    .venv/bin/python benchmarks/manifest_errored.py [--sizes 2000,20000] [--all-max 2000] [--repeat 3]

The 100,000 and 1,000,000-file points (listing-speed mode; 9.5 minutes in all with the
machine at load 6-11, of which the million-file manifest itself 139 s)::

    .venv/bin/python benchmarks/manifest_errored.py --sizes 2000,100000,1000000 --all-max 2000 --repeat 1

What it measures, and the floor and limit it prints beside it:

- The emulator runs in its own process. A job of N items with ``s3://`` sources and no
  registered data source is created: the emulator errors every file at once, with a
  reason on each file's own record (``GET /files/v1/{file_id}``), none in the listing.
- Ours, two modes of what ``MathpixSubmitJobOperator`` runs once the job is done
  (``finish_jobs``): list the job's completed then errored files and write every record
  to a JSON Lines manifest on local disk, with

  - ``manifest_error_reasons="all"`` (the default): every errored file's reason fetched,
    ``ERROR_FETCH_CONCURRENCY`` GETs at a time (run for sizes up to ``--all-max``: at a
    few hundred GETs/s a 100,000-file job takes minutes);
  - ``manifest_error_reasons="sample"``: errored records as listed, reasons fetched for
    XCom's ``errors_sample`` (10) only.

- The floor: listing the errored files alone (``iter_job_files(status="error")``),
  with nothing fetched or written. The limit of the "all" mode: the emulator's own rate
  of ``GET /files/v1/{file_id}`` from bare httpx coroutines at the same concurrency as
  ours; it bounds any client that needs every errored file's record. Where "all" runs,
  the bare client GETs the same N records, taking turns with ours (load drift hits both);
  above ``--all-max``, it GETs one record for ``--limit-seconds``.
- ``--sweep 1,4,16,32`` also prints the limit and ours ("all") at each concurrency,
  with the client's CPU per GET (``time.process_time``): what the concurrency costs.
- Figures are records/s, the median of ``--repeat`` runs; the peak is the client
  process's ``VmHWM`` during the listing-speed manifests of the biggest size.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _emulator import emulator_process, request_rate
from _measure import Result, Row, peak_rss_mb, reset_peak_rss

APP_KEY = "bench-app-key"
BIG_POINT = (
    ".venv/bin/python benchmarks/manifest_errored.py --sizes 2000,100000,1000000 --all-max 2000 --repeat 1"
)


def _median_rate(run: Callable[[int], float], repeat: int) -> float:
    return statistics.median(run(i) for i in range(repeat))


def _row(n: int, mode: str, ours: float, figures: dict[str, float], concurrency: int) -> Row:
    return Row(
        f"Manifest of a {n:,}-file job (all errored), {mode}",
        "records/s",
        ours,
        figures["limit"],
        f"emulator's GET /files/v1/{{id}} rate at c={concurrency} (limit of every reason)",
        figures["listing"],
        "listing alone",
    )


def bare_gets(url: str, file_ids: list[str], concurrency: int) -> float:
    """GETs/s of every file's record from bare httpx coroutines, ``concurrency`` at a time."""
    import asyncio

    import httpx

    async def run() -> float:
        slots = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, headers={"app_key": APP_KEY}) as client:

            async def one(file_id: str) -> None:
                async with slots:
                    (await client.get(f"/files/v1/{file_id}")).raise_for_status()

            began = time.perf_counter()
            await asyncio.gather(*(one(file_id) for file_id in file_ids))
            return len(file_ids) / (time.perf_counter() - began)

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,20000", help="comma-separated job sizes")
    parser.add_argument("--all-max", type=int, default=2000, help="largest size run with every reason")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit-seconds", type=float, default=3.0)
    parser.add_argument("--sweep", default="", help="concurrencies to compare ours with the limit at")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    logging.disable(logging.WARNING)  # the policy's warning names every run's errored sample

    result = Result(
        "manifest_errored", "Manifest of an all-errored job", ylabel="records/s (higher is better)"
    )
    with emulator_process("--time-per-file", "0") as (url, _pid), tempfile.TemporaryDirectory() as tmp:
        os.environ["AIRFLOW_CONN_MATHPIX_DEFAULT"] = json.dumps(
            {"conn_type": "mathpix", "host": url, "password": APP_KEY}
        )
        from airflow_provider_mathpix.common import job_report
        from airflow_provider_mathpix.common.job_report import JobFinish, finish_jobs
        from airflow_provider_mathpix.common.outputs import JobOutputs
        from airflow_provider_mathpix.contract.events import JobCounters, JobFinished
        from airflow_provider_mathpix.hooks.mathpix import MathpixHook
        from airflow_provider_mathpix.manifests import read_manifest

        concurrency = job_report.ERROR_FETCH_CONCURRENCY
        hook = MathpixHook()
        figures: dict[int, dict[str, float]] = {}
        peak = 0.0
        for n in sizes:
            job_id = f"bench-errored-{n}"
            items = ({"source_uri": f"s3://no-source/doc-{i}.pdf", "custom_id": f"doc-{i}"} for i in range(n))
            hook.submit_job(items, job_id=job_id, conversion_formats={"md": True})
            while hook.get_job(job_id)["status"] != "completed":
                time.sleep(0.2)
            event = JobFinished(job_id, "completed", JobCounters(file_count=n, files_errored=n))
            outputs = JobOutputs(exts=["md"], api_base=url)
            first_file = next(hook.iter_job_files(job_id, status="error"))["file_id"]
            limit = request_rate(
                url, f"/files/v1/{first_file}", {"app_key": APP_KEY}, concurrency, args.limit_seconds
            )

            def listing(_run: int, job_id: str = job_id, n: int = n) -> float:
                began = time.perf_counter()
                count = sum(1 for _ in hook.iter_job_files(job_id, status="error"))
                if count != n:
                    raise SystemExit(f"expected {n} errored files, the job lists {count}")
                return count / (time.perf_counter() - began)

            def ours(
                run: int,
                reasons: str,
                job_id: str = job_id,
                n: int = n,
                event: Any = event,
                outputs: Any = outputs,
            ) -> float:
                path = Path(tmp) / f"{job_id}-{reasons}-{run}.jsonl"
                began = time.perf_counter()
                xcom = finish_jobs(
                    hook,
                    job_id,
                    [event],
                    outputs=outputs,
                    finish=JobFinish(
                        manifest_path=str(path),
                        max_error_ratio=1.0,
                        fail_on_file_errors=False,
                        error_reasons=reasons,
                    ),
                    log=logging.getLogger("bench"),
                )
                elapsed = time.perf_counter() - began
                with_reason = sum(1 for r in read_manifest(xcom["manifest_uri"]) if r["error"])
                expected = n if reasons == "all" else min(n, 10)
                if with_reason != expected or len(xcom["errors_sample"]) != min(n, 10):
                    raise SystemExit(f"{reasons}: {with_reason} of {n} records have a reason, not {expected}")
                path.unlink()
                return n / elapsed

            row = {"listing": _median_rate(listing, args.repeat), "limit": limit}
            if n == sizes[-1]:
                reset_peak_rss()
            row["sample"] = _median_rate(lambda run: ours(run, "sample"), args.repeat)
            if n == sizes[-1]:
                peak = peak_rss_mb()
            if n <= args.all_max:
                # Ours and the limit take turns on the same N records, so load drift hits both.
                ids = [item["file_id"] for item in hook.iter_job_files(job_id, status="error")]
                alls, limits = [], []
                for run in range(args.repeat):
                    limits.append(bare_gets(url, ids, concurrency))
                    alls.append(ours(run, "all"))
                row["all"], row["limit"] = statistics.median(alls), statistics.median(limits)
                limit = row["limit"]
            figures[n] = row
            every = (
                f"all reasons {row['all']:,.0f} records/s ({row['all'] / limit:.2f}x the limit)"
                if "all" in row
                else "all reasons not run (N > --all-max)"
            )
            print(
                f"N={n:,}: listing-speed manifest {row['sample']:,.0f} records/s "
                f"({row['sample'] / row['listing']:.2f}x listing alone {row['listing']:,.0f}/s); "
                f"{every}; emulator GET /files/v1/{{id}} limit {limit:,.0f}/s at c={concurrency}",
                flush=True,
            )
            result.point("ours: manifest, reasons for the sample", n, row["sample"])
            if "all" in row:
                result.point("ours: manifest, every reason", n, row["all"])
            result.point("floor: listing alone", n, row["listing"])
            result.point(f"limit: emulator GET file rate (c={concurrency})", n, limit)
            if args.sweep and n == sizes[0]:
                sweep(hook, job_report, url, first_file, job_id, n, event, outputs, tmp, args)

        big = sizes[-1]
        sample = figures[big]
        result.rows.append(
            _row(big, "manifest_error_reasons='sample'", sample["sample"], sample, concurrency)
        )
        result.rows[-1].goal = "ours/floor >= 0.5"
        result.rows[-1].met = sample["sample"] >= 0.5 * sample["listing"]
        result.rows[-1].note = f"peak RSS {peak:,.0f} MB"
        every = max((n for n in sizes if n <= args.all_max), default=None)
        if every is not None:
            row = figures[every]
            result.rows.append(_row(every, "every reason (default)", row["all"], row, concurrency))
            result.rows[-1].goal = "ours/anchor >= 0.8 (one GET per errored file: the limit bounds it)"
            result.rows[-1].met = row["all"] >= 0.8 * row["limit"]
        hook.close()
    result.sizes = (
        f"N = {args.sizes} ('all' up to {args.all_max:,}), median of {args.repeat}; the "
        f"1,000,000-file point (~10 min on a loaded 2-core machine): `{BIG_POINT}`"
    )
    result.emit()
    return 0


def sweep(
    hook: Any,
    job_report: Any,
    url: str,
    file_id: str,
    job_id: str,
    n: int,
    event: Any,
    outputs: Any,
    tmp: str,
    args: argparse.Namespace,
) -> None:
    """Ours ("all") beside the bare-httpx limit at each concurrency, with the client's CPU per GET."""
    from airflow_provider_mathpix.common.job_report import JobFinish, finish_jobs

    default = job_report.ERROR_FETCH_CONCURRENCY
    for concurrency in (int(c) for c in args.sweep.split(",")):
        cpu = time.process_time()
        limit = request_rate(
            url, f"/files/v1/{file_id}", {"app_key": APP_KEY}, concurrency, args.limit_seconds
        )
        limit_cpu = (time.process_time() - cpu) / (limit * args.limit_seconds)
        job_report.ERROR_FETCH_CONCURRENCY = concurrency
        try:
            began, cpu = time.perf_counter(), time.process_time()
            finish_jobs(
                hook,
                job_id,
                [event],
                outputs=outputs,
                finish=JobFinish(
                    manifest_path=f"{tmp}/sweep.jsonl", max_error_ratio=1.0, fail_on_file_errors=False
                ),
                log=logging.getLogger("bench"),
            )
            rate, ours_cpu = n / (time.perf_counter() - began), (time.process_time() - cpu) / n
        finally:
            job_report.ERROR_FETCH_CONCURRENCY = default
        print(
            f"  c={concurrency}: ours {rate:,.0f}/s ({1e3 * ours_cpu:.2f} ms CPU per record), "
            f"bare httpx limit {limit:,.0f}/s ({1e3 * limit_cpu:.2f} ms CPU per GET): "
            f"{rate / limit:.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
