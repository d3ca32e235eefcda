"""Peak RSS while submitting a whole S3 prefix as one job: 200,000 objects beside smaller baselines.

Usage::

    .venv/bin/python benchmarks/storage_prefix_submit.py [--counts 2000,50000,200000]

What it measures, and why it is fair:

- For each count, a moto S3 server subprocess starts with that many objects under
  ``s3://bench-src/docs/`` (written into moto's backend before it serves, see
  ``seeded_moto_s3_server``), and the Mathpix emulator runs in its own subprocess. Neither
  server's memory is counted.
- A fresh child process per count imports everything first, records its RSS (the floor),
  then runs exactly what ``MathpixSubmitJobOperator(source_prefix=…)`` runs:
  ``MathpixHook.submit_job(storage.iter_source_items(prefix), job_id=…)`` -- the listing
  is paged through the amazon provider's S3Hook and streamed into the hook's chunked
  submission (50,000 items per call). The child reports its peak RSS (``ru_maxrss``).
- The bucket is NOT a registered data source, so the emulator fails each file at once
  without reading it back from moto: the run measures the provider's walk and submission,
  not the emulator's processing.
- Flat memory means: the peak above the floor stops growing once the count exceeds one
  submission chunk (50,000 items), except for what the hook keeps on purpose: a 16-byte
  digest per ``custom_id`` (about 90 bytes per item) to refuse duplicates within a job.
  ``--walk-only`` measures the walker alone (list + map to items, nothing submitted).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _emulator import emulator_process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

APP_KEY = "bench-app-key"
BUCKET = "bench-src"
PREFIX = "docs/"


def child(prefix: str, walk_only: bool) -> None:
    """Runs in a fresh process: import, note the floor, walk (+ submit), report the peak."""
    import psutil
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: F401  (import cost in the floor)

    from airflow_provider_mathpix.hooks.mathpix import MathpixHook
    from airflow_provider_mathpix.storage import iter_source_items

    floor = psutil.Process().memory_info().rss
    began = time.perf_counter()
    items = iter_source_items(prefix, suffixes=[".pdf"])
    if walk_only:
        result = {"file_count": sum(1 for _ in items), "calls": 0}
    else:
        result = MathpixHook().submit_job(items, job_id="bench-prefix")
    elapsed = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "file_count": result["file_count"],
                "calls": result.get("calls"),
                "seconds": elapsed,
                "floor_mb": floor / 2**20,
                "peak_mb": peak / 2**20,
            }
        )
    )


def measure(count: int, walk_only: bool = False) -> dict[str, Any]:
    from airflow_provider_mathpix.testing.storage_servers import seeded_moto_s3_server

    with seeded_moto_s3_server(BUCKET, PREFIX, count) as s3, emulator_process() as (url, _pid):
        env = {
            **os.environ,
            **s3.airflow_env,
            "AIRFLOW_CONN_MATHPIX_DEFAULT": json.dumps(
                {"conn_type": "mathpix", "host": url, "password": APP_KEY}
            ),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
        env.setdefault("AIRFLOW_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "mathpix-bench-airflow"))
        out = subprocess.run(
            [sys.executable, __file__, "--child", s3.uri(BUCKET, PREFIX), *(["--walk-only"] * walk_only)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode != 0 or not lines:
            raise SystemExit(f"child failed for {count}: {out.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(lines[-1])
        if figures["file_count"] != count:
            raise SystemExit(f"submitted {figures['file_count']} of {count} objects")
        return {"objects": count, **figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="2000,50000,200000", help="comma-separated object counts")
    parser.add_argument(
        "--walk-only",
        action="store_true",
        help="only walk the prefix (no submission): the walker's own memory, without the hook's",
    )
    parser.add_argument("--child", metavar="PREFIX", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.walk_only)
        return 0

    counts = [int(c) for c in args.counts.split(",")]
    what = "walked (no submission)" if args.walk_only else "one job"
    rows = []
    for count in counts:
        row = measure(count, args.walk_only)
        rows.append(row)
        print(
            f"{row['objects']:>9,} objects: {what}, {row['calls']} call(s), {row['seconds']:7.1f} s "
            f"({row['objects'] / row['seconds']:,.0f} objects/s); RSS floor {row['floor_mb']:.0f} MB, "
            f"peak {row['peak_mb']:.0f} MB (+{row['peak_mb'] - row['floor_mb']:.0f} MB)",
            flush=True,
        )
    base = rows[0]
    for row in rows[1:]:
        growth = (row["peak_mb"] - row["floor_mb"]) - (base["peak_mb"] - base["floor_mb"])
        print(
            f"{row['objects']:,} vs {base['objects']:,} objects ({row['objects'] / base['objects']:.0f}x): "
            f"peak above floor grows by {growth:+.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
