"""Emulator scale: accept and fully list a 200,000-item job, beside a 1,000-item baseline.

Runs the emulator as its own process (``python -m airflow_provider_mathpix.testing``)
so its memory is measured alone: peak RSS is sampled every 10 ms by psutil, and the
emulator's CPU seconds are printed beside wall time (wall time moves with the machine's
load; CPU time much less). Sources
are three small PDFs on a loopback server (the per-URI cache fetches each once), so
processing runs in the background while the job is listed, as in a real test.

    .venv/bin/python benchmarks/emulator_scale.py [--items 200000] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psutil
from _emulator import emulator_process
from _measure import Result, Row

from airflow_provider_mathpix.testing.outputs import minimal_pdf


class PeakRSS:
    """Samples a process's RSS in a thread; ``peak`` is the highest value seen."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> PeakRSS:
        self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop.clear()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


@contextmanager
def doc_server() -> Iterator[str]:
    docs = {f"/doc{i}.pdf": minimal_pdf([f"Document {i} page {p}" for p in range(1, 3)]) for i in range(3)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = docs.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()


def warm_up(client: httpx.Client, docs: str) -> None:
    """Convert one document first, so lazily imported modules (pypdf, ...) are in the idle figure."""
    fid = client.post("/files/v1/uri", json={"source_uri": f"{docs}/doc0.pdf"}).json()["file_id"]
    while client.get(f"/files/v1/{fid}").json()["status"] not in ("completed", "error"):
        time.sleep(0.05)


def run_job(
    client: httpx.Client, pid: int, job_id: str, n: int, docs: str, page_size: int
) -> dict[str, float]:
    """Accept ``n`` items in one call, list every page, wait for completion; returns seconds and peak RSS."""
    files = [{"source_uri": f"{docs}/doc{i % 3}.pdf", "custom_id": f"paper-{i:07d}"} for i in range(n)]
    body = json.dumps({"job_id": job_id, "files": files, "conversion_formats": {"md": True}}).encode()
    del files
    rss = psutil.Process(pid)
    before = rss.memory_info().rss
    cpu = lambda: sum(rss.cpu_times()[:2])  # noqa: E731 (user + system seconds of the emulator)
    with PeakRSS(pid) as peak:
        c0 = cpu()
        t0 = time.perf_counter()
        resp = client.post("/files/v1/jobs", content=body, headers={"content-type": "application/json"})
        resp.raise_for_status()
        assert resp.json()["file_count"] == n, resp.text
        accepted = time.perf_counter() - t0
        c1 = cpu()
        t1 = time.perf_counter()
        listed, token, pages = 0, None, 0
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if token:
                params["paging_state"] = token
            page = client.get(f"/files/v1/jobs/{job_id}/files", params=params).json()
            listed += len(page["files"])
            pages += 1
            token = page["next_page_token"]
            if not token:
                break
        listing = time.perf_counter() - t1
        c2 = cpu()
        while client.get(f"/files/v1/jobs/{job_id}").json()["status"] != "completed":
            time.sleep(0.2)
        completed = time.perf_counter() - t0
        t3 = time.perf_counter()
        errors = client.get(f"/files/v1/jobs/{job_id}/files", params={"status": "error"}).json()
        filtered = time.perf_counter() - t3
    assert listed == n, (listed, n)
    assert errors["files"] == [], errors
    return {
        "items": n,
        "accept_s": accepted,
        "list_s": listing,
        "pages": pages,
        "accept_cpu_s": c1 - c0,
        "list_cpu_s": c2 - c1,
        "completed_s": completed,
        "error_filter_s": filtered,
        "rss_before_mb": before / 1e6,
        "peak_rss_mb": peak.peak / 1e6,
        "request_mb": len(body) / 1e6,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=200_000)
    p.add_argument("--baseline-items", type=int, default=1_000)
    p.add_argument("--page-size", type=int, default=1000)
    args = p.parse_args()
    with (
        doc_server() as docs,
        emulator_process() as (url, pid),
        httpx.Client(base_url=url, headers={"app_key": "bench"}, timeout=300) as client,
    ):
        warm_up(client, docs)
        idle = psutil.Process(pid).memory_info().rss / 1e6
        base = run_job(client, pid, "baseline", args.baseline_items, docs, args.page_size)
        big = run_job(client, pid, "scale", args.items, docs, args.page_size)
        stats = client.get("/_emulator/stats").json()
    print(f"emulator idle RSS after one warm-up conversion: {idle:.1f} MB (page size {args.page_size})")
    for row in (base, big):
        print(
            f"{row['items']:>8,} items: accept {row['accept_s']:.2f} s, list {row['list_s']:.2f} s "
            f"({row['pages']:.0f} pages), total {row['accept_s'] + row['list_s']:.2f} s "
            f"(emulator CPU: accept {row['accept_cpu_s']:.2f} s, list {row['list_cpu_s']:.2f} s "
            "incl. background processing); "
            f"all files completed {row['completed_s']:.2f} s after submission; "
            f"status=error page over the whole job {row['error_filter_s'] * 1000:.1f} ms; "
            f"peak RSS {row['peak_rss_mb']:.1f} MB (+{row['peak_rss_mb'] - idle:.1f} MB over idle); "
            f"request body {row['request_mb']:.1f} MB"
        )
    scale = big["items"] / base["items"]
    t_ratio = (big["accept_s"] + big["list_s"]) / (base["accept_s"] + base["list_s"])
    print(
        f"ratios: {scale:.0f}x the items took {t_ratio:.0f}x the time; "
        f"peak RSS {big['peak_rss_mb'] / idle:.1f}x idle; "
        f"{(big['peak_rss_mb'] - idle) * 1e6 / big['items']:.0f} bytes of peak RSS per item"
    )
    print(f"sources fetched: {stats['sources_fetched']}, cache hits: {stats['source_cache_hits']}")
    result = Result(
        "emulator_scale", "The emulator itself: accept + list N items", ylabel="items/s (higher is better)"
    )
    for row in (base, big):
        result.point("emulator accept + list", row["items"], row["items"] / (row["accept_s"] + row["list_s"]))
    result.rows.append(
        Row(
            f"Emulator (the limit): accept + list {big['items']:,} items",
            "items/s",
            big["items"] / (big["accept_s"] + big["list_s"]),
            note=f"peak RSS {big['peak_rss_mb']:.0f} MB; done {big['completed_s']:.1f} s after submission",
        )
    )
    result.sizes = f"N = {args.baseline_items},{args.items}"
    result.emit()


if __name__ == "__main__":
    main()
