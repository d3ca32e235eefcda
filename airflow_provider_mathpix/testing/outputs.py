"""Output files generated from a source document's text.

Every format the contract names is produced for real and is a valid file of its
kind: Markdown and HTML text, ``lines.json`` pages and lines, DOCX/PPTX/XLSX as
minimal OOXML packages, ``tex.zip`` and the ``*.zip`` bundles as zip archives, and
PDFs (the original when the source is a PDF, else a small generated one). Renders
are cached on the :class:`Document`, so 20,000 files made from one source cost one
render per format.
"""

from __future__ import annotations

import base64
import html
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence

from .documents import Document

CONTENT_TYPES: dict[str, str] = {
    "mmd": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "lines.json": "application/json",
    "lines.mmd.json": "application/json",
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "latex.pdf": "application/pdf",
    "tex.zip": "application/zip",
    "latex": "application/x-tex",
    "jpg": "image/jpeg",
    "png": "image/png",
    "md.zip": "application/zip",
    "mmd.zip": "application/zip",
    "html.zip": "application/zip",
}


def render(doc: Document, ext: str, pages: Sequence[int] | None = None) -> tuple[bytes, str]:
    """The bytes and content type of output ``ext`` for the selected 0-based ``pages``."""
    key = (ext, tuple(pages) if pages is not None else None)
    cached = doc._renders.get(key)
    if cached is None:
        texts = [doc.pages[i] for i in pages] if pages is not None else list(doc.pages)
        data = _RENDERERS[ext](doc, texts)
        cached = (data, CONTENT_TYPES[ext])
        doc._renders[key] = cached
    return cached


def _paragraphs(texts: list[str]) -> list[str]:
    return [line for text in texts for line in text.splitlines() if line.strip()]


def _mmd(doc: Document, texts: list[str]) -> bytes:
    return "\n\n".join(t.strip() for t in texts).encode("utf-8")


def _lines(doc: Document, texts: list[str], *, mmd: bool) -> bytes:
    pages = []
    for n, text in enumerate(texts, start=1):
        width, height = doc.page_sizes[n - 1] if n - 1 < len(doc.page_sizes) else (612.0, 792.0)
        lines = []
        for i, line in enumerate((ln for ln in text.splitlines() if ln.strip()), start=1):
            entry: dict[str, object] = {"line": i, "text": line, "type": "text", "column": 0}
            if not mmd:
                entry["region"] = {
                    "top_left_x": 72,
                    "top_left_y": 72 + 14 * (i - 1),
                    "width": 468,
                    "height": 12,
                }
                entry["conversion_output"] = True
            lines.append(entry)
        pages.append({"page": n, "page_width": width, "page_height": height, "lines": lines})
    return json.dumps({"pages": pages}).encode("utf-8")


def _html(doc: Document, texts: list[str]) -> bytes:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in _paragraphs(texts))
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n'.encode()
    )


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"


def _ooxml(main_part: str, main_type: str, main_xml: str, extra: dict[str, bytes] | None = None) -> bytes:
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main_part}" ContentType="{main_type}"/></Types>'
    )
    rels = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_RELS_NS}">'
        f'<Relationship Id="rId1" Type="{_DOC_REL}" Target="{main_part}"/></Relationships>'
    )
    files = {
        "[Content_Types].xml": content_types.encode(),
        "_rels/.rels": rels.encode(),
        main_part: main_xml.encode(),
    }
    files.update(extra or {})
    return _zip(files)


def _docx(doc: Document, texts: list[str]) -> bytes:
    paras = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{html.escape(p, quote=False)}</w:t></w:r></w:p>'
        for p in _paragraphs(texts) or [""]
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{paras}<w:sectPr/></w:body></w:document>"
    )
    return _ooxml(
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        xml,
    )


def _pptx(doc: Document, texts: list[str]) -> bytes:
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>'
    )
    slides = {
        f"ppt/slides/slide{i}.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody>'
            + "".join(
                f"<a:p><a:r><a:t>{html.escape(p, quote=False)}</a:t></a:r></a:p>" for p in _paragraphs([t])
            )
            + "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
        ).encode()
        for i, t in enumerate(texts, start=1)
    }
    return _ooxml(
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        xml,
        slides,
    )


def _xlsx(doc: Document, texts: list[str]) -> bytes:
    rows = "".join(
        f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>{html.escape(p, quote=False)}</t></is></c></row>'
        for i, p in enumerate(_paragraphs(texts), start=1)
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )
    return _ooxml(
        "xl/worksheets/sheet1.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
        xml,
    )


_TEX_ESCAPES = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    "\\": r"\textbackslash{}",
}


def _tex_source(texts: list[str]) -> str:
    body = "\n\n".join("".join(_TEX_ESCAPES.get(c, c) for c in p) for p in _paragraphs(texts))
    return (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\n\\end{document}\n"
    )


def _tex_zip(doc: Document, texts: list[str]) -> bytes:
    return _zip({"document/document.tex": _tex_source(texts).encode("utf-8")})


def _bundle(
    inner: str, make: Callable[[Document, list[str]], bytes]
) -> Callable[[Document, list[str]], bytes]:
    def build(doc: Document, texts: list[str]) -> bytes:
        return _zip({f"document/document.{inner}": make(doc, texts), "document/images/": b""})

    return build


def _pdf(doc: Document, texts: list[str]) -> bytes:
    if doc.kind == "pdf" and len(texts) == len(doc.pages):
        return doc.data
    return minimal_pdf(texts)


def minimal_pdf(texts: list[str]) -> bytes:
    """A small valid PDF with one page per text (Helvetica, one line per text line)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for text in texts or [""]:
        lines = [ln for ln in text.splitlines() if ln.strip()][:50]
        ops = ["BT /F1 11 Tf 72 740 Td 14 TL"]
        for ln in lines:
            safe = ln.encode("latin-1", "replace").decode("latin-1")
            safe = safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({safe}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content_num = len(objects) + 2
        page_num = len(objects) + 1
        font = "<< /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >>"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_num} 0 R "
            f"/Resources << /Font {font} >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(f"{page_num} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


_RENDERERS: dict[str, Callable[[Document, list[str]], bytes]] = {
    "mmd": _mmd,
    "md": _mmd,
    "lines.json": lambda d, t: _lines(d, t, mmd=False),
    "lines.mmd.json": lambda d, t: _lines(d, t, mmd=True),
    "html": _html,
    "docx": _docx,
    "pptx": _pptx,
    "xlsx": _xlsx,
    "pdf": _pdf,
    "latex.pdf": lambda d, t: minimal_pdf(t),
    "tex.zip": _tex_zip,
    "latex": lambda d, t: _tex_source(t).encode("utf-8"),
    "jpg": lambda d, t: _GREY_JPEG,
    "png": lambda d, t: page_crop_png(),
    "md.zip": _bundle("md", _mmd),
    "mmd.zip": _bundle("mmd", _mmd),
    "html.zip": _bundle("html", _html),
}


def page_crop_png(width: int = 4, height: int = 4) -> bytes:
    """A small valid grey PNG standing in for a figure crop (the emulator does no layout analysis)."""
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


#: an 8x8 grey baseline JPEG (the emulator does no rendering; the bytes only need to be a real JPEG)
_GREY_JPEG: bytes = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1R"
    "V19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2P/wAARCAAIAAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAA"
    "AgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6"
    "Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXG"
    "x8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREA"
    "AgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5"
    "OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPE"
    "xcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwAooooA/9k="
)
