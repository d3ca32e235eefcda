"""What a source document is, detected from its bytes, and the text the outputs are made of.

The emulator does no OCR: a PDF's text comes from pypdf (its real page count and
text layer), other office formats get a trivial text extraction from their XML.
Bytes that are no document (images, plain text, HTML, random data) are
``unsupported_format``, as the real service answers for inputs it does not take.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError

#: Characters of extracted text that count as one page for formats without pages.
CHARS_PER_PAGE = 3000
_TAG_RE = re.compile(r"<[^>]+>")
_WS_RE = re.compile(r"[ \t\r\f\v]+")


@dataclass
class Document:
    """A parsed source: its kind (``pdf``, ``docx``, …), page texts and original bytes."""

    kind: str
    pages: list[str]
    data: bytes
    page_sizes: list[tuple[float, float]] = field(default_factory=list)
    _renders: dict[Any, tuple[bytes, str]] = field(default_factory=dict, repr=False)

    @property
    def num_pages(self) -> int:
        return len(self.pages)


def unsupported(message: str) -> ApiError:
    """The file-level ``unsupported_format`` error."""
    return ApiError("unsupported_format", message)


def detect_kind(data: bytes) -> str | None:
    """The document kind from magic bytes (None: not a document)."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"  # OLE2: legacy .doc/.ppt/.xls
    if head.lstrip().startswith(b"{\\rtf"):
        return "rtf"
    return None


def _zip_kind(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                mime = zf.read("mimetype").decode("ascii", "replace").strip()
                if mime == "application/epub+zip":
                    return "epub"
                if mime.startswith("application/vnd.oasis.opendocument.text"):
                    return "odt"
            if "word/document.xml" in names:
                return "docx"
            if any(n.startswith("ppt/") for n in names):
                return "pptx"
    except zipfile.BadZipFile:
        return None
    return None


def analyze(data: bytes) -> Document:
    """Parse the bytes into a :class:`Document`, or raise ``unsupported_format``."""
    kind = detect_kind(data)
    if kind is None:
        raise unsupported("the source is not a supported document (PDF, DOCX, PPTX, EPUB, ODT, RTF, DOC)")
    if kind == "pdf":
        return _analyze_pdf(data)
    text = _extract_text(kind, data)
    pages = _paginate(text)
    return Document(kind, pages, data, [(612.0, 792.0)] * len(pages))


def _analyze_pdf(data: bytes) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages, sizes = [], []
        for page in reader.pages:
            try:
                pages.append(page.extract_text() or "")
            except Exception:  # a page pypdf cannot read still counts as a page
                pages.append("")
            box = page.mediabox
            sizes.append((float(box.width), float(box.height)))
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise unsupported(f"the PDF could not be read: {exc}") from None
    if not pages:
        raise unsupported("the PDF has no pages")
    return Document("pdf", pages, data, sizes)


def _extract_text(kind: str, data: bytes) -> str:
    if kind == "rtf":
        text = data.decode("latin-1", "replace")
        text = re.sub(r"\\par[d]?", "\n", text)
        text = re.sub(r"\\[a-z]+-?\d* ?|[{}]", "", text)
        return _clean(text)
    if kind == "doc":
        runs = re.findall(rb"[\x20-\x7e]{6,}", data)
        return _clean("\n".join(r.decode("ascii") for r in runs[:2000]))
    parts: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in sorted(zf.namelist()):
            if _is_text_part(kind, name):
                xml = zf.read(name).decode("utf-8", "replace")
                xml = re.sub(r"</(w:p|a:p|text:p|p|h\d|li)>", "\n", xml)
                parts.append(_TAG_RE.sub("", xml))
    return _clean("\n".join(parts))


def _is_text_part(kind: str, name: str) -> bool:
    if kind == "docx":
        return name == "word/document.xml"
    if kind == "pptx":
        return name.startswith("ppt/slides/slide") and name.endswith(".xml")
    if kind == "odt":
        return name == "content.xml"
    return name.endswith((".xhtml", ".html", ".htm"))  # epub


def _clean(text: str) -> str:
    import html

    lines = (_WS_RE.sub(" ", html.unescape(line)).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _paginate(text: str) -> list[str]:
    if not text:
        return [""]
    return [text[i : i + CHARS_PER_PAGE] for i in range(0, len(text), CHARS_PER_PAGE)]


IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(kind, width, height) of an image for ``/v3/batch``; None when the bytes are no image."""
    for magic, kind in IMAGE_MAGIC:
        if data.startswith(magic):
            return kind, *_image_size(kind, data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", 0, 0
    return None


def _image_size(kind: str, data: bytes) -> tuple[int, int]:
    if kind == "png" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if kind == "gif" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if kind == "jpeg":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker, size = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + size
    return 0, 0
