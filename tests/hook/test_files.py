"""Single files against the emulator: submit, upload, status, download, delete (sync and async)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import DocServer, make_pdf, set_connection, wait_until


def _completed(api: Any, file_id: str) -> dict[str, Any]:
    return wait_until(lambda: (rec := api.get_file(file_id))["status"] in ("completed", "error") and rec)  # type: ignore[no-any-return]


def test_submit_by_uri_then_download(
    api: Any, doc_server: DocServer, sample_pdf: bytes, tmp_path: Path
) -> None:
    url = doc_server.url("/uri/sample.pdf", sample_pdf)
    file_id = api.submit_file(url, conversion_formats={"md": True})
    record = _completed(api, file_id)
    assert record["status"] == "completed", record
    assert record["num_pages"] == 2
    md = wait_until(
        lambda: api.get_file(file_id)["formats"].get("md") == "completed"
    ) and api.download_output(file_id, "md")
    assert isinstance(md, bytes) and b"page 1" in md
    written = api.download_output(file_id, "mmd", to=tmp_path / "out.mmd")
    assert written == (tmp_path / "out.mmd").stat().st_size > 0
    assert not (tmp_path / "out.mmd.part").exists()
    buf = io.BytesIO(b"prefix:")
    buf.seek(7)
    count = api.download_output(file_id, "mmd", to=buf)
    assert buf.getvalue()[7:] == (tmp_path / "out.mmd").read_bytes() and count == len(buf.getvalue()) - 7


def test_upload_path_and_file_object(api: Any, sample_pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "paper.pdf"
    path.write_bytes(sample_pdf)
    from_path = api.upload_file(path)
    with path.open("rb") as fh:
        from_obj = api.upload_file(fh, conversion_formats={"docx": True})
    from_bytes = api.upload_file(io.BytesIO(sample_pdf), filename="bytes.pdf")
    records = [_completed(api, f) for f in (from_path, from_obj, from_bytes)]
    assert [r["status"] for r in records] == ["completed"] * 3
    assert records[0]["filename"] == "paper.pdf" and records[2]["filename"] == "bytes.pdf"


def test_upload_into_a_job_with_custom_id(api: Any, sample_pdf: bytes) -> None:
    file_id = api.upload_file(io.BytesIO(sample_pdf), filename="a.pdf", job_id="job-up", custom_id="doc-a")
    again = api.upload_file(io.BytesIO(sample_pdf), filename="a.pdf", job_id="job-up", custom_id="doc-a")
    assert again == file_id  # (job_id, custom_id) is the idempotency key
    assert api.get_job_file("job-up", "doc-a")["file_id"] == file_id


def test_idempotency_key_returns_the_same_file(api: Any, emulator: Any, doc_server: DocServer) -> None:
    url = doc_server.url("/idem.pdf", make_pdf(1))
    first = api.submit_file(url, idempotency_key="task-run-1")
    second = api.submit_file(url, idempotency_key="task-run-1")
    assert first == second
    assert emulator.stats()["files_created"] == 1


def test_format_not_ready_is_a_state_to_wait_on(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, sample_pdf: bytes
) -> None:
    emu = mathpix_emulator_factory(format_lag=120)
    set_connection(monkeypatch, emu.url)
    with MathpixHook() as hook:
        file_id = hook.upload_file(
            io.BytesIO(sample_pdf), filename="x.pdf", conversion_formats={"docx": True}
        )
        wait_until(lambda: hook.get_file(file_id)["status"] == "completed")
        with pytest.raises(MathpixAPIError) as info:
            hook.download_output(file_id, "docx")
        assert (info.value.code, info.value.http_status) == ("format_not_ready", 404)
        assert emu.stats()["faults_injected"] == 0
        with pytest.raises(MathpixAPIError) as never:
            hook.download_output(file_id, "pptx")
        assert (never.value.code, never.value.http_status) == ("unsupported_format", 415)


def test_failed_download_to_a_path_leaves_nothing(api: Any, tmp_path: Path) -> None:
    with pytest.raises(MathpixAPIError) as info:
        api.download_output("no-such-file", "md", to=tmp_path / "x.md")
    assert info.value.code == "not_found" and info.value.path == "/files/v1/no-such-file.md"
    assert list(tmp_path.iterdir()) == []


def test_delete(api: Any, sample_pdf: bytes) -> None:
    file_id = api.upload_file(io.BytesIO(sample_pdf), filename="del.pdf")
    _completed(api, file_id)
    assert api.delete_file(file_id)["status"] == "deleted"
    assert api.delete_file(file_id)["status"] == "deleted"  # repeating it is a success
    with pytest.raises(MathpixAPIError) as info:
        api.download_output(file_id, "mmd")
    assert info.value.http_status == 404


def test_source_errors_surface_on_the_file_not_the_call(api: Any, doc_server: DocServer) -> None:
    served = doc_server.url("/text.pdf", b"just some text")
    not_a_doc = api.submit_file(served)
    missing = api.submit_file(served.replace("/text.pdf", "/gone.pdf"))
    assert _completed(api, missing)["error"] == "not_found"
    assert _completed(api, not_a_doc)["error"] == "unsupported_format"


@pytest.mark.parametrize(
    ("call", "rule"),
    [
        (lambda h: h.submit_file("ftp://x/y.pdf"), "unsupported scheme"),
        (lambda h: h.submit_file("s3://b/k.pdf", custom_id="c"), "custom_id requires job_id"),
        (lambda h: h.submit_file("s3://b/k.pdf", conversion_formats={"md": 1}), "true or false"),
        (lambda h: h.upload_file("/no/such/file.pdf"), "not an existing file"),
        (lambda h: h.upload_file(io.StringIO("text")), "binary mode"),
        (lambda h: h.upload_file(io.BytesIO(b"%PDF")), "filename is required"),
        (lambda h: h.download_output("f", "../../etc"), "ext must look like"),
        (lambda h: h.download_output("f", "md", to="/no/such/dir/x.md"), "does not exist"),
        (lambda h: h.get_file("a/b"), "file_id"),
        (lambda h: h.delete_file(""), "file_id"),
    ],
)
def test_bad_inputs_send_nothing(hook: MathpixHook, emulator: Any, call: Any, rule: str) -> None:
    with pytest.raises(MathpixValidationError, match=rule):
        call(hook)
    assert emulator.stats()["requests"] == 0


class _CountingReader(io.BytesIO):
    """A binary file object that records how much each read() asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)


def test_upload_streams_in_chunks_never_whole(api: Any, emulator: Any) -> None:
    data = make_pdf(1) + b"\n%" + b"x" * (2 * 1024 * 1024)  # a ~2 MB PDF (trailing comment bytes)
    reader = _CountingReader(data)
    file_id = api.upload_file(reader, filename="big.pdf")
    assert file_id
    assert len(reader.reads) >= 32 and all(0 < size <= 64 * 1024 for size in reader.reads), reader.reads[:5]


PAGE_RANGE_FORMS = ["2", "2-3", "2--2", "2 - -2", "-1", "-2--1", "1,3", "2-", " 1 - 2 , 4 ", "-3-"]
BAD_PAGE_RANGES = ["0", "3-1", "-1--2", "1-0", "a", "1,,2", "", "1-2-3", "--1"]


def test_hook_and_emulator_agree_on_page_ranges() -> None:
    """Every form /v3/pdf takes passes both; what one refuses, the other refuses too."""
    from airflow_provider_mathpix.contract.errors import InvalidInput
    from airflow_provider_mathpix.contract.options import validate_page_ranges
    from airflow_provider_mathpix.testing import rules
    from airflow_provider_mathpix.testing.errors import ApiError

    for form in PAGE_RANGE_FORMS:
        validate_page_ranges(form)
        assert rules.parse_page_ranges(form)
    for form in BAD_PAGE_RANGES:
        with pytest.raises(InvalidInput):
            validate_page_ranges(form)
        if form:  # "" is "no page_ranges" to the API
            with pytest.raises(ApiError):
                rules.parse_page_ranges(form)


def test_negative_page_ranges_select_pages_from_the_end(api: Any, doc_server: DocServer) -> None:
    url = doc_server.url("/five-pages.pdf", make_pdf(5, "Five"))
    file_id = api.submit_file(url, page_ranges="2--2")  # the second to the next-to-last page
    wait_until(lambda: api.get_file(file_id)["status"] == "completed")
    lines = json.loads(api.download_output(file_id, "lines.json"))
    assert len(lines["pages"]) == 3
