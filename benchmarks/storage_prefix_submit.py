"""Walk + submit a whole S3 prefix as one job: ours beside boto3's paginator and mpxpy, against N.

Usage::

    .venv/bin/python benchmarks/storage_prefix_submit.py [--counts 10000,50000]

What it measures, and why it is fair:

- For each count, a moto S3 server subprocess starts with that many objects under
  ``s3://bench-src/docs/`` (written into moto's backend before it serves, see
  ``seeded_moto_s3_server``), and the Mathpix emulator runs in its own subprocess. Neither
  server's memory is counted.
- Each client runs in a fresh child process which imports everything first, records its
  RSS (the floor), starts a new peak window, runs, and reports its own peak RSS
  (``VmHWM`` from ``/proc/self/status``; never ``ru_maxrss``, which Linux carries across
  fork+exec).
- Ours: exactly what ``MathpixSubmitJobOperator(source_prefix=...)`` runs:
  ``MathpixHook.submit_job(prefix_walk.iter_source_items(prefix), job_id=...)`` -- the
  listing paged through the amazon provider's S3Hook, streamed into the hook's chunked
  submission (50,000 items per call).
- Anchors: boto3's ``list_objects_v2`` paginator alone (the wall-time floor of the walk:
  no submission) and mpxpy (Mathpix's client) fed a list built with that paginator,
  ``file_job_new`` per 50,000 items (the way its docs show; the RSS anchor).
- The bucket is NOT a registered data source, so the emulator fails each file at once
  without reading it back from moto: the run measures the walk and the submission.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _emulator import emulator_process
from _measure import Result, Row, peak_rss_mb, reset_peak_rss, rss_mb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

APP_KEY = "bench-app-key"
APP_ID = "bench-app-id"
BUCKET = "bench-src"
PREFIX = "docs/"
CHUNK = 50_000
MODES = ("boto3 paginator alone", "mpxpy file_job_new", "ours")


def _boto3_keys(endpoint: str) -> Any:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
        for obj in page.get("Contents", ()):
            yield obj["Key"]


def child(mode: str, prefix: str, endpoint: str, url: str) -> None:
    """Runs in a fresh process: import, note the floor, run ``mode``, report the peak."""
    import logging

    import boto3  # noqa: F401  (import cost in the floor, alike for every mode)
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: F401
    from mpxpy.mathpix_client import MathpixClient

    from airflow_provider_mathpix.hooks.mathpix import MathpixHook
    from airflow_provider_mathpix.prefix_walk import iter_source_items

    logging.disable(logging.INFO)
    # Warm both listing paths (botocore loads its service models on first use) so the
    # floor holds what any S3 client holds and the peak above it is the walk's own.
    next(iter(_boto3_keys(endpoint)))
    next(iter_source_items(prefix, suffixes=[".pdf"]))
    MathpixHook().get_conn()  # the HTTP client and its TLS context: a fixed cost, not the walk's
    floor = rss_mb()
    reset_peak_rss()
    began = time.perf_counter()
    if mode == "ours":
        result = MathpixHook().submit_job(iter_source_items(prefix, suffixes=[".pdf"]), job_id="bench-prefix")
        count = int(result["file_count"])
    elif mode == "boto3 paginator alone":
        count = sum(1 for _ in _boto3_keys(endpoint))
    else:
        files = [
            {"source_uri": f"s3://{BUCKET}/{key}", "custom_id": key.rsplit("/", 1)[-1].removesuffix(".pdf")}
            for key in _boto3_keys(endpoint)
            if key.endswith(".pdf")
        ]
        client = MathpixClient(app_id=APP_ID, app_key=APP_KEY, api_url=url)
        for start in range(0, len(files), CHUNK):
            client.file_job_new(files[start : start + CHUNK], job_id="bench-mpxpy")
        count = len(files)
    elapsed = time.perf_counter() - began
    print(json.dumps({"file_count": count, "seconds": elapsed, "floor_mb": floor, "peak_mb": peak_rss_mb()}))


def measure(count: int) -> list[dict[str, Any]]:
    """One seeded bucket of ``count`` objects; each mode in its own fresh child."""
    from airflow_provider_mathpix.testing.storage_servers import seeded_moto_s3_server

    rows = []
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
        for mode in MODES:
            spec = json.dumps([mode, s3.uri(BUCKET, PREFIX), s3.endpoint_url, url])
            out = subprocess.run(
                [sys.executable, __file__, "--child", spec],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
            if out.returncode != 0 or not lines:
                raise SystemExit(f"{mode} failed for {count}: {out.stderr[-3000:]}")
            figures: dict[str, Any] = json.loads(lines[-1])
            if figures["file_count"] != count:
                raise SystemExit(f"{mode}: {figures['file_count']} of {count} objects")
            row = {"objects": count, "mode": mode, **figures}
            print(
                f"{count:>9,} objects, {mode:<22}: {row['seconds']:7.1f} s "
                f"({count / row['seconds']:,.0f} objects/s); RSS floor {row['floor_mb']:.0f} MB, "
                f"peak {row['peak_mb']:.0f} MB (+{row['peak_mb'] - row['floor_mb']:.1f} MB)",
                flush=True,
            )
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="10000,50000", help="comma-separated object counts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*json.loads(args.child))
        return 0

    counts = [int(c) for c in args.counts.split(",")]
    rows = [row for count in counts for row in measure(count)]

    def pick(count: int, mode: str) -> dict[str, Any]:
        return next(r for r in rows if r["objects"] == count and r["mode"] == mode)

    wall = Result(
        "prefix_walk_wall", "Walk + submit N keys from S3: wall time", ylabel="seconds (lower is better)"
    )
    mem = Result(
        "prefix_walk_rss",
        "Walk + submit N keys from S3: peak RSS above the floor",
        ylabel="MB (lower is better)",
    )
    for r in rows:
        wall.point(r["mode"], r["objects"], r["seconds"])
        if r["mode"] != "boto3 paginator alone":
            mem.point(r["mode"], r["objects"], r["peak_mb"] - r["floor_mb"])
    n, small = counts[-1], counts[0]
    ours, paginator, mpx = pick(n, "ours"), pick(n, "boto3 paginator alone"), pick(n, "mpxpy file_job_new")
    ours_mb, mpx_mb = ours["peak_mb"] - ours["floor_mb"], mpx["peak_mb"] - mpx["floor_mb"]
    small_mb = pick(small, "ours")["peak_mb"] - pick(small, "ours")["floor_mb"]
    wall.rows.append(
        Row(
            f"Walk + submit {n:,} keys from S3: wall",
            "s",
            ours["seconds"],
            mpx["seconds"],
            "mpxpy + boto3 list",
            paginator["seconds"],
            "boto3 paginator alone",
            higher_is_better=False,
            goal="ours/floor <= 1.1",
            met=ours["seconds"] <= 1.1 * paginator["seconds"],
        )
    )
    mem.rows.append(
        Row(
            f"Walk + submit {n:,} keys from S3: peak RSS above floor",
            "MB",
            ours_mb,
            mpx_mb,
            "mpxpy + boto3 list",
            higher_is_better=False,
            goal=f"ours/anchor <= 0.5 and flat in N (at {small:,}: +{small_mb:.1f} MB)",
            met=ours_mb <= 0.5 * mpx_mb and ours_mb <= small_mb + 20,
        )
    )
    for result in (wall, mem):
        result.sizes = f"N = {args.counts}"
        result.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
