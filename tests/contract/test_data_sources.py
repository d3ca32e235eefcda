"""Data sources, onboarding identities, and bucket URIs that need a registered data source."""

from __future__ import annotations

import httpx
import pytest
from mathpix_contract import assert_error, wait_file

DS_KEYS = {"data_source_id", "name", "provider", "bucket", "region", "auth_method", "created_at"}
ROLE = "arn:aws:iam::123456789012:role/mathpix-access"


def external_id(client: httpx.Client) -> str:
    return str(client.get("/files/v1/onboarding/identities").json()["aws"]["external_id"])


def aws_role(client: httpx.Client) -> dict[str, str]:
    return {"iam_role_arn": ROLE, "aws_external_id": external_id(client)}


def register(client: httpx.Client, **fields: object) -> httpx.Response:
    body: dict[str, object] = {
        "provider": "aws",
        "bucket": "acme-source",
        "auth_method": "iam_role",
        "region": "us-east-1",
        "provider_specific_details": aws_role(client),
    }
    body.update(fields)
    return client.post("/files/v1/data-sources", json=body)


def test_register_list_delete(client: httpx.Client) -> None:
    resp = register(
        client,
        name="source",
        auth_method="access_key",
        provider_specific_details={"aws_access_key_id": "AKIAEXAMPLE"},
        secret="s3cr3t",
    )
    assert resp.status_code == 200, resp.text
    ds = resp.json()
    assert (
        set(ds) == DS_KEYS
        and ds["provider"] == "aws"
        and ds["bucket"] == "acme-source"
        and ds["name"] == "source"
        and ds["auth_method"] == "access_key"
    )
    listing = client.get("/files/v1/data-sources")
    assert listing.json() == {"data_sources": [ds]}
    assert "s3cr3t" not in listing.text and "AKIAEXAMPLE" not in listing.text
    gone = client.delete(f"/files/v1/data-sources/{ds['data_source_id']}")
    assert gone.json() == {"data_source_id": ds["data_source_id"], "status": "deleted"}
    assert client.get("/files/v1/data-sources").json() == {"data_sources": []}
    assert_error(client.delete(f"/files/v1/data-sources/{ds['data_source_id']}"), 404, "not_found")
    assert_error(client.post("/files/v1/data-sources/ds_nope/test"), 404, "not_found")


def test_duplicate_registration_is_a_conflict(client: httpx.Client) -> None:
    assert register(client).status_code == 200
    assert_error(register(client, name="again"), 409, "conflict")
    azure = {"azure_tenant_id": "t", "storage_account": "acmestorage"}
    other = register(client, provider="azure", auth_method="azure_ad", provider_specific_details=azure)
    assert other.status_code == 200, other.text  # other provider


@pytest.mark.parametrize(
    "fields",
    [
        {"provider": "ibm"},
        {"bucket": ""},
        {"bucket": None},
        {"bucket": "acme/key"},
        {"auth_method": "password"},
        {"provider": "gcp", "auth_method": "iam_role"},
        {"provider": "gcp", "auth_method": "access_key"},
        {"provider": "azure", "auth_method": "service_account"},
        {"provider": "azure", "auth_method": "access_key"},
        {"provider_specific_details": "nope"},
        {"provider_specific_details": {}},
        {"provider_specific_details": None},
        # the details of the pair, exactly
        {"provider_specific_details": {"role_arn": ROLE}},
        {"provider_specific_details": {"iam_role_arn": ROLE}},
        {
            "auth_method": "access_key",
            "provider_specific_details": {"aws_access_key_id": "AKIA"},
        },  # no secret
        {
            "auth_method": "access_key",
            "provider_specific_details": {"aws_access_key_id": "AKIA"},
            "secret": "s",
        }
        | {"region": None},
        {"provider": "azure", "auth_method": "azure_ad", "provider_specific_details": {"account_name": "a"}},
        {"secret": "s3cr3t"},  # a secret on a keyless grant
    ],
)
def test_registration_rules(client: httpx.Client, fields: dict[str, object]) -> None:
    assert_error(register(client, **fields), 400, "bad_request")


def test_registration_extra_details_key_is_refused(client: httpx.Client) -> None:
    details = {**aws_role(client), "secret": "s3cr3t"}
    assert_error(register(client, provider_specific_details=details), 400, "bad_request")


def test_external_id_must_be_the_groups(client: httpx.Client) -> None:
    details = {"iam_role_arn": ROLE, "aws_external_id": "not-the-group-external-id"}
    assert_error(register(client, provider_specific_details=details), 400, "bad_request")


def test_gcs_registration_verifies_bucket_control(client: httpx.Client) -> None:
    details = {"gcp_project_id": "p", "target_sa_email": "sa@p.iam.gserviceaccount.com"}
    resp = register(
        client,
        provider="gcp",
        bucket="acme-gcs",
        auth_method="service_account",
        provider_specific_details=details,
    )
    assert_error(resp, 400, "bad_request")  # this emulator has no GCS endpoint: control cannot be verified
    assert client.get("/files/v1/data-sources").json() == {"data_sources": []}


def test_probe_answers_200_even_when_it_fails(client: httpx.Client) -> None:
    ds = register(client).json()
    resp = client.post(f"/files/v1/data-sources/{ds['data_source_id']}/test")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"result", "checks", "message"} and set(body["checks"]) == {"read", "write"}
    assert body["result"] == "failed"  # this emulator has no S3 endpoint configured


def test_onboarding_identities(client: httpx.Client) -> None:
    body = client.get("/files/v1/onboarding/identities").json()
    assert set(body["aws"]) == {"trust_account_id", "external_id"} and body["aws"]["external_id"]
    assert set(body["azure"]) == {"app_id", "tenant_id"}
    assert set(body["gcp"]) == {"service_account_email", "external_id"}
    assert client.get("/files/v1/onboarding/identities").json() == body  # stable per group


@pytest.mark.parametrize(
    ("uri", "ds"),
    [
        (
            "s3://acme-source/contracts/a.pdf",
            {"provider": "aws", "bucket": "acme-source", "auth_method": "iam_role"},
        ),
        (
            "https://acmestorage.blob.core.windows.net/contracts/a.pdf",
            {
                "provider": "azure",
                "bucket": "contracts",
                "auth_method": "azure_ad",
                "provider_specific_details": {"azure_tenant_id": "t", "storage_account": "acmestorage"},
            },
        ),
    ],
)
def test_bucket_sources_need_a_data_source(client: httpx.Client, uri: str, ds: dict[str, object]) -> None:
    assert_error(client.post("/files/v1/uri", json={"source_uri": uri}), 404, "data_source_not_found")
    assert register(client, **ds).status_code == 200
    resp = client.post("/files/v1/uri", json={"source_uri": uri})
    assert resp.status_code == 200, resp.text
    # no bucket endpoint is configured in this emulator, so reading fails later as the file's error
    assert wait_file(client, resp.json()["file_id"])["status"] == "error"


def test_azure_storage_account_must_match(client: httpx.Client) -> None:
    details = {"azure_tenant_id": "t", "storage_account": "acct1"}
    assert (
        register(
            client, provider="azure", bucket="box", auth_method="azure_ad", provider_specific_details=details
        ).status_code
        == 200
    )
    ok = client.post("/files/v1/uri", json={"source_uri": "https://acct1.blob.core.windows.net/box/a.pdf"})
    assert ok.status_code == 200
    other = client.post("/files/v1/uri", json={"source_uri": "https://acct2.blob.core.windows.net/box/a.pdf"})
    assert_error(other, 404, "data_source_not_found")


def test_destination_rules(client: httpx.Client, doc_server) -> None:
    src = doc_server.url("/one-page.pdf")
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": src, "destination_uri": "s3://out/x/"}),
        404,
        "data_source_not_found",
    )
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": src, "destination_uri": "https://example.com/out/"}),
        400,
        "bad_request",
    )
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": src, "image_output_mode": "local"}),
        400,
        "bad_request",
    )
    resp = client.post(
        "/files/v1/jobs",
        json={
            "job_id": "dest",
            "files": [{"source_uri": src, "custom_id": "a", "destination_uri": "gs://out/a/"}],
        },
    )
    assert resp.status_code == 200  # accept and defer
    body = wait_file(client, client.get("/files/v1/jobs/dest/files/a").json()["file_id"])
    assert body["error"] == "data_source_not_found"


def test_revoked_grant_is_access_denied(client: httpx.Client, mathpix_emulator) -> None:
    ds = register(client).json()
    httpx.post(f"{mathpix_emulator.url}/_emulator/data-sources/{ds['data_source_id']}/revoke")
    assert_error(
        client.post("/files/v1/uri", json={"source_uri": "s3://acme-source/a.pdf"}),
        403,
        "data_source_access_denied",
    )
    probe = client.post(f"/files/v1/data-sources/{ds['data_source_id']}/test").json()
    assert probe["result"] == "failed" and probe["checks"] == {"read": False, "write": False}
