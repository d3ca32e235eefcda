"""Scale: a 200,000-item job is accepted in one call and listed page by page; the ceiling is enforced."""

from __future__ import annotations

import httpx
import pytest
from mathpix_contract import assert_error, wait_job

N = 200_000


@pytest.mark.slow
def test_200k_item_job_is_accepted_in_one_call_and_fully_listed(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    src = doc_server.url("/one-page.pdf")
    files = [{"source_uri": src, "custom_id": f"paper-{i:06d}"} for i in range(N)]
    resp = client.post(
        "/files/v1/jobs", json={"job_id": "big", "files": files, "conversion_formats": {"md": True}}
    )
    assert resp.status_code == 200
    assert resp.json() == {"job_id": "big", "file_count": N}
    first = client.get("/files/v1/jobs/big/files").json()
    assert len(first["files"]) == 1000  # the default page size (documented; clients must not rely on it)

    custom_ids: list[str] = []
    file_ids: set[str] = set()
    token = None
    while True:
        params: dict[str, object] = {"limit": 10000}
        if token:
            params["paging_state"] = token
        page = client.get("/files/v1/jobs/big/files", params=params).json()
        custom_ids += [f["custom_id"] for f in page["files"]]
        file_ids.update(f["file_id"] for f in page["files"])
        token = page["next_page_token"]
        if token is None:
            break
    assert custom_ids == [f"paper-{i:06d}" for i in range(N)]
    assert len(file_ids) == N

    job = wait_job(client, "big", timeout=240)
    assert (job["file_count"], job["files_completed"], job["files_errored"]) == (N, N, 0)
    assert client.get("/files/v1/jobs/big/files", params={"status": "error"}).json() == {
        "files": [],
        "next_page_token": None,
    }
    stats = mathpix_emulator.stats()
    assert stats["files_created"] == N and stats["jobs_created"] == 1
    assert stats["sources_fetched"] == 1  # one URL, fetched once for 200,000 files


@pytest.mark.slow
def test_more_than_200k_items_in_one_call_is_rejected(client: httpx.Client, mathpix_emulator) -> None:
    files = [{"source_uri": "https://example.com/a.pdf"}] * (N + 1)
    assert_error(
        client.post("/files/v1/jobs", json={"job_id": "too-big", "files": files}), 400, "bad_request"
    )
    assert mathpix_emulator.stats()["files_created"] == 0
    assert_error(client.get("/files/v1/jobs/too-big"), 404, "not_found")
