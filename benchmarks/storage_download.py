"""Download throughput into S3 (files/s): concurrency 1 beside the default (16), same run.

Usage::

    .venv/bin/python benchmarks/storage_download.py [--files 200] [--latency 0.05]

What it measures, and why it is fair:

- The Mathpix emulator runs in its own process; a moto S3 server subprocess is the
  destination; the sources are one small PDF served over loopback HTTP.
- One job of ``--files`` files (``md`` requested) is submitted and waited for before any
  timing starts.
- Each timed run is the download engine of ``MathpixDownloadOutputsOperator``
  (``OutputDownloader`` over ``iter_job_files(status="completed")``), writing ``md`` of
  every file into a fresh S3 prefix through the amazon provider's ``s3://``
  ObjectStoragePath -- exactly what the operator's ``execute`` does, minus Airflow's task
  start-up. Every run must write every output, or the script fails.
- Two settings of the emulator: no added latency (loopback: the floor of per-request
  cost), and ``--latency`` seconds added to each download (closer to a real API across a
  network), where concurrency matters most. A rerun of the default run into the same
  prefix (every output present with the same size: skipped) is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import io
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _emulator import emulator_process  # noqa: E402
from storage_prefix_submit import APP_KEY  # noqa: E402

OUT_BUCKET = "bench-out"


def _pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.drawString(72, 720, "Download benchmark: $E = mc^2$")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def serve_pdf() -> tuple[str, http.server.ThreadingHTTPServer]:
    body = _pdf()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def run_download(hook: Any, job_id: str, prefix: str, concurrency: int) -> tuple[float, Any]:
    from airflow_provider_mathpix.operators.outputs import OutputDownloader, _job_targets
    from airflow_provider_mathpix.storage import to_object_storage_path

    dest = to_object_storage_path(prefix)
    downloader = OutputDownloader(
        hook, dest, prefix, ["md"], concurrency=concurrency, format_poll_interval=0.1
    )
    began = time.perf_counter()
    totals = asyncio.run(downloader.run(_job_targets(hook, job_id)))
    return time.perf_counter() - began, totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per download")
    args = parser.parse_args()

    import httpx

    from airflow_provider_mathpix.testing.storage_servers import create_bucket, moto_s3_server

    pdf_url, pdf_server = serve_pdf()
    with moto_s3_server() as s3, emulator_process() as (url, _pid):
        os.environ.update(s3.airflow_env)
        os.environ["AIRFLOW_CONN_MATHPIX_DEFAULT"] = json.dumps(
            {"conn_type": "mathpix", "host": url, "password": APP_KEY}
        )
        create_bucket(s3, OUT_BUCKET)
        from airflow_provider_mathpix.hooks.mathpix import MathpixHook

        hook = MathpixHook()
        items = ({"source_uri": f"{pdf_url}/doc-{i}.pdf", "custom_id": f"doc-{i}"} for i in range(args.files))
        job = hook.submit_job(items, job_id="bench-download", conversion_formats={"md": True})
        while hook.get_job(job["job_id"])["status"] != "completed":
            time.sleep(0.2)
        time.sleep(0.5)  # formats finish just after their file

        # Untimed warm-up: imports, the S3 filesystem, connection pools.
        run_download(hook, job["job_id"], s3.uri(OUT_BUCKET, "warm-up"), 16)
        rows = []
        for latency in (0.0, args.latency):
            faults = (
                []
                if not latency
                else [{"method": "GET", "path": "/files/v1/*.md", "kind": "latency", "latency": latency}]
            )
            httpx.put(f"{url}/_emulator/faults", json=faults).raise_for_status()
            for concurrency in (1, 16):
                prefix = s3.uri(OUT_BUCKET, f"lat{latency}/c{concurrency}")
                seconds, totals = run_download(hook, job["job_id"], prefix, concurrency)
                if totals.written != args.files or totals.failed:
                    raise SystemExit(f"wrote {totals.written}/{args.files}, failed {totals.failed}")
                rows.append((latency, concurrency, "write", seconds))
                if concurrency == 16:
                    seconds, totals = run_download(hook, job["job_id"], prefix, concurrency)
                    if totals.skipped != args.files:
                        raise SystemExit(f"rerun skipped {totals.skipped}/{args.files}")
                    rows.append((latency, concurrency, "rerun (all skipped)", seconds))
        pdf_server.shutdown()

    print(f"{args.files} files, md each, into s3:// (moto), emulator in its own process")
    base: dict[float, float] = {}
    for latency, concurrency, kind, seconds in rows:
        rate = args.files / seconds
        if concurrency == 1:
            base[latency] = rate
        extra = f"  ({rate / base[latency]:.1f}x concurrency 1)" if concurrency != 1 else "  (baseline)"
        print(
            f"added latency {latency * 1000:>4.0f} ms, concurrency {concurrency:>2}, {kind:<20}: "
            f"{rate:7.1f} files/s{extra}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
