"""Bucket sources and destinations through real storage emulators (moto S3, gcp-storage-emulator).

The emulator reads ``s3://``/``gs://`` sources and writes outputs to ``destination_uri``
through ``testing.buckets.BucketStore``; these tests drive it with plain httpx and check
the bucket contents with the vendors' clients.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from mathpix_contract import APP_KEY, assert_error, make_pdf, wait_file, wait_job

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from airflow_provider_mathpix.testing.grants import keyless_grant
from airflow_provider_mathpix.testing.storage_servers import (
    StorageServer,
    create_bucket,
    gcs_emulator_server,
    list_keys,
    moto_s3_server,
    put_objects,
)

PROVIDER = {"s3": "aws", "gs": "gcp"}


def grant(client: httpx.Client, kind: str, bucket: str) -> dict[str, Any]:
    """A registration body for ``bucket`` (the AWS grant names the group's external_id)."""
    identities = client.get("/files/v1/onboarding/identities").json()
    return keyless_grant(PROVIDER[kind], bucket, identities)


@pytest.fixture(scope="module", params=["s3", "gs"])
def bucket_server(request: pytest.FixtureRequest) -> Iterator[StorageServer]:
    factory = moto_s3_server if request.param == "s3" else gcs_emulator_server
    with factory() as server:
        yield server


@pytest.fixture
def setup(
    bucket_server: StorageServer, mathpix_emulator_factory: Callable[..., Any]
) -> tuple[StorageServer, httpx.Client, str, str]:
    """An emulator wired to the storage server, with registered source and output buckets."""
    emu = mathpix_emulator_factory(storage=bucket_server.bucket_store_config)
    client = httpx.Client(base_url=emu.url, headers={"app_key": APP_KEY}, timeout=60)
    src, out = f"src-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
    for bucket in (src, out):
        create_bucket(bucket_server, bucket)
        resp = client.post("/files/v1/data-sources", json=grant(client, bucket_server.kind, bucket))
        assert resp.status_code == 200, resp.text
    put_objects(
        bucket_server, src, {"papers/a.pdf": make_pdf(["Bucket paper A"]), "papers/b.pdf": make_pdf(["B"])}
    )
    return bucket_server, client, src, out


def test_source_read_and_outputs_written(setup: tuple[StorageServer, httpx.Client, str, str]) -> None:
    server, client, src, out = setup
    fid = client.post(
        "/files/v1/uri",
        json={
            "source_uri": server.uri(src, "papers/a.pdf"),
            "destination_uri": server.uri(out, "results/"),
            "conversion_formats": {"md": True, "docx": True},
        },
    ).json()["file_id"]
    body = wait_file(client, fid)
    assert body["status"] == "completed", body
    assert body["destination_uri"] == server.uri(out, "results/")
    keys = set(list_keys(server, out, "results/"))
    assert {f"results/{fid}.{ext}" for ext in ("mmd", "md", "docx", "lines.json", "lines.mmd.json")} == keys
    assert "Bucket paper A" in client.get(f"/files/v1/{fid}.mmd").text


def test_job_with_basenames_missing_objects_and_probe(
    setup: tuple[StorageServer, httpx.Client, str, str],
) -> None:
    server, client, src, out = setup
    files = [
        {
            "source_uri": server.uri(src, f"papers/{name}.pdf"),
            "custom_id": name,
            "destination_uri": server.uri(out, f"done/{name}"),
            "destination_basename": name,
        }
        for name in ("a", "b", "missing")
    ]
    client.post("/files/v1/jobs", json={"job_id": "bucket-job", "files": files})
    job = wait_job(client, "bucket-job")
    assert (job["files_completed"], job["files_errored"]) == (2, 1)
    missing = client.get("/files/v1/jobs/bucket-job/files/missing").json()
    assert missing["error"] == "not_found"
    assert set(list_keys(server, out, "done/")) == {
        f"done/{n}/{n}.{ext}" for n in ("a", "b") for ext in ("mmd", "lines.json", "lines.mmd.json")
    }
    ds = client.get("/files/v1/data-sources").json()["data_sources"][0]
    probe = client.post(f"/files/v1/data-sources/{ds['data_source_id']}/test").json()
    assert probe["result"] == "ok" and probe["checks"] == {"read": True, "write": True}


def test_registered_but_missing_bucket_is_access_denied(
    setup: tuple[StorageServer, httpx.Client, str, str],
) -> None:
    server, client, _, _ = setup
    registered = client.post("/files/v1/data-sources", json=grant(client, server.kind, "no-such-bucket"))
    if server.kind == "gs":  # GCS registration verifies bucket control up front
        assert_error(registered, 400, "bad_request")
        return
    assert registered.status_code == 200, registered.text
    fid = client.post("/files/v1/uri", json={"source_uri": server.uri("no-such-bucket", "a.pdf")}).json()[
        "file_id"
    ]
    assert wait_file(client, fid)["error"] == "data_source_access_denied"


def test_local_image_mode_writes_crops_beside_the_outputs(
    setup: tuple[StorageServer, httpx.Client, str, str],
) -> None:
    server, client, src, out = setup
    client.post(
        "/files/v1/jobs",
        json={
            "job_id": "scs",
            "image_output_mode": "local",
            "conversion_formats": {"md": True},
            "files": [
                {
                    "source_uri": server.uri(src, "papers/a.pdf"),
                    "custom_id": "a",
                    "destination_uri": server.uri(out, "processed/a/"),
                    "destination_basename": "a",
                }
            ],
        },
    )
    wait_job(client, "scs")
    keys = set(list_keys(server, out, "processed/a/"))
    assert "processed/a/images/a_page1.png" in keys and "processed/a/a.md" in keys
    from airflow_provider_mathpix.testing.buckets import BucketStore

    mmd = BucketStore(server.bucket_store_config).read(server.uri(out, "processed/a/a.mmd")).decode()
    assert "Bucket paper A" in mmd and "![](images/a_page1.png)" in mmd
