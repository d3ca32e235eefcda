"""POST /files/v1/uri, file status, downloads, delete: the single-file lifecycle."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
from mathpix_contract import assert_error, wait_file

FILE_KEYS = {
    "file_id",
    "status",
    "percent_done",
    "num_pages",
    "num_pages_completed",
    "formats",
    "format_primary",
    "filename",
    "custom_id",
    "destination_uri",
    "destination_basename",
    "error",
    "error_info",
}


def test_submit_returns_only_a_uuid_file_id(client: httpx.Client, doc_server) -> None:
    resp = client.post("/files/v1/uri", json={"source_uri": doc_server.url("/three-pages.pdf")})
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["file_id"]
    assert len(body["file_id"]) == 36 and body["file_id"].count("-") == 4


def test_pdf_lifecycle_and_outputs_from_its_text(client: httpx.Client, doc_server) -> None:
    fid = client.post(
        "/files/v1/uri",
        json={
            "source_uri": doc_server.url("/three-pages.pdf"),
            "conversion_formats": {"md": True, "docx": True, "tex.zip": True, "html": True},
        },
    ).json()["file_id"]
    first = client.get(f"/files/v1/{fid}").json()
    assert set(first) == FILE_KEYS
    assert first["status"] in ("pending", "split", "completed")
    body = wait_file(client, fid)
    assert body["status"] == "completed"
    assert body["num_pages"] == 3 and body["num_pages_completed"] == 3 and body["percent_done"] == 100.0
    assert body["filename"] == "three-pages.pdf"
    assert body["error"] is None and body["error_info"] is None
    assert set(body["formats"]) == {"md", "docx", "tex.zip", "html"}  # keyed as requested

    mmd = client.get(f"/files/v1/{fid}.mmd")
    assert mmd.status_code == 200
    assert "Alpha page one" in mmd.text and "Gamma page three" in mmd.text
    lines = client.get(f"/files/v1/{fid}.lines.json").json()
    assert [p["page"] for p in lines["pages"]] == [1, 2, 3]
    assert lines["pages"][1]["lines"][0]["text"] == "Beta page two"
    assert client.get(f"/files/v1/{fid}.lines.mmd.json").status_code == 200


def test_every_requested_format_downloads_as_a_valid_file(client: httpx.Client, doc_server) -> None:
    formats = [
        "md",
        "docx",
        "html",
        "tex.zip",
        "pdf",
        "latex.pdf",
        "pptx",
        "xlsx",
        "md.zip",
        "mmd.zip",
        "html.zip",
        "latex",
        "jpg",
        "png",
    ]
    fid = client.post(
        "/files/v1/uri",
        json={
            "source_uri": doc_server.url("/one-page.pdf"),
            "conversion_formats": dict.fromkeys(formats, True),
        },
    ).json()["file_id"]
    done = wait_file(client, fid, formats=True)
    assert done["status"] == "completed"
    assert set(done["formats"]) == set(formats)  # keyed as requested: tex.zip is tex.zip, latex is latex
    assert_error(client.get(f"/files/v1/{fid}.latex"), 415, "unsupported_format")  # latex downloads as .tex
    for fmt in formats:
        ext = "tex" if fmt == "latex" else fmt
        resp = client.get(f"/files/v1/{fid}.{ext}")
        assert resp.status_code == 200, (ext, resp.text)
        data = resp.content
        if ext in ("docx", "pptx", "xlsx", "tex.zip", "md.zip", "mmd.zip", "html.zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                assert zf.testzip() is None
                names = zf.namelist()
            if ext == "docx":
                assert "word/document.xml" in names
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    assert "Single page" in zf.read("word/document.xml").decode()
            if ext == "tex.zip":
                assert any(n.endswith(".tex") for n in names)
        elif ext in ("pdf", "latex.pdf"):
            from pypdf import PdfReader

            assert len(PdfReader(io.BytesIO(data)).pages) == 1
        elif ext in ("jpg", "png"):
            from PIL import Image

            with Image.open(io.BytesIO(data)) as img:
                img.verify()
                assert img.format == ("JPEG" if ext == "jpg" else "PNG")
        elif ext == "tex":
            assert "\\begin{document}" in resp.text and "Single page" in resp.text
        else:
            assert "Single page" in resp.text


def test_download_rules_not_ready_unsupported_and_unknown(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    mathpix_emulator.configure(time_per_file=30)
    fid = client.post(
        "/files/v1/uri",
        json={"source_uri": doc_server.url("/one-page.pdf"), "conversion_formats": {"docx": True}},
    ).json()["file_id"]
    body = assert_error(client.get(f"/files/v1/{fid}.docx"), 404, "format_not_ready")
    assert body["status"] == "pending"
    assert_error(client.get(f"/files/v1/{fid}.mmd"), 404, "format_not_ready")
    assert_error(client.get(f"/files/v1/{fid}.html"), 415, "unsupported_format")
    assert_error(client.get(f"/files/v1/{fid}.nonsense"), 415, "unsupported_format")
    assert_error(client.get("/files/v1/00000000-0000-4000-8000-000000000000"), 404, "not_found")
    assert_error(client.get("/files/v1/00000000-0000-4000-8000-000000000000.mmd"), 404, "not_found")


def test_format_lags_behind_the_file(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    mathpix_emulator.configure(format_lag=30)
    fid = client.post(
        "/files/v1/uri",
        json={"source_uri": doc_server.url("/one-page.pdf"), "conversion_formats": {"docx": True}},
    ).json()["file_id"]
    body = wait_file(client, fid)
    assert body["status"] == "completed"
    assert body["formats"] == {"docx": "processing"}
    assert client.get(f"/files/v1/{fid}.mmd").status_code == 200
    err = assert_error(client.get(f"/files/v1/{fid}.docx"), 404, "format_not_ready")
    assert err["status"] == "completed"


def test_source_errors_are_file_errors(client: httpx.Client, doc_server) -> None:
    missing = client.post("/files/v1/uri", json={"source_uri": doc_server.url("/nope.pdf")}).json()["file_id"]
    text = client.post("/files/v1/uri", json={"source_uri": doc_server.url("/notes.txt")}).json()["file_id"]
    image = client.post("/files/v1/uri", json={"source_uri": doc_server.url("/pixel.png")}).json()["file_id"]
    docx = client.post("/files/v1/uri", json={"source_uri": doc_server.url("/report.docx")}).json()["file_id"]
    assert wait_file(client, missing)["error_info"]["id"] == "not_found"
    for fid in (text, image):
        body = wait_file(client, fid)
        assert body["status"] == "error" and body["error"] == "unsupported_format"
        assert body["error_info"]["id"] == "unsupported_format" and body["error_info"]["message"]
        assert_error(client.get(f"/files/v1/{fid}.mmd"), 404, "not_found")
    ok = wait_file(client, docx)
    assert ok["status"] == "completed" and ok["num_pages"] == 1
    assert "Quarterly report" in client.get(f"/files/v1/{docx}.mmd").text


def test_bad_requests_on_uri(client: httpx.Client, doc_server) -> None:
    pdf = doc_server.url("/one-page.pdf")
    assert_error(client.post("/files/v1/uri", json={}), 400, "bad_request")
    assert_error(
        client.post("/files/v1/uri", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "bad_request",
    )
    assert_error(client.post("/files/v1/uri", json={"source_uri": "ftp://host/a.pdf"}), 400, "bad_request")
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": "http://example.com/a.pdf"}), 400, "bad_request"
    )
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": pdf, "custom_id": "c1"}), 400, "bad_request"
    )
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": pdf, "job_id": "bad id!"}), 400, "bad_request"
    )
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": pdf, "job_id": "j" * 257}), 400, "bad_request"
    )
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": pdf, "conversion_formats": {"nope": True}}),
        400,
        "bad_request",
    )
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": pdf}, headers={"Idempotency-Key": "has space"}),
        400,
        "bad_request",
    )
    # the longest legal ids pass
    ok = client.post(
        "/files/v1/uri", json={"source_uri": pdf, "job_id": "J" * 256, "custom_id": "a-Z_0.9:" * 32}
    )
    assert ok.status_code == 200, ok.text


def test_auth(mathpix_emulator, doc_server) -> None:
    resp = httpx.post(
        f"{mathpix_emulator.url}/files/v1/uri", json={"source_uri": doc_server.url("/one-page.pdf")}
    )
    assert_error(resp, 401, "unauthorized")
    resp = httpx.get(f"{mathpix_emulator.url}/files/v1/jobs", headers={"app_key": ""})
    assert_error(resp, 401, "unauthorized")


def test_app_key_allow_list(mathpix_emulator_factory) -> None:
    emu = mathpix_emulator_factory(app_keys=["good"])
    assert_error(httpx.get(f"{emu.url}/files/v1/jobs", headers={"app_key": "bad"}), 401, "unauthorized")
    assert httpx.get(f"{emu.url}/files/v1/jobs", headers={"app_key": "good"}).status_code == 200


def test_idempotency_key_returns_the_first_file(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    body = {"source_uri": doc_server.url("/one-page.pdf")}
    a = client.post("/files/v1/uri", json=body, headers={"Idempotency-Key": "run-1:task"}).json()
    b = client.post("/files/v1/uri", json=body, headers={"Idempotency-Key": "run-1:task"}).json()
    c = client.post("/files/v1/uri", json=body, headers={"Idempotency-Key": "run-2:task"}).json()
    assert a == b and a != c
    stats = mathpix_emulator.stats()
    assert stats["files_created"] == 2 and stats["duplicates_absorbed"] == 1


def test_pair_wins_over_idempotency_key(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    pdf = doc_server.url("/one-page.pdf")
    a = client.post(
        "/files/v1/uri",
        json={"source_uri": pdf, "job_id": "j", "custom_id": "x"},
        headers={"Idempotency-Key": "k1"},
    )
    b = client.post(
        "/files/v1/uri",
        json={"source_uri": pdf, "job_id": "j", "custom_id": "x"},
        headers={"Idempotency-Key": "k2"},
    )
    c = client.post(
        "/files/v1/uri",
        json={"source_uri": pdf, "job_id": "j", "custom_id": "y"},
        headers={"Idempotency-Key": "k1"},
    )
    assert a.json() == b.json()
    assert c.json() != a.json()
    assert mathpix_emulator.stats()["files_created"] == 2


def test_delete_conflict_then_success_then_repeat(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    mathpix_emulator.configure(time_per_file=30)
    slow = client.post("/files/v1/uri", json={"source_uri": doc_server.url("/one-page.pdf")}).json()[
        "file_id"
    ]
    assert_error(client.delete(f"/files/v1/{slow}"), 409, "conflict")
    mathpix_emulator.configure(time_per_file=0.0)
    fid = client.post("/files/v1/uri", json={"source_uri": doc_server.url("/three-pages.pdf")}).json()[
        "file_id"
    ]
    wait_file(client, fid)
    for _ in range(2):
        resp = client.delete(f"/files/v1/{fid}")
        assert resp.status_code == 200 and resp.json() == {"file_id": fid, "status": "deleted"}
    assert_error(client.get(f"/files/v1/{fid}"), 404, "not_found")
    assert_error(client.delete("/files/v1/00000000-0000-4000-8000-000000000000"), 404, "not_found")


def test_page_ranges_select_pages(client: httpx.Client, doc_server) -> None:
    fid = client.post(
        "/files/v1/uri", json={"source_uri": doc_server.url("/three-pages.pdf"), "page_ranges": "2-3"}
    ).json()["file_id"]
    body = wait_file(client, fid)
    assert body["num_pages"] == 2
    text = client.get(f"/files/v1/{fid}.mmd").text
    assert "Alpha" not in text and "Beta page two" in text


def test_upload_multipart(client: httpx.Client) -> None:
    from mathpix_contract import make_pdf

    pdf = make_pdf(["Uploaded doc"])
    resp = client.post(
        "/files/v1",
        files={"file": ("up.pdf", pdf, "application/pdf")},
        data={"options_json": json.dumps({"conversion_formats": {"md": True}})},
    )
    assert resp.status_code == 200, resp.text
    fid = resp.json()["file_id"]
    body = wait_file(client, fid, formats=True)
    assert body["status"] == "completed" and body["filename"] == "up.pdf"
    assert "Uploaded doc" in client.get(f"/files/v1/{fid}.md").text
    # idempotent with job_id + custom_id form fields
    again = [
        client.post(
            "/files/v1", files={"file": ("up.pdf", pdf)}, data={"job_id": "uj", "custom_id": "u1"}
        ).json()
        for _ in range(2)
    ]
    assert again[0] == again[1]
    assert_error(
        client.post("/files/v1", files={"file": ("t.txt", b"plain text")}), 415, "unsupported_format"
    )
    assert_error(
        client.post("/files/v1", data={"filename": "x"}, files={"other": ("a", b"b")}), 400, "bad_request"
    )
    assert_error(
        client.post("/files/v1", files={"file": ("up.pdf", pdf)}, data={"options_json": "{"}),
        400,
        "bad_request",
    )
    assert_error(
        client.post("/files/v1", files={"file": ("up.pdf", pdf)}, data={"custom_id": "c"}), 400, "bad_request"
    )


def test_split_state_reports_pages_and_pending_formats(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    mathpix_emulator.configure(time_per_file=0.0, time_per_page=30)
    fid = client.post(
        "/files/v1/uri",
        json={"source_uri": doc_server.url("/three-pages.pdf"), "conversion_formats": {"tex.zip": True}},
    ).json()["file_id"]
    from mathpix_contract import wait_until

    body = wait_until(lambda: (b := client.get(f"/files/v1/{fid}").json())["status"] == "split" and b)
    assert body["num_pages"] == 3 and 0 <= body["num_pages_completed"] < 3
    assert 0 < body["percent_done"] < 100
    assert body["formats"] == {"tex.zip": "pending"}
    assert assert_error(client.get(f"/files/v1/{fid}.tex.zip"), 404, "format_not_ready")["status"] == "split"
    assert_error(client.delete(f"/files/v1/{fid}"), 409, "conflict")


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_office_and_ebook_inputs_are_recognised_from_their_bytes(client: httpx.Client) -> None:
    inputs = {
        "book.epub": _zip(
            {
                "mimetype": "application/epub+zip",
                "OEBPS/ch1.xhtml": "<html><body><p>Chapter one text</p></body></html>",
            }
        ),
        "letter.odt": _zip(
            {
                "mimetype": "application/vnd.oasis.opendocument.text",
                "content.xml": "<office:document><text:p>Dear reader</text:p></office:document>",
            }
        ),
        "deck.pptx": _zip({"ppt/slides/slide1.xml": "<p:sld><a:p><a:t>Slide title</a:t></a:p></p:sld>"}),
        "memo.rtf": b"{\\rtf1\\ansi {\\b Memo body}\\par second line}",
    }
    expected = {
        "book.epub": "Chapter one text",
        "letter.odt": "Dear reader",
        "deck.pptx": "Slide title",
        "memo.rtf": "Memo body",
    }
    ids = {}
    for name, data in inputs.items():
        resp = client.post(
            "/files/v1", files={"file": (name, data if isinstance(data, bytes) else data.encode())}
        )
        assert resp.status_code == 200, (name, resp.text)
        ids[name] = resp.json()["file_id"]
    for name, fid in ids.items():
        body = wait_file(client, fid)
        assert body["status"] == "completed" and body["num_pages"] >= 1, (name, body)
        assert expected[name] in client.get(f"/files/v1/{fid}.mmd").text, name
    for junk in (b"PK\x03\x04not really a zip", b"GIF89a....", b"<html><body>page</body></html>"):
        assert_error(client.post("/files/v1", files={"file": ("x.bin", junk)}), 415, "unsupported_format")


def test_heavier_formats_finish_later(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    mathpix_emulator.configure(format_lag=1.0)  # md after 1 unit, docx 2, tex.zip 3
    fid = client.post(
        "/files/v1/uri",
        json={
            "source_uri": doc_server.url("/one-page.pdf"),
            "conversion_formats": dict.fromkeys(["md", "docx", "tex.zip"], True),
        },
    ).json()["file_id"]
    from mathpix_contract import wait_until

    def md_done_latex_not() -> bool:
        formats = client.get(f"/files/v1/{fid}").json()["formats"]
        return formats.get("md") == "completed" and formats.get("tex.zip") == "processing"

    assert wait_until(md_done_latex_not)
    assert client.get(f"/files/v1/{fid}.md").status_code == 200
    assert_error(client.get(f"/files/v1/{fid}.tex.zip"), 404, "format_not_ready")
    assert wait_file(client, fid, formats=True)["formats"] == {
        "md": "completed",
        "docx": "completed",
        "tex.zip": "completed",
    }
    assert client.get(f"/files/v1/{fid}.tex.zip").status_code == 200
