"""Mathpix's own client tests (mpxpy 0.0.23, from its source distribution) made runnable here.

The sdist is downloaded from the package registry at test time (cached under ``.tools/``,
never copied into this repository). Its test fixtures are Git-LFS pointer files in the
sdist, so they are swapped for small real documents generated here; the public sample
URLs its tests name (``https://mathpix-ocr-examples.s3.amazonaws.com/…``) are served by a
loopback server that the emulator reads them from (``public_hosts``).
"""

from __future__ import annotations

import ast
import hashlib
import io
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VERSION = "0.0.23"
SDIST = f"mpxpy-{VERSION}.tar.gz"
SDIST_SHA256 = "5113bab72f285867cde3ed698a54a8bb83b61f6b83af766e80910fee8a7f749d"
SAMPLE_HOST = "mathpix-ocr-examples.s3.amazonaws.com"
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"

# The 56 server-facing Files API and /v3/batch tests are these three files minus the
# legacy /files/v1/list and /files/v1/scs-jobs* endpoints (which this provider neither
# calls nor the emulator serves) and the two tests that read Mathpix's private bucket
# s3://mathpix-ocr-examples through Mathpix's own data source (no emulator holds that grant).
TEST_FILES = ("tests/test_files_api.py", "tests/test_batch.py", "tests/test_scs.py")
LEFT_OUT = {
    "tests/test_scs.py::test_file_upload_s3": "reads Mathpix's private bucket",
    "tests/test_scs.py::test_file_upload_s3_with_options": "reads and writes Mathpix's private bucket",
    "tests/test_scs.py::test_list_files_by_job_id": "legacy /files/v1/list",
    "tests/test_scs.py::test_list_files_by_filename": "legacy /files/v1/list",
    "tests/test_scs.py::test_list_files_pagination": "legacy /files/v1/list",
    "tests/test_scs.py::test_list_jobs": "legacy /files/v1/scs-jobs",
    "tests/test_scs.py::test_list_jobs_with_date_range": "legacy /files/v1/scs-jobs",
    "tests/test_scs.py::test_job_status": "legacy /files/v1/scs-jobs/status",
    "tests/test_scs.py::test_job_status_after_file_complete": "legacy /files/v1/scs-jobs/status",
}
EXPECTED_TESTS = 56


def selected_tests(root: Path) -> list[str]:
    """Node ids of the selected tests (module-level ``test_*`` functions of ``TEST_FILES``)."""
    ids = []
    for name in TEST_FILES:
        tree = ast.parse((root / name).read_text())
        ids += [f"{name}::{node.name}" for node in tree.body if isinstance(node, ast.FunctionDef)]
    return [node for node in ids if node.split("::")[1].startswith("test_") and node not in LEFT_OUT]


def sdist(cache_dir: Path) -> Path:
    """The sdist, downloaded once into ``cache_dir`` with pip (checked against its known digest)."""
    target = cache_dir / SDIST
    if not target.exists() or _sha256(target) != SDIST_SHA256:
        cache_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"mpxpy=={VERSION}",
                "--dest",
                str(cache_dir),
            ],
            check=True,
            timeout=300,
        )
    digest = _sha256(target)
    if digest != SDIST_SHA256:
        raise AssertionError(f"{target} has sha256 {digest}, expected {SDIST_SHA256}")
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unpack(archive: Path, into: Path) -> Path:
    """Extract the sdist; returns its root folder (holding ``tests/`` and ``pytest.ini``)."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / f"mpxpy-{VERSION}"


def sample_pdf(title: str) -> bytes:
    """A real two-page PDF with text and an equation line (reportlab)."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter)
    for page in (1, 2):
        pdf.drawString(72, 720, f"{title}, page {page}")
        pdf.drawString(72, 690, "The quadratic formula: x = (-b +- sqrt(b^2 - 4ac)) / 2a")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def sample_image(fmt: str, text: str) -> bytes:
    """A small real PNG or JPEG showing ``text`` (Pillow, a reportlab dependency)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (240, 60), "white")
    ImageDraw.Draw(img).text((10, 20), text, fill="black")
    buf = io.BytesIO()
    img.save(buf, format="JPEG" if fmt == "jpg" else "PNG")
    return buf.getvalue()


def swap_lfs_fixtures(root: Path) -> list[str]:
    """Replace every Git-LFS pointer PDF/PNG/JPEG under ``tests/files`` by a generated real file.

    Other pointer files (docx, pptx, epub, mobi) are read by none of the selected tests and
    stay as they are. Returns the swapped paths.
    """
    swapped = []
    for path in sorted((root / "tests" / "files").rglob("*")):
        if not path.is_file() or not path.read_bytes().startswith(LFS_POINTER):
            continue
        ext = path.suffix.lower().lstrip(".")
        if ext == "pdf":
            path.write_bytes(sample_pdf(path.stem))
        elif ext in ("png", "jpg", "jpeg"):
            path.write_bytes(sample_image("jpg" if ext != "png" else "png", path.stem))
        else:
            continue
        swapped.append(str(path.relative_to(root)))
    return swapped


def sample_site() -> dict[str, tuple[bytes, str]]:
    """The public sample URLs the selected tests name, by path (anything else is a 404)."""
    return {
        "/bitcoin-7.pdf": (sample_pdf("bitcoin-7"), "application/pdf"),
        "/algebra.jpg": (sample_image("jpg", "x^2 + 2x + 1"), "image/jpeg"),
        "/quadratic.jpg": (sample_image("jpg", "ax^2 + bx + c = 0"), "image/jpeg"),
    }


@contextmanager
def serve(site: dict[str, tuple[bytes, str]]) -> Iterator[str]:
    """Serve ``site`` on loopback; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = site.get(self.path.split("?", 1)[0])
            body, ctype = found if found else (b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
