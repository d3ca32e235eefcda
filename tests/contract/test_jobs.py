"""POST /files/v1/jobs and the job endpoints: open jobs, idempotency, accept-and-defer, listings."""

from __future__ import annotations

import datetime as dt

import httpx
from mathpix_contract import assert_error, wait_file, wait_job, wait_until

JOB_KEYS = {"job_id", "status", "file_count", "files_completed", "files_errored", "created_at", "modified_at"}


def items(doc_server, n: int, prefix: str = "doc", start: int = 0) -> list[dict[str, str]]:
    return [
        {"source_uri": doc_server.url("/one-page.pdf"), "custom_id": f"{prefix}-{i:05d}"}
        for i in range(start, start + n)
    ]


def list_all(client: httpx.Client, job_id: str, **params: object) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    token = None
    while True:
        q = dict(params)
        if token:
            q["paging_state"] = token
        resp = client.get(f"/files/v1/jobs/{job_id}/files", params=q)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"files", "next_page_token"}
        out.extend(body["files"])
        token = body["next_page_token"]
        if token is None:
            return out


def test_submit_answers_job_id_and_file_count(client: httpx.Client, doc_server) -> None:
    resp = client.post("/files/v1/jobs", json={"job_id": "quickstart-batch", "files": items(doc_server, 2)})
    assert resp.status_code == 200
    assert resp.json() == {"job_id": "quickstart-batch", "file_count": 2}
    made = client.post(
        "/files/v1/jobs", json={"files": [{"source_uri": doc_server.url("/one-page.pdf")}]}
    ).json()
    assert set(made) == {"job_id", "file_count"} and made["file_count"] == 1 and made["job_id"]


def test_job_status_counters_and_partial_success(client: httpx.Client, doc_server) -> None:
    files = [
        {"source_uri": doc_server.url("/three-pages.pdf"), "custom_id": "good-1"},
        {"source_uri": doc_server.url("/one-page.pdf"), "custom_id": "good-2"},
        {"source_uri": doc_server.url("/missing.pdf"), "custom_id": "missing"},
        {"source_uri": doc_server.url("/notes.txt"), "custom_id": "text"},
        {"source_uri": "ftp://nowhere/x.pdf", "custom_id": "scheme"},
        {"custom_id": "no-source"},
        {"source_uri": "s3://unregistered-bucket/a.pdf", "custom_id": "no-ds"},
    ]
    resp = client.post("/files/v1/jobs", json={"job_id": "partial", "files": files})
    assert resp.status_code == 200 and resp.json() == {"job_id": "partial", "file_count": 7}
    first = client.get("/files/v1/jobs/partial").json()
    assert set(first) == JOB_KEYS
    assert first["created_at"].endswith("Z")
    body = wait_job(client, "partial")
    assert body["status"] == "completed"
    assert (body["file_count"], body["files_completed"], body["files_errored"]) == (7, 2, 5)
    errors = {f["custom_id"]: f for f in list_all(client, "partial", status="error")}
    assert set(errors) == {"missing", "text", "scheme", "no-source", "no-ds"}
    assert all(
        f["status"] == "error" and set(f) == {"file_id", "custom_id", "filename", "status"}
        for f in errors.values()
    )
    codes = {cid: client.get(f"/files/v1/{f['file_id']}").json()["error"] for cid, f in errors.items()}
    assert codes == {
        "missing": "not_found",
        "text": "unsupported_format",
        "scheme": "bad_request",
        "no-source": "bad_request",
        "no-ds": "data_source_not_found",
    }
    done = list_all(client, "partial", status="completed")
    assert [f["custom_id"] for f in done] == ["good-1", "good-2"]
    plain = list_all(client, "partial")
    assert [f["custom_id"] for f in plain] == [f["custom_id"] for f in files]
    assert all("status" not in f for f in plain)


def test_pending_filter_means_not_terminal(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    mathpix_emulator.configure(time_per_file=60)
    client.post("/files/v1/jobs", json={"job_id": "slow", "files": items(doc_server, 5)})
    assert len(list_all(client, "slow", status="pending")) == 5
    assert list_all(client, "slow", status="completed") == []
    assert client.get("/files/v1/jobs/slow").json()["status"] == "processing"


def test_pagination_over_thousands_keeps_submission_order(client: httpx.Client, doc_server) -> None:
    n = 5000
    client.post("/files/v1/jobs", json={"job_id": "paged", "files": items(doc_server, n)})
    files = list_all(client, "paged", limit=700)
    assert len(files) == n
    assert [f["custom_id"] for f in files] == [f"doc-{i:05d}" for i in range(n)]
    assert len({f["file_id"] for f in files}) == n
    assert all(f["filename"] == "one-page.pdf" for f in files)
    page = client.get("/files/v1/jobs/paged/files", params={"limit": 10}).json()
    assert len(page["files"]) == 10 and isinstance(page["next_page_token"], str)
    wait_job(client, "paged")
    assert len(list_all(client, "paged", status="completed", limit=999)) == n


def test_listing_parameters_are_validated(client: httpx.Client, doc_server) -> None:
    client.post("/files/v1/jobs", json={"job_id": "j", "files": items(doc_server, 3)})
    for params in (
        {"limit": 0},
        {"limit": 10001},
        {"limit": "x"},
        {"status": "done"},
        {"paging_state": "garbage!"},
    ):
        assert_error(client.get("/files/v1/jobs/j/files", params=params), 400, "bad_request")
    assert_error(client.get("/files/v1/jobs/nope/files"), 404, "not_found")
    assert_error(client.get("/files/v1/jobs/nope"), 404, "not_found")


def test_resubmitting_pairs_returns_the_same_files(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    batch = items(doc_server, 1000)
    first = client.post("/files/v1/jobs", json={"job_id": "retry", "files": batch}).json()
    again = client.post("/files/v1/jobs", json={"job_id": "retry", "files": batch}).json()
    assert first == again == {"job_id": "retry", "file_count": 1000}
    stats = mathpix_emulator.stats()
    assert (
        stats["files_created"] == 1000 and stats["duplicates_absorbed"] == 1000 and stats["jobs_created"] == 1
    )
    ids = [f["file_id"] for f in list_all(client, "retry")]
    assert len(ids) == len(set(ids)) == 1000
    # a later call overlapping half of the set appends only the new half
    more = client.post(
        "/files/v1/jobs", json={"job_id": "retry", "files": items(doc_server, 1000, start=500)}
    ).json()
    assert more == {"job_id": "retry", "file_count": 1000}  # this call's items, not the job's total
    assert client.get("/files/v1/jobs/retry").json()["file_count"] == 1500
    assert mathpix_emulator.stats()["duplicates_absorbed"] == 1500


def test_same_custom_id_in_another_job_is_another_file(client: httpx.Client, doc_server) -> None:
    one = client.post(
        "/files/v1/uri", json={"source_uri": doc_server.url("/one-page.pdf"), "job_id": "a", "custom_id": "x"}
    )
    two = client.post(
        "/files/v1/uri", json={"source_uri": doc_server.url("/one-page.pdf"), "job_id": "b", "custom_id": "x"}
    )
    assert one.json() != two.json()
    # ids are case-sensitive
    three = client.post(
        "/files/v1/uri", json={"source_uri": doc_server.url("/one-page.pdf"), "job_id": "a", "custom_id": "X"}
    )
    assert three.json() != one.json()


def test_open_job_appends_with_different_options(client: httpx.Client, doc_server) -> None:
    a = client.post(
        "/files/v1/jobs",
        json={"job_id": "open", "files": items(doc_server, 2, "md"), "conversion_formats": {"md": True}},
    )
    b = client.post(
        "/files/v1/jobs",
        json={"job_id": "open", "files": items(doc_server, 3, "docx"), "conversion_formats": {"docx": True}},
    )
    assert a.json()["file_count"] == 2 and b.json()["file_count"] == 3  # each call's own items
    wait_job(client, "open")
    md = client.get("/files/v1/jobs/open/files/md-00000").json()
    docx = client.get("/files/v1/jobs/open/files/docx-00000").json()
    wait_file(client, md["file_id"], formats=True)
    wait_file(client, docx["file_id"], formats=True)
    assert client.get(f"/files/v1/{md['file_id']}.md").status_code == 200
    assert_error(client.get(f"/files/v1/{md['file_id']}.docx"), 415, "unsupported_format")
    assert client.get(f"/files/v1/{docx['file_id']}.docx").status_code == 200
    assert_error(client.get(f"/files/v1/{docx['file_id']}.md"), 415, "unsupported_format")


def test_idempotency_key_on_jobs_only_without_job_id(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    plain = [{"source_uri": doc_server.url("/one-page.pdf")}]
    a = client.post("/files/v1/jobs", json={"files": plain}, headers={"Idempotency-Key": "jobs-1"}).json()
    b = client.post("/files/v1/jobs", json={"files": plain}, headers={"Idempotency-Key": "jobs-1"}).json()
    assert a == b
    assert mathpix_emulator.stats()["jobs_created"] == 1
    c = client.post(
        "/files/v1/jobs", json={"job_id": "mine", "files": plain}, headers={"Idempotency-Key": "jobs-1"}
    )
    d = client.post(
        "/files/v1/jobs", json={"job_id": "mine", "files": plain}, headers={"Idempotency-Key": "jobs-1"}
    )
    assert c.json()["job_id"] == "mine" and d.json() == {"job_id": "mine", "file_count": 1}
    assert client.get("/files/v1/jobs/mine").json()["file_count"] == 2  # nothing deduplicated


def test_job_call_rules(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    pdf = doc_server.url("/one-page.pdf")
    bad = [
        {},
        {"files": []},
        {"files": "x"},
        {"files": ["not-an-object"]},
        {"files": [{"source_uri": pdf, "custom_id": "c"}]},  # custom_id needs job_id
        {"job_id": "j", "files": [{"source_uri": pdf, "custom_id": "bad/id"}]},
        {"job_id": "j", "files": [{"source_uri": pdf, "custom_id": "x" * 257}]},
        {"job_id": "bad id", "files": [{"source_uri": pdf}]},
        {"job_id": "j", "files": [{"source_uri": pdf}], "conversion_formats": {"gif": True}},
        {"job_id": "j", "files": [{"source_uri": pdf}], "callback_headers": {"A": "b"}},
    ]
    for body in bad:
        assert_error(client.post("/files/v1/jobs", json=body), 400, "bad_request")
    # a rejected call leaves nothing behind
    stats = mathpix_emulator.stats()
    assert stats["files_created"] == 0 and stats["jobs_created"] == 0
    assert_error(client.get("/files/v1/jobs/j"), 404, "not_found")
    assert stats["requests"] == len(bad)  # counted on arrival, before validation


def test_duplicate_custom_id_in_one_call_fails_the_later_item(client: httpx.Client, doc_server) -> None:
    pdf = doc_server.url("/one-page.pdf")
    two = [{"source_uri": pdf, "custom_id": "c"}, {"source_uri": pdf, "custom_id": "c"}]
    resp = client.post("/files/v1/jobs", json={"job_id": "dup", "files": two})
    assert resp.json() == {"job_id": "dup", "file_count": 2}  # accept and defer
    status = wait_job(client, "dup")
    assert (status["file_count"], status["files_completed"], status["files_errored"]) == (2, 1, 1)
    first = client.get("/files/v1/jobs/dup/files/c").json()
    assert wait_file(client, first["file_id"])["status"] == "completed"  # the pair is the earlier item's
    errored = client.get("/files/v1/jobs/dup/files", params={"status": "error"}).json()["files"]
    assert [f["custom_id"] for f in errored] == ["c"] and errored[0]["file_id"] != first["file_id"]
    failed = client.get(f"/files/v1/{errored[0]['file_id']}").json()
    assert failed["error"] == "bad_request" and "more than once" in failed["error_info"]["message"]


def test_idempotency_key_is_ignored_with_a_job_id_on_uri(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    body = {"source_uri": doc_server.url("/one-page.pdf"), "job_id": "keyed"}
    a = client.post("/files/v1/uri", json=body, headers={"Idempotency-Key": "k-1"}).json()
    b = client.post("/files/v1/uri", json=body, headers={"Idempotency-Key": "k-1"}).json()
    assert a != b and mathpix_emulator.stats()["files_created"] == 2  # only custom_id deduplicates in a job
    alone = {"source_uri": doc_server.url("/one-page.pdf")}
    c = client.post("/files/v1/uri", json=alone, headers={"Idempotency-Key": "k-1"}).json()
    d = client.post("/files/v1/uri", json=alone, headers={"Idempotency-Key": "k-1"}).json()
    assert c == d and c not in (a, b)


def test_lookup_by_custom_id(client: httpx.Client, doc_server) -> None:
    client.post("/files/v1/jobs", json={"job_id": "look", "files": items(doc_server, 3)})
    body = client.get("/files/v1/jobs/look/files/doc-00001").json()
    assert body["custom_id"] == "doc-00001" and body["filename"] == "one-page.pdf"
    assert body["file_id"] == client.get(f"/files/v1/{body['file_id']}").json()["file_id"]
    assert_error(client.get("/files/v1/jobs/look/files/nope"), 404, "not_found")
    assert_error(client.get("/files/v1/jobs/nope/files/doc-00001"), 404, "not_found")


def test_finalize_is_idempotent(client: httpx.Client, doc_server) -> None:
    client.post("/files/v1/jobs", json={"job_id": "fin", "files": items(doc_server, 1)})
    a = client.post("/files/v1/jobs/fin/finalize")
    b = client.post("/files/v1/jobs/fin/finalize")
    assert a.status_code == 200 and set(a.json()) == {"job_id", "finalized_at", "message"}
    assert a.json()["finalized_at"] == b.json()["finalized_at"]
    assert_error(client.post("/files/v1/jobs/nope/finalize"), 404, "not_found")


def test_list_jobs_newest_first_with_paging_and_dates(client: httpx.Client, doc_server) -> None:
    for i in range(7):
        client.post("/files/v1/jobs", json={"job_id": f"job-{i}", "files": items(doc_server, 1)})
    page = client.get("/files/v1/jobs", params={"limit": 3}).json()
    assert set(page) == {"jobs", "next_page_token"}
    assert [j["job_id"] for j in page["jobs"]] == ["job-6", "job-5", "job-4"]
    assert set(page["jobs"][0]) == {"job_id", "created_at"}
    seen, token = [], None
    while True:
        params: dict[str, object] = {"limit": 3}
        if token:
            params["paging_state"] = token
        body = client.get("/files/v1/jobs", params=params).json()
        seen += [j["job_id"] for j in body["jobs"]]
        token = body["next_page_token"]
        if not token:
            break
    assert seen == [f"job-{i}" for i in range(6, -1, -1)]
    today = dt.datetime.now(dt.timezone.utc).date()
    assert len(client.get("/files/v1/jobs", params={"start": today.isoformat()}).json()["jobs"]) == 7
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert client.get("/files/v1/jobs", params={"start": tomorrow}).json()["jobs"] == []
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert client.get("/files/v1/jobs", params={"end": yesterday}).json()["jobs"] == []
    # only one of start/end is that single day, not an open range
    assert client.get("/files/v1/jobs", params={"start": yesterday}).json()["jobs"] == []
    assert len(client.get("/files/v1/jobs", params={"end": today.isoformat()}).json()["jobs"]) == 7
    assert client.get("/files/v1/jobs", params={"end": tomorrow}).json()["jobs"] == []
    both = {"start": yesterday, "end": tomorrow}
    assert len(client.get("/files/v1/jobs", params=both).json()["jobs"]) == 7
    assert len(client.get("/files/v1/jobs").json()["jobs"]) == 7  # default limit 100
    for params in ({"start": "22-11-2026"}, {"end": "2026-13-01"}, {"limit": 0}, {"paging_state": "!!"}):
        assert_error(client.get("/files/v1/jobs", params=params), 400, "bad_request")


def test_deleted_member_leaves_the_job_and_frees_its_pair(
    client: httpx.Client, mathpix_emulator, doc_server
) -> None:
    client.post("/files/v1/jobs", json={"job_id": "del", "files": items(doc_server, 3)})
    wait_job(client, "del")
    victim = client.get("/files/v1/jobs/del/files/doc-00001").json()["file_id"]
    assert client.delete(f"/files/v1/{victim}").status_code == 200
    job = client.get("/files/v1/jobs/del").json()
    assert (job["file_count"], job["files_completed"]) == (2, 2)
    assert [f["custom_id"] for f in list_all(client, "del")] == ["doc-00000", "doc-00002"]
    assert_error(client.get("/files/v1/jobs/del/files/doc-00001"), 404, "not_found")
    again = client.post("/files/v1/jobs", json={"job_id": "del", "files": items(doc_server, 3)}).json()
    assert again == {"job_id": "del", "file_count": 3}
    new_id = client.get("/files/v1/jobs/del/files/doc-00001").json()["file_id"]
    assert new_id != victim
    assert wait_until(lambda: client.get(f"/files/v1/{new_id}").json()["status"] == "completed")


def test_fresh_members_may_not_be_listed_yet(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    """Accept and defer: with a listing lag, a just-accepted job lists fewer files than it counts."""
    mathpix_emulator.configure(listing_lag=2.0)
    client.post("/files/v1/jobs", json={"job_id": "lag", "files": items(doc_server, 3)})
    assert list_all(client, "lag") == []
    assert_error(client.get("/files/v1/jobs/lag/files/doc-00000"), 404, "not_found")
    assert wait_until(lambda: len(list_all(client, "lag")) == 3)
    client.post("/files/v1/jobs", json={"job_id": "lag", "files": items(doc_server, 2, start=3)})
    assert client.get("/files/v1/jobs/lag").json()["file_count"] == 5
    assert [f["custom_id"] for f in list_all(client, "lag", limit=2)] == [
        "doc-00000",
        "doc-00001",
        "doc-00002",
    ]
    assert_error(client.get("/files/v1/jobs/lag/files/doc-00003"), 404, "not_found")
    assert client.get("/files/v1/jobs/lag/files/doc-00002").status_code == 200
    assert wait_until(lambda: len(list_all(client, "lag")) == 5)
