"""Helpers of the contract tests (importable because conftest.py puts this folder on sys.path).

No provider code is imported here: these tests pin the HTTP contract of
``mathpix-api.md`` as the emulator serves it.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

APP_KEY = "contract-test-key"


def make_pdf(pages: list[str]) -> bytes:
    """A real PDF with one text line per page (reportlab, independent of the emulator's own writer)."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for text in pages:
        c.drawString(72, 720, text)
        c.showPage()
    c.save()
    return buf.getvalue()


def make_docx(paragraphs: list[str]) -> bytes:
    """A minimal DOCX package (what a word processor writes, reduced to the required parts)."""
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        zf.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>",
        )
    return buf.getvalue()


PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class DocServer:
    """A loopback HTTP server: ``routes`` maps a path to (status, body, content type)."""

    base: str
    routes: dict[str, tuple[int, bytes, str]]
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@dataclass
class Receiver:
    """Captured webhook POSTs; answers ``status`` to each."""

    url: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    def wait(self, n: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.calls


def wait_until(fn: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
    """Poll ``fn`` until it returns something truthy (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_file(
    client: httpx.Client, file_id: str, timeout: float = 15.0, *, formats: bool = False
) -> dict[str, Any]:
    """Poll a file until it is terminal (and, with ``formats``, every requested format is done)."""

    def done() -> dict[str, Any] | None:
        body = client.get(f"/files/v1/{file_id}").json()
        if body["status"] not in ("completed", "error"):
            return None
        if formats and any(v != "completed" for v in body["formats"].values()):
            return None
        return body

    body = wait_until(done, timeout)
    assert body, f"file {file_id} did not finish"
    return body


def wait_job(client: httpx.Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = client.get(f"/files/v1/jobs/{job_id}").json()
        return body if body["status"] == "completed" else None

    body = wait_until(done, timeout, interval=0.05)
    assert body, f"job {job_id} did not complete"
    return body


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The Files API envelope: exact status, ``error`` and ``error_info.id`` equal to ``code``, a message."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == code, body
    assert body["error_info"]["id"] == code, body
    assert isinstance(body["error_info"]["message"], str) and body["error_info"]["message"], body
    return body
