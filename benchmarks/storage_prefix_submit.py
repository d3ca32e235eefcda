"""Walk + submit a whole S3 prefix as one job: ours beside boto3's paginator and mpxpy, against N.

Usage::

    .venv/bin/python benchmarks/storage_prefix_submit.py [--counts 10000,50000] [--synthetic-counts 1000000]

``--counts`` are walked from moto; ``--synthetic-counts`` (the scaling points, e.g. the
1,000,000-key one, too big for moto) from ``_listing_server.py``; either may be empty
(``--counts ""``). The rows: wall time at the largest point (ours vs the paginator alone),
peak RSS above the floor at the largest point mpxpy ran (ours <= 0.5x mpxpy), and at the
largest point against the smallest (flat in N: <= the smallest's + 20 MB). The
1,000,000-key point is not in ``run_all.py``'s suite (three walks of a million keys plus
20 submits of 50,000, several minutes even on a quiet machine); run it alone::

    .venv/bin/python benchmarks/storage_prefix_submit.py --counts "" --synthetic-counts 10000,50000,1000000

(``--mpxpy-max 50000`` leaves mpxpy out above 50,000 keys if its million-dict list does
not fit the time.) Measured so on a shared 2-core machine (``--mpxpy-max 50000``): peak RSS
above the floor, ours +3.0 MB at 10,000, +8.9 MB at 50,000 (mpxpy +35.0 MB), +18.9 MB
at 1,000,000; wall at 1,000,000: ours 196 s (116 s CPU), the paginator alone 289 s
(274 s CPU: botocore's XML and timestamp parsing); the whole run took about 12 minutes.
The emulator accepts a million items in 20 calls; it holds ~700 bytes per item
(docs/emulator.md, "Scale"), ~0.7 GB in its own process, not counted here.

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
- Scaling points (``--synthetic-counts``) list from a loopback server that generates
  ``ListObjectsV2`` pages of synthetic keys on the fly (``_listing_server.py``): moto can
  neither hold nor list a million keys in reasonable time. Same clients, same emulator.

What ours holds, and why it is flat in N: each chunk is encoded item by item into one
body (``JobBody``: ~80 bytes per item, ~4 MB for 50,000, never a list of item dicts
plus its JSON); the duplicate-``custom_id`` check keeps 12 bytes per item in a sorted
NumPy array (``CompactDigests``: ~14 MB at a million with its filter, where a ``set`` took ~90 MB); and
the S3 listing leaves ``LastModified`` as text (botocore's dateutil parse was half the
walk's CPU), parsed only when a time window asks for it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _emulator import emulator_process
from _listing_server import listing_server
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
    began, cpu = time.perf_counter(), time.process_time()
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
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    figures = {"file_count": count, "seconds": elapsed, "cpu_seconds": cpu}
    print(json.dumps({**figures, "floor_mb": floor, "peak_mb": peak_rss_mb()}))


@contextlib.contextmanager
def source(count: int, synthetic: bool) -> Iterator[tuple[str, str, dict[str, str]]]:
    """``count`` keys under ``s3://bench-src/docs/``: (Mathpix URI of the prefix, endpoint, Airflow env)."""
    if synthetic:
        from airflow_provider_mathpix.testing.connection_env import s3_connection_env

        with listing_server(BUCKET, PREFIX, count) as endpoint:
            yield f"s3://{BUCKET}/{PREFIX}", endpoint, s3_connection_env(endpoint)
        return
    from airflow_provider_mathpix.testing.storage_servers import seeded_moto_s3_server

    with seeded_moto_s3_server(BUCKET, PREFIX, count) as s3:
        yield s3.uri(BUCKET, PREFIX), s3.endpoint_url, s3.airflow_env


def measure(count: int, synthetic: bool = False, modes: tuple[str, ...] = MODES) -> list[dict[str, Any]]:
    """One bucket of ``count`` objects; each mode in its own fresh child."""
    rows = []
    with source(count, synthetic) as (uri, endpoint, storage_env), emulator_process() as (url, _pid):
        env = {
            **os.environ,
            **storage_env,
            "AIRFLOW_CONN_MATHPIX_DEFAULT": json.dumps(
                {"conn_type": "mathpix", "host": url, "password": APP_KEY}
            ),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
        env.setdefault("AIRFLOW_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "mathpix-bench-airflow"))
        for mode in modes:
            spec = json.dumps([mode, uri, endpoint, url])
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
            row = {"objects": count, "mode": mode, "synthetic": synthetic, **figures}
            print(
                f"{count:>9,} objects{' (synthetic listing)' if synthetic else ''}, {mode:<22}: "
                f"{row['seconds']:7.1f} s ({count / row['seconds']:,.0f} objects/s, "
                f"{row['cpu_seconds']:.1f} s CPU); RSS floor {row['floor_mb']:.0f} MB, "
                f"peak {row['peak_mb']:.0f} MB (+{row['peak_mb'] - row['floor_mb']:.1f} MB)",
                flush=True,
            )
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="10000,50000", help="comma-separated object counts (moto)")
    parser.add_argument(
        "--synthetic-counts", default="", help="comma-separated counts listed from the synthetic server"
    )
    parser.add_argument(
        "--mpxpy-max", type=int, default=1_000_000, help="skip the mpxpy anchor above this many keys"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*json.loads(args.child))
        return 0

    counts = [int(c) for c in args.counts.split(",") if c]
    synthetic = [int(c) for c in args.synthetic_counts.split(",") if c]
    if not counts and not synthetic:
        raise SystemExit("give --counts and/or --synthetic-counts")

    def modes(count: int) -> tuple[str, ...]:
        return MODES if count <= args.mpxpy_max else tuple(m for m in MODES if not m.startswith("mpxpy"))

    rows = [row for count in counts for row in measure(count, modes=modes(count))]
    rows += [row for count in synthetic for row in measure(count, synthetic=True, modes=modes(count))]
    points = [(count, False) for count in counts] + [(count, True) for count in synthetic]

    def pick(point: tuple[int, bool], mode: str) -> dict[str, Any] | None:
        count, fake = point
        return next(
            (r for r in rows if r["objects"] == count and r["mode"] == mode and r["synthetic"] == fake), None
        )

    def above(row: dict[str, Any] | None) -> float | None:
        return None if row is None else float(row["peak_mb"] - row["floor_mb"])

    def label(point: tuple[int, bool]) -> str:
        return f"{point[0]:,} keys" + (" (synthetic listing)" if point[1] else "")

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
    small, big = points[0], points[-1]
    small_mb = above(pick(small, "ours"))
    assert small_mb is not None
    # Wall time at the largest point: ours against the paginator alone (and mpxpy) of that run.
    ours, paginator, mpx = (pick(big, mode) for mode in ("ours", MODES[0], MODES[1]))
    assert ours is not None and paginator is not None
    wall.rows.append(
        Row(
            f"Walk + submit {label(big)} from S3: wall",
            "s",
            ours["seconds"],
            None if mpx is None else mpx["seconds"],
            "mpxpy + boto3 list",
            paginator["seconds"],
            "boto3 paginator alone",
            higher_is_better=False,
            goal="ours/floor <= 1.1",
            met=ours["seconds"] <= 1.1 * paginator["seconds"],
            note=f"CPU: ours {ours['cpu_seconds']:.1f} s, paginator {paginator['cpu_seconds']:.1f} s",
        )
    )
    # Memory against mpxpy at the largest point it ran at, and flat in N up to the largest point.
    anchored = [point for point in points if pick(point, MODES[1]) is not None][-1]
    ours_mb, mpx_mb = above(pick(anchored, "ours")), above(pick(anchored, MODES[1]))
    assert ours_mb is not None and mpx_mb is not None
    mem.rows.append(
        Row(
            f"Walk + submit {label(anchored)} from S3: peak RSS above floor",
            "MB",
            ours_mb,
            mpx_mb,
            "mpxpy + boto3 list",
            higher_is_better=False,
            goal="ours/anchor <= 0.5",
            met=ours_mb <= 0.5 * mpx_mb,
        )
    )
    if big != small:
        big_mb = above(ours)
        assert big_mb is not None
        mem.rows.append(
            Row(
                f"Walk + submit {label(big)} from S3: peak RSS above floor, flat in N",
                "MB",
                big_mb,
                above(mpx),
                "mpxpy + boto3 list",
                higher_is_better=False,
                goal=f"<= ours at {label(small)} + 20 MB (= {small_mb + 20:.1f} MB)",
                met=big_mb <= small_mb + 20,
            )
        )
    sizes = "; ".join(
        part
        for part in (
            f"N = {args.counts}" if counts else "",
            f"synthetic listing N = {args.synthetic_counts}" if synthetic else "",
        )
        if part
    )
    for result in (wall, mem):
        result.sizes = sizes
        result.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
