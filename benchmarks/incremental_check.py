"""Peak memory of the "already converted?" check at 1,000,000 documents, beside a plain set.

Usage::

    .venv/bin/python benchmarks/incremental_check.py [--documents 1000000]

What it measures, and why it is fair:

- The parent writes a ledger of N converted documents into a temporary local folder
  through the provider's own writer (``ledger.write_segment``, 10 segments of N/10, as
  ten daily runs would leave).
- Three fresh child processes then each report their peak resident memory, read as
  ``VmHWM`` from ``/proc/<pid>/status`` (not ``ru_maxrss``):
  ``floor`` imports everything and reads an empty ledger; ``ledger`` reads the ledger the way
  ``skip_converted=True`` does (``ledger.read_converted``: one folder listing, each
  segment streamed into one sorted NumPy array) and checks a listing of N objects of
  which 10% are new, with the walk's own ``content_digest`` and the set's ``in``;
  ``python-set`` is the baseline: the same ledger content held as a Python ``set`` of the
  (source URI, identity) pairs' keys -- what a straightforward implementation keeps -- and
  the same listing checked against it.
- The listing is generated on the fly (nothing about it is held), so the difference
  between a child and the floor is what the check itself holds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _measure import Result, Row  # noqa: E402

SEGMENTS = 10
NEW_SHARE = 10  # one listed object in NEW_SHARE is not in the ledger


def vm_hwm_kib() -> int:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("VmHWM not found in /proc/<pid>/status")


def source(i: int) -> tuple[str, str]:
    return f"s3://bench/incoming/doc-{i:07d}.pdf", f"etag:{i:032x}"


def listing(documents: int) -> range:
    """Indexes of the listed objects: the last tenth are new (never converted)."""
    return range(documents // NEW_SHARE, documents + documents // NEW_SHARE)


def write_ledger(folder: str, documents: int) -> None:
    import numpy as np

    from airflow_provider_mathpix.incremental import content_digest
    from airflow_provider_mathpix.ledger import DigestBuffer, ledger_folder, write_segment

    target = ledger_folder(folder)
    per = documents // SEGMENTS
    for segment in range(SEGMENTS):
        buffer = DigestBuffer(per)
        for i in range(segment * per, (segment + 1) * per):
            buffer.append(content_digest(*source(i)))
        write_segment(target, f"airflow:bench:convert:day{segment:02d}", np.asarray(buffer.array()))


def child(mode: str, folder: str, documents: int) -> None:
    import airflow  # noqa: F401

    from airflow_provider_mathpix.incremental import content_digest
    from airflow_provider_mathpix.ledger import ledger_folder, read_converted

    # Every mode pays the same imports and filesystem set-up as the floor.
    empty = len(read_converted(ledger_folder(os.path.join(folder, "empty"))))
    content_digest(*source(0))
    began = time.perf_counter()
    new = 0
    if mode == "ledger":
        converted = read_converted(ledger_folder(folder))
        held = len(converted)
        for i in listing(documents):
            if content_digest(*source(i)) not in converted:
                new += 1
    elif mode == "python-set":
        seen = {"\n".join(source(i)) for i in range(documents)}
        held = len(seen)
        for i in listing(documents):
            if "\n".join(source(i)) not in seen:
                new += 1
    else:
        held = empty
    print(f"{mode} {vm_hwm_kib()} {held} {new} {time.perf_counter() - began:.2f}")


def run_child(mode: str, folder: str, documents: int) -> tuple[int, int, int, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--folder", folder, "--documents", str(documents)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[1]), int(out[2]), int(out[3]), float(out[4])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.documents)
        return
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        write_ledger(folder, args.documents)
        size = sum(f.stat().st_size for f in Path(folder).iterdir())
        print(
            f"ledger: {args.documents:,} documents in {SEGMENTS} segments, {size / 2**20:.1f} MiB on disk, "
            f"written in {time.perf_counter() - began:.1f} s"
        )
        floor = run_child("floor", folder, args.documents)[0]
        print(f"floor (imports, empty ledger): VmHWM {floor / 1024:.1f} MiB")
        above: dict[str, float] = {}
        for mode in ("ledger", "python-set"):
            peak, held, new, seconds = run_child(mode, folder, args.documents)
            above[mode] = (peak - floor) / 1024
            print(
                f"{mode:<11} VmHWM {peak / 1024:7.1f} MiB  "
                f"(+{(peak - floor) / 1024:6.1f} MiB over the floor, "
                f"{(peak - floor) * 1024 / max(held, 1):5.1f} B/document)  held {held:,}  "
                f"new {new:,} of {len(listing(args.documents)):,} listed  {seconds:.1f} s"
            )
    result = Result("incremental_check", "Already-converted check: peak memory above the floor", ylabel="MiB")
    result.rows.append(
        Row(
            f"Incremental check of {args.documents:,} documents: peak above floor",
            "MiB",
            above["ledger"],
            above["python-set"],
            "a Python set of the keys",
            higher_is_better=False,
        )
    )
    result.sizes = f"N = {args.documents:,}"
    result.emit()


if __name__ == "__main__":
    main()
