"""Wait for + download N outputs (40 ms link) into local disk and S3; store N outputs into S3.

Usage::

    .venv/bin/python benchmarks/storage_download.py [--sizes 100,300] [--latency 0.04] [--concurrency 16]

What it measures, and the anchors and floors measured in the same run:

- The Mathpix emulator runs in its own process; a moto S3 server subprocess is the
  bucket; the sources are one small PDF served over loopback HTTP. One job of N files
  (``md`` requested) is submitted and completed before any timing starts.
- *Wait + download, 40 ms link* (every output GET takes ``--latency`` longer, as across
  a network): ours is one ``get_job`` (the wait) then the download engine of
  ``MathpixDownloadOutputsOperator`` (``OutputDownloader`` over the completed files,
  ``--concurrency`` at once), into a local directory and into ``s3://``. The anchor is
  Mathpix's client mpxpy used as its docs show, sequentially: per file
  ``File.wait_until_complete()`` then ``save_file(..., "md")`` (local) or
  ``bytes_result("md")`` + boto3 ``put_object`` (S3). The floor is the link itself:
  ``N x latency / concurrency``.
- That ideal ignores CPU: the emulator and the client share the machine's cores. So each
  wait row also measures a *bare* client in the same run, interleaved with ours: plain
  ``httpx.AsyncClient`` GETs of the same outputs at the same concurrency, each written
  with ``open()`` + ``os.replace`` (local disk) or s3fs ``_pipe_file`` (S3), with the
  file_ids in hand (no listing, no retry, no skip check, no manifest record). Ours/bare is
  printed beside ours/ideal, with the CPU seconds per output (``time.process_time`` of
  this process over a run, divided by N) of each.
- *Store, no latency*: ours is the same engine into ``s3://`` (GET from the emulator +
  PUT). The anchors do the same work: a plain httpx GET of each output from the same
  emulator, then boto3 ``put_object`` from ``--concurrency`` threads, or an s3fs async
  ``_pipe_file`` pipeline bounded at ``--concurrency`` -- same moto, same bodies, same
  concurrency. The same two PUT-only (bodies in hand) are printed as the store step's floor.
- Into S3 over the link the store is a second limit: that row's ideal is the slower of
  ``N x latency / concurrency`` and ``N / (the faster PUT-only rate)`` of the same moto.
  Each wait row notes how many times faster than mpxpy the ideal itself is (the most any
  client at that concurrency can reach).
- Every run must write every output or the script fails.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _emulator import emulator_process  # noqa: E402
from _measure import Result, Row  # noqa: E402

APP_KEY = "bench-app-key"
APP_ID = "bench-app-id"
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


def ours(hook: Any, job_id: str, destination: str, concurrency: int) -> float:
    """The operator's path: confirm the job is complete, then the download engine."""
    from airflow_provider_mathpix.operators._download import OutputDownloader, _job_targets
    from airflow_provider_mathpix.storage import to_object_storage_path

    began = time.perf_counter()
    if hook.get_job(job_id)["status"] != "completed":
        raise SystemExit("the job is not complete")
    downloader = OutputDownloader(
        hook,
        to_object_storage_path(destination),
        destination,
        ["md"],
        concurrency=concurrency,
        format_poll_interval=0.1,
    )
    totals = asyncio.run(downloader.run(_job_targets(hook, job_id)))
    elapsed = time.perf_counter() - began
    if totals.written != totals.files or totals.failed:
        raise SystemExit(f"wrote {totals.written}/{totals.files}, failed {totals.failed}")
    return elapsed


def mpxpy_sequential(url: str, job_id: str, sink: Callable[[Any, str], None]) -> float:
    """Mathpix's client as documented: one file after the other, wait then download."""
    from mpxpy.file import File
    from mpxpy.mathpix_client import MathpixClient

    client = MathpixClient(app_id=APP_ID, app_key=APP_KEY, api_url=url)
    began = time.perf_counter()
    for record in client.file_job_get(job_id).files_iter():
        mpx_file = File(client.auth, record["file_id"])
        if not mpx_file.wait_until_complete(timeout=60):
            raise SystemExit(f"mpxpy: {record['file_id']} did not complete")
        sink(mpx_file, record.get("custom_id") or record["file_id"])
    return time.perf_counter() - began


def boto3_client(s3: Any, concurrency: int) -> Any:
    import boto3
    from botocore.config import Config

    cfg = s3.bucket_store_config["s3"]
    return boto3.client(
        "s3",
        endpoint_url=cfg["endpoint_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(max_pool_connections=concurrency),
    )


#: (emulator URL, file_ids): the anchors GET each output first, as ours does.
Fetch = tuple[str, list[str]]
HEADERS = {"app_id": APP_ID, "app_key": APP_KEY}


def _fetch(client: Any, url: str, file_id: str) -> bytes:
    resp = client.get(f"{url}/files/v1/{file_id}.md", headers=HEADERS)
    resp.raise_for_status()
    return bytes(resp.content)


def boto3_puts(
    client: Any,
    prefix: str,
    bodies: list[bytes],
    concurrency: int,
    fetch: Fetch | None = None,
) -> float:
    """``put_object`` from ``concurrency`` threads; with ``fetch`` (url, file_ids) each body is
    first GET from the emulator with plain httpx (the same work as ours)."""
    import httpx

    began = time.perf_counter()
    with httpx.Client(limits=httpx.Limits(max_connections=concurrency)) as web:

        def one(i: int) -> None:
            body = _fetch(web, fetch[0], fetch[1][i]) if fetch else bodies[i]
            client.put_object(Bucket=OUT_BUCKET, Key=f"{prefix}/doc-{i}.md", Body=body)

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(len(bodies))))
    return time.perf_counter() - began


def s3fs_pipe(
    s3: Any, prefix: str, bodies: list[bytes], concurrency: int, fetch: Fetch | None = None
) -> float:
    """s3fs ``_pipe_file`` bounded at ``concurrency`` on one loop; with ``fetch`` each body is
    first GET from the emulator with plain httpx (the same work as ours)."""
    import httpx
    import s3fs

    cfg = s3.bucket_store_config["s3"]

    async def run() -> float:
        fs = s3fs.S3FileSystem(
            key="testing",
            secret="testing",
            client_kwargs={"endpoint_url": cfg["endpoint_url"], "region_name": "us-east-1"},
            asynchronous=True,
            skip_instance_cache=True,
        )
        session = await fs.set_session()
        slots = asyncio.Semaphore(concurrency)
        web = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency))

        async def put(i: int) -> None:
            async with slots:
                body = bodies[i]
                if fetch:
                    resp = await web.get(
                        f"{fetch[0]}/files/v1/{fetch[1][i]}.md",
                        headers={"app_id": APP_ID, "app_key": APP_KEY},
                    )
                    resp.raise_for_status()
                    body = resp.content
                await fs._pipe_file(f"{OUT_BUCKET}/{prefix}/doc-{i}.md", body)

        began = time.perf_counter()
        await asyncio.gather(*(put(i) for i in range(len(bodies))))
        elapsed = time.perf_counter() - began
        await web.aclose()
        await session.close()
        return elapsed

    return asyncio.run(run())


def bare_local(url: str, file_ids: list[str], directory: str, concurrency: int) -> float:
    """The machine's floor into local disk: plain ``httpx.AsyncClient`` GETs, ``concurrency``
    at once, each body written with ``open()`` + ``os.replace`` beside its final name --
    no retry, no error mapping, no skip check, no manifest record (the file_ids in hand)."""
    import httpx

    os.makedirs(directory, exist_ok=True)

    async def run() -> float:
        slots = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as web:

            async def one(i: int) -> None:
                async with slots:
                    resp = await web.get(f"{url}/files/v1/{file_ids[i]}.md", headers=HEADERS)
                    resp.raise_for_status()
                    final = os.path.join(directory, f"doc-{i}.md")
                    with open(final + ".part", "wb") as out:
                        out.write(resp.content)
                    os.replace(final + ".part", final)

            began = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(len(file_ids))))
            return time.perf_counter() - began

    return asyncio.run(run())


class CpuTimed:
    """Wall seconds of a run, and this process's CPU seconds over it (``time.process_time``)."""

    def __init__(self, run: Callable[[], float]) -> None:
        self.run = run
        self.cpu: list[float] = []

    def __call__(self, _: int) -> float:
        began = time.process_time()
        elapsed = self.run()
        self.cpu.append(time.process_time() - began)
        return elapsed

    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


def median_of(repeat: int, run: Callable[[int], float]) -> float:
    return statistics.median(run(i) for i in range(repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,300", help="comma-separated file counts (N)")
    parser.add_argument("--latency", type=float, default=0.04, help="seconds added to each output GET")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="median of this many timed runs")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    c = args.concurrency

    import httpx

    from airflow_provider_mathpix.testing.storage_servers import create_bucket, moto_s3_server

    pdf_url, pdf_server = serve_pdf()
    wait = Result(
        "storage_download",
        f"Wait for + download N outputs over a {args.latency * 1000:.0f} ms link",
        ylabel="seconds (lower is better)",
    )
    store = Result(
        "storage_store",
        "Store N outputs into S3 (moto), no added latency",
        ylabel="outputs/s (higher is better)",
    )
    with moto_s3_server() as s3, emulator_process() as (url, _pid), tempfile.TemporaryDirectory() as local:
        os.environ.update(s3.airflow_env)
        os.environ["AIRFLOW_CONN_MATHPIX_DEFAULT"] = json.dumps(
            {"conn_type": "mathpix", "host": url, "password": APP_KEY, "login": APP_ID}
        )
        create_bucket(s3, OUT_BUCKET)
        boto = boto3_client(s3, c)
        from airflow_provider_mathpix.hooks.mathpix import MathpixHook

        hook = MathpixHook()
        jobs: dict[int, str] = {}
        for n in sizes:
            items = ({"source_uri": f"{pdf_url}/doc-{i}.pdf", "custom_id": f"doc-{i}"} for i in range(n))
            jobs[n] = hook.submit_job(items, job_id=f"bench-download-{n}", conversion_formats={"md": True})[
                "job_id"
            ]
        for job_id in jobs.values():
            while hook.get_job(job_id)["status"] != "completed":
                time.sleep(0.2)
        time.sleep(0.5)  # formats finish just after their file
        body = hook.download_output(
            next(iter(hook.iter_job_files(jobs[sizes[0]], status="completed")))["file_id"], "md"
        )
        ours(hook, jobs[sizes[0]], s3.uri(OUT_BUCKET, "warm-up"), c)  # imports, pools, the S3 filesystem

        def set_latency(seconds: float) -> None:
            rules = [{"method": "GET", "path": "/files/v1/*.md", "kind": "latency", "latency": seconds}]
            httpx.put(f"{url}/_emulator/faults", json=rules if seconds else []).raise_for_status()

        run_no = iter(range(10**6))
        for n in sizes:
            job_id = jobs[n]
            file_ids = [str(r["file_id"]) for r in hook.iter_job_files(job_id, status="completed")]
            fetch = (url, file_ids)
            bodies = [body] * n

            # The store, no added latency. Ours downloads each output from the emulator and
            # writes it; so do both anchors (plain httpx GET, then boto3 from threads / s3fs
            # on one loop): same emulator, same moto, same bodies, same concurrency. The
            # PUT-only figures of the same two are the store step's own floor.
            set_latency(0.0)
            provider_rate = n / median_of(
                args.repeat,
                lambda _, j=job_id, n=n: ours(hook, j, s3.uri(OUT_BUCKET, f"store-{n}-{next(run_no)}"), c),
            )
            boto_rate = n / median_of(
                args.repeat,
                lambda _, n=n, b=bodies, f=fetch: boto3_puts(boto, f"boto3-{n}-{next(run_no)}", b, c, f),
            )
            pipe_rate = n / median_of(
                args.repeat,
                lambda _, n=n, b=bodies, f=fetch: s3fs_pipe(s3, f"s3fs-{n}-{next(run_no)}", b, c, f),
            )
            boto_put = n / median_of(
                args.repeat, lambda _, n=n, b=bodies: boto3_puts(boto, f"boto3p-{n}-{next(run_no)}", b, c)
            )
            pipe_put = n / median_of(
                args.repeat, lambda _, n=n, b=bodies: s3fs_pipe(s3, f"s3fsp-{n}-{next(run_no)}", b, c)
            )
            best = max(boto_rate, pipe_rate)
            store.point("ours (GET + PUT)", n, provider_rate)
            store.point("httpx GET + boto3 PUT threads", n, boto_rate)
            store.point("httpx GET + s3fs async pipe", n, pipe_rate)
            store.point("boto3 PUT only", n, boto_put)
            store.point("s3fs pipe PUT only", n, pipe_put)
            print(
                f"N={n:,} store (GET + PUT): ours {provider_rate:.1f}/s, httpx+boto3 {boto_rate:.1f}/s, "
                f"httpx+s3fs {pipe_rate:.1f}/s ({provider_rate / best:.2f}x the faster); "
                f"PUT only: boto3 {boto_put:.1f}/s, s3fs {pipe_put:.1f}/s",
                flush=True,
            )
            if n == sizes[-1]:
                store.rows.append(
                    Row(
                        f"Store {n:,} outputs into S3 (GET from the emulator + PUT), c={c}, no latency",
                        "outputs/s",
                        provider_rate,
                        boto_rate,
                        "httpx GET + boto3 PUT threads",
                        pipe_rate,
                        "httpx GET + s3fs async pipe",
                        goal="ours >= 0.8x the faster of anchor and floor",
                        met=provider_rate >= 0.8 * best,
                        note=f"PUT only, same bodies: boto3 {boto_put:.1f}/s, s3fs {pipe_put:.1f}/s",
                    )
                )

            # Wait + download over the link. Into S3 the store is a second limit: the ideal is
            # the slower of the link (N x RTT / c) and the store alone (N / the faster PUT-only
            # rate of the same moto), as the GETs of some outputs overlap the PUTs of others.
            set_latency(args.latency)
            link = n * args.latency / c
            for where in ("local disk", "S3"):
                floor = link if where == "local disk" else max(link, n / max(boto_put, pipe_put))

                def dest(tag: str, n: int = n, where: str = where) -> str:
                    key = f"{tag}-{n}-{next(run_no)}"
                    return f"file://{local}/{key}" if where == "local disk" else s3.uri(OUT_BUCKET, key)

                def to_local(mpx_file: Any, name: str, n: int = n) -> None:
                    directory = Path(local) / f"mpxpy-{n}"
                    directory.mkdir(exist_ok=True)
                    mpx_file.save_file(str(directory / f"{name}.md"), "md")

                def to_s3(mpx_file: Any, name: str, n: int = n) -> None:
                    boto.put_object(
                        Bucket=OUT_BUCKET, Key=f"mpxpy-{n}/{name}.md", Body=mpx_file.bytes_result("md")
                    )

                timed_ours = CpuTimed(lambda j=job_id, d=dest: ours(hook, j, d("ours"), c))
                if where == "local disk":
                    timed_bare = CpuTimed(
                        lambda d=dest, f=file_ids: bare_local(url, f, d("bare").removeprefix("file://"), c)
                    )
                    bare_name = "bare httpx + open/os.replace"
                else:
                    timed_bare = CpuTimed(
                        lambda n=n, b=bodies, f=fetch: s3fs_pipe(s3, f"bare-{n}-{next(run_no)}", b, c, f)
                    )
                    bare_name = "bare httpx GET + s3fs async pipe"
                # Interleaved, so both see the same load: ours, bare, ours, bare, ...
                provider_runs, bare_runs = [], []
                for i in range(args.repeat):
                    provider_runs.append(timed_ours(i))
                    bare_runs.append(timed_bare(i))
                provider = statistics.median(provider_runs)
                bare = statistics.median(bare_runs)
                cpu_ours = timed_ours.cpu_median() / n * 1000
                cpu_bare = timed_bare.cpu_median() / n * 1000
                anchor = median_of(
                    args.repeat,
                    lambda _, j=job_id, sink=to_local if where == "local disk" else to_s3: mpxpy_sequential(
                        url, j, sink
                    ),
                )
                ratio = anchor / provider
                possible = anchor / floor  # the most any client at concurrency c can beat mpxpy by
                floor_name = f"ideal N x RTT/{c}" + ("" if where == "local disk" else " or N / PUT rate")
                wait.point(f"ours into {where}", n, provider)
                wait.point(f"mpxpy sequential into {where}", n, anchor)
                wait.point(f"{floor_name} ({where})", n, floor)
                wait.point(f"{bare_name} ({where})", n, bare)
                if n == sizes[-1]:
                    wait.rows.append(
                        Row(
                            f"Wait for + download {n:,} outputs, {args.latency * 1000:.0f} ms link, "
                            f"into {where}",
                            "s",
                            provider,
                            anchor,
                            "mpxpy sequential",
                            floor,
                            floor_name,
                            higher_is_better=False,
                            goal="ours/anchor <= 0.04 (25x faster), ours/floor <= 1.5",
                            met=ratio >= 25 and provider <= 1.5 * floor,
                            note=f"{bare_name} in the same run: {bare:.2f} s, ours/bare "
                            f"{provider / bare:.2f}; CPU per output ours {cpu_ours:.2f} ms, bare "
                            f"{cpu_bare:.2f} ms; at c={c} the ideal itself is {possible:.1f}x mpxpy: "
                            f"25x needs c >= {25 * c / possible:.0f}",
                        )
                    )
                print(
                    f"N={n:,} {where}: ours {provider:.2f} s, mpxpy {anchor:.2f} s ({ratio:.1f}x), "
                    f"ideal {floor:.2f} s ({provider / floor:.2f}x ideal, itself {possible:.1f}x mpxpy), "
                    f"{bare_name} {bare:.2f} s ({provider / bare:.2f}x bare); "
                    f"CPU/output ours {cpu_ours:.2f} ms, bare {cpu_bare:.2f} ms",
                    flush=True,
                )

        hook.close()
        pdf_server.shutdown()
    sizes_text = f"N = {args.sizes}, concurrency {c}, median of {args.repeat}"
    wait.sizes = store.sizes = sizes_text
    wait.emit()
    store.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
