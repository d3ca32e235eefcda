"""A loopback S3-compatible listing server of synthetic keys, for walks too big for moto.

moto keeps every object in memory and lists a prefix by scanning its whole bucket, so a
million keys take minutes to seed and each page slows down with the bucket. The walk
makes one kind of call, ``ListObjectsV2`` (``GET /{bucket}?list-type=2&prefix=…``), so
this server answers that call alone, generating each page of ``{prefix}doc-{i:07d}.pdf``
keys on the fly (with ``ETag``, ``LastModified``, ``Size``, ``StorageClass``, as S3
does) and nothing else. It runs in its own process, so its memory and CPU stay out of
the client's figures.

Run: ``python benchmarks/_listing_server.py PORT BUCKET PREFIX COUNT``.
"""

from __future__ import annotations

import contextlib
import sys
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE_MAX = 1000
_ENTRY = (
    "<Contents><Key>{prefix}doc-{i:07d}.pdf</Key><LastModified>2026-05-01T10:{m:02d}:{s:02d}.000Z"
    '</LastModified><ETag>"{i:032x}"</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass>'
    "</Contents>"
)


def key_of(prefix: str, index: int) -> str:
    return f"{prefix}doc-{index:07d}.pdf"


def page(bucket: str, prefix: str, count: int, query: dict[str, str]) -> bytes:
    """One ``ListObjectsV2`` page: keys from the continuation token (an index) on."""
    asked = query.get("prefix", "")
    limit = min(int(query.get("max-keys", PAGE_MAX)), PAGE_MAX)
    start = int(query.get("continuation-token", "0"))
    if not prefix.startswith(asked):  # the walk always asks for the whole synthetic prefix
        start, end = count, count
    else:
        end = min(count, start + limit)
    entries = "".join(
        _ENTRY.format(prefix=prefix, i=i, m=(i // 60) % 60, s=i % 60, size=1000 + i % 9000)
        for i in range(start, end)
    )
    truncated = end < count
    token = f"<NextContinuationToken>{end}</NextContinuationToken>" if truncated else ""
    given = query.get("continuation-token")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{bucket}</Name><Prefix>{asked}</Prefix><KeyCount>{end - start}</KeyCount>"
        f"<MaxKeys>{limit}</MaxKeys><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
        + (f"<ContinuationToken>{given}</ContinuationToken>" if given else "")
        + token
        + entries
        + "</ListBucketResult>"
    )
    return body.encode()


def serve(port: int, bucket: str, prefix: str, count: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            if url.path.strip("/") == bucket and query.get("list-type") == "2":
                status, body = 200, page(bucket, prefix, count, query)
            elif url.path == "/_ready":
                status, body = 200, b"ok"
            else:
                status, body = 501, b"<Error><Code>NotImplemented</Code></Error>"
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


@contextlib.contextmanager
def listing_server(bucket: str, prefix: str, count: int) -> Iterator[str]:
    """Run the server in a process of its own until the block ends; yields its endpoint URL."""
    from airflow_provider_mathpix.testing.processes import free_port, running, start_process

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, __file__, str(port), bucket, prefix, str(count)]
    proc, log_path = start_process(cmd, f"{endpoint}/_ready", "synthetic listing server")
    with running(proc, log_path):
        yield endpoint


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]))
