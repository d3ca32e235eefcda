"""``python -m airflow_provider_mathpix.testing --port 8080``: run the emulator from a shell."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence

from .server import MathpixEmulator


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_mathpix.testing",
        description="A local Mathpix API emulator (Files API, data sources, webhooks, /v3/batch).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (0 = any free port; default 8080)")
    p.add_argument(
        "--app-key", action="append", dest="app_keys", help="accept only this app_key (repeatable)"
    )
    p.add_argument(
        "--app-id", action="append", dest="app_ids", help="accept only this app_id on /v3 (repeatable)"
    )
    p.add_argument(
        "--time-per-file", type=float, default=0.05, help="seconds pending per file after fetching"
    )
    p.add_argument("--time-per-page", type=float, default=0.02, help="seconds of 'split' per page")
    p.add_argument(
        "--format-lag", type=float, default=0.05, help="extra seconds before conversion formats are ready"
    )
    p.add_argument("--time-per-image", type=float, default=0.02, help="seconds per /v3/batch image")
    p.add_argument(
        "--jitter", type=float, default=0.0, help="spread processing times by ± this fraction per file"
    )
    p.add_argument(
        "--realistic", action="store_true", help="demo-like timing (2 s per file, 0.5 s per page, jitter 0.5)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fault coins (reproducible runs)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='a fault rule (repeatable), e.g. \'{"kind": "429_retry_after", "path": "/files/v1/*"}\'',
    )
    p.add_argument(
        "--storage",
        metavar="JSON",
        help=(
            'bucket endpoints, e.g. \'{"s3": {"endpoint_url": "http://127.0.0.1:5000"}}\' '
            "(keys s3, gs, azure; the MathpixEmulator(storage=...) setting)"
        ),
    )
    p.add_argument("--webhook-secret", help="the webhook signing secret (default: derived from --seed)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        faults = [json.loads(f) for f in args.fault]
        storage = json.loads(args.storage) if args.storage else None
    except ValueError as exc:
        print(f"invalid JSON in --fault/--storage: {exc}", file=sys.stderr)
        return 2
    tpf, tpp, jitter = (
        (2.0, 0.5, 0.5) if args.realistic else (args.time_per_file, args.time_per_page, args.jitter)
    )
    emu = MathpixEmulator(
        host=args.host,
        port=args.port,
        app_keys=args.app_keys,
        app_ids=args.app_ids,
        time_per_file=tpf,
        time_per_page=tpp,
        format_lag=args.format_lag,
        time_per_image=args.time_per_image,
        faults=faults,
        seed=args.seed,
        storage=storage,
        webhook_secret=args.webhook_secret,
        jitter=jitter,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emu:
        print(f"Mathpix emulator serving on {emu.url} (Ctrl-C to stop)", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
