"""The manifest of an N-file job whose files all errored, beside listing the job alone.

Usage::

    .venv/bin/python benchmarks/manifest_errored.py [--sizes 2000,10000] [--repeat 3]

What it measures, and the floor and limit it prints beside it:

- The emulator runs in its own process. A job of N items with ``s3://`` sources and no
  registered data source is created: the emulator errors every file at once, with a
  reason on each file's own record (``GET /files/v1/{file_id}``), none in the listing.
- Ours: what ``MathpixSubmitJobOperator`` runs once the job is done
  (``finish_jobs``): list the job's completed then errored files, fetch errored files'
  reasons, write every record to a JSON Lines manifest on local disk.
- The floor: listing the errored files alone (``iter_job_files(status="error")``),
  with nothing fetched or written. The limit: the emulator's own rate of
  ``GET /files/v1/{file_id}`` (16 bare httpx coroutines for ``--limit-seconds``), which
  bounds any client that needs every errored file's record.
- Figures are records/s, the median of ``--repeat`` runs.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import argparse

from _emulator import emulator_process, request_rate
from _measure import Result, Row

APP_KEY = "bench-app-key"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,10000", help="comma-separated job sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit-seconds", type=float, default=3.0)
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
        from airflow_provider_mathpix.common.job_report import JobFinish, finish_jobs
        from airflow_provider_mathpix.common.outputs import JobOutputs
        from airflow_provider_mathpix.contract.events import JobCounters, JobFinished
        from airflow_provider_mathpix.hooks.mathpix import MathpixHook
        from airflow_provider_mathpix.manifests import read_manifest

        hook = MathpixHook()
        for n in sizes:
            job_id = f"bench-errored-{n}"
            items = ({"source_uri": f"s3://no-source/doc-{i}.pdf", "custom_id": f"doc-{i}"} for i in range(n))
            hook.submit_job(items, job_id=job_id, conversion_formats={"md": True})
            while (job := hook.get_job(job_id))["status"] != "completed":
                time.sleep(0.2)
            errored = sum(1 for _ in hook.iter_job_files(job_id, status="error"))
            if errored != n:
                raise SystemExit(f"expected {n} errored files, the job has {errored}")
            event = JobFinished(job_id, "completed", JobCounters(file_count=n, files_errored=n))
            outputs = JobOutputs(exts=["md"], api_base=url)
            first_file = next(hook.iter_job_files(job_id, status="error"))["file_id"]
            limit = request_rate(url, f"/files/v1/{first_file}", {"app_key": APP_KEY}, 16, args.limit_seconds)

            def listing(job_id: str = job_id) -> float:
                began = time.perf_counter()
                count = sum(1 for _ in hook.iter_job_files(job_id, status="error"))
                return count / (time.perf_counter() - began)

            def ours(
                run: int,
                job_id: str = job_id,
                n: int = n,
                event: Any = event,
                outputs: Any = outputs,
            ) -> float:
                path = Path(tmp) / f"{job_id}-{run}.jsonl"
                began = time.perf_counter()
                xcom = finish_jobs(
                    hook,
                    job_id,
                    [event],
                    outputs=outputs,
                    finish=JobFinish(manifest_path=str(path), max_error_ratio=1.0, fail_on_file_errors=False),
                    log=logging.getLogger("bench"),
                )
                elapsed = time.perf_counter() - began
                records = list(read_manifest(xcom["manifest_uri"]))
                if len(records) != n or any(not r["error"] for r in records):
                    raise SystemExit(f"manifest holds {len(records)} records of {n}, or some lack a reason")
                return n / elapsed

            floor_rates, our_rates = [], []
            for run in range(args.repeat):
                floor_rates.append(listing())
                our_rates.append(ours(run))
            floor, provider = statistics.median(floor_rates), statistics.median(our_rates)
            print(
                f"N={n:,}: manifest {provider:,.0f} records/s, listing alone {floor:,.0f} records/s "
                f"({provider / floor:.2f}x), emulator limit GET /files/v1/{{id}} {limit:,.0f}/s",
                flush=True,
            )
            result.point("ours: manifest", n, provider)
            result.point("floor: listing alone", n, floor)
            result.point("limit: emulator GET file rate", n, limit)
            if n == sizes[-1]:
                result.rows.append(
                    Row(
                        f"Manifest of a {n:,}-file job (all errored)",
                        "records/s",
                        provider,
                        limit,
                        "emulator's GET /files/v1/{id} rate (limit)",
                        floor,
                        "listing alone",
                        goal="ours/floor >= 0.5",
                        met=provider >= 0.5 * floor,
                        note=f"job status {job['status']}",
                    )
                )
        hook.close()
    result.sizes = f"N = {args.sizes}, median of {args.repeat}"
    result.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
