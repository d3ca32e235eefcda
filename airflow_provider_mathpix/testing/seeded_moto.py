"""The subprocess behind ``storage_servers.seeded_moto_s3_server``: moto with objects already in place.

``python -m airflow_provider_mathpix.testing.seeded_moto HOST PORT BUCKET PREFIX COUNT BODY_FILE``
writes ``COUNT`` objects straight into moto's backend, then serves S3 over HTTP until
SIGTERM. Uploading them through the S3 API would cost a request per object (minutes
for 100,000+ objects on a small machine); this takes seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .connection_env import S3_REGION


def serve_seeded_moto(host: str, port: int, bucket: str, prefix: str, count: int, body_path: str) -> None:
    """Subprocess body of :func:`seeded_moto_s3_server`: seed the backend, then serve until SIGTERM."""
    import signal
    import threading

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    body = Path(body_path).read_bytes()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    backend.create_bucket(bucket, S3_REGION)
    for i in range(count):
        backend.put_object(bucket, f"{prefix}{i:07d}.pdf", body)
    index_listing(backend, bucket)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    stop.wait()
    server.stop()


def index_listing(backend: Any, seeded_bucket: str) -> None:
    """Serve ``ListObjectsV2`` of the seeded bucket from a sorted index (same answers, O(page)).

    moto re-sorts a bucket's every key on each page (O(n log n) per 1,000 keys), which
    makes walking 200,000 keys take many minutes and would dominate the very benchmark
    that measures the walker. The index answers the same pages; any other request (a
    delimiter, another bucket, or the bucket after keys were added) goes to moto as is.
    """
    import bisect
    import hashlib

    original = backend.list_objects_v2
    names = sorted(backend.get_bucket(seeded_bucket).keys.keys())

    def list_objects_v2(
        bucket: Any,
        prefix: str | None,
        delimiter: str | None,
        continuation_token: str | None,
        start_after: str | None,
        max_keys: int,
    ) -> Any:
        if delimiter or bucket.name != seeded_bucket or len(bucket.keys) != len(names) or max_keys <= 0:
            return original(
                bucket=bucket,
                prefix=prefix,
                delimiter=delimiter,
                continuation_token=continuation_token,
                start_after=start_after,
                max_keys=max_keys,
            )
        prefix = prefix or ""
        if continuation_token:
            i = bisect.bisect_right(names, backend._pagination_tokens.get(continuation_token) or "")
        elif start_after:
            i = bisect.bisect_right(names, start_after)
        else:
            i = bisect.bisect_left(names, prefix)
        i = max(i, bisect.bisect_left(names, prefix))
        page: list[Any] = []
        while i < len(names) and len(page) < max_keys and names[i].startswith(prefix):
            page.append(bucket.keys[names[i]])
            i += 1
        truncated = i < len(names) and names[i].startswith(prefix)
        token = None
        if truncated:
            token = hashlib.md5(page[-1].name.encode()).hexdigest()
            backend._pagination_tokens[token] = page[-1].name
        return page, truncated, token

    backend.list_objects_v2 = list_objects_v2


if __name__ == "__main__":
    if len(sys.argv) == 7:
        _host, _port, _bucket, _prefix, _count, _body = sys.argv[1:]
        serve_seeded_moto(_host, int(_port), _bucket, _prefix, int(_count), _body)
    else:
        sys.exit(
            "usage: python -m airflow_provider_mathpix.testing.seeded_moto "
            "HOST PORT BUCKET PREFIX COUNT BODY_FILE"
        )
