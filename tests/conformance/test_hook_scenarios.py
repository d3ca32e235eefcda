"""The provider's hook through the scenarios of mpxpy's own tests, against the same emulator setup.

Where ``test_mpxpy_conformance.py`` shows the emulator answers like Mathpix, this shows the
hook asks like Mathpix expects: the same sample URL served from loopback, the same
data-source grant shape, the same waits.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.testing import MathpixEmulator
from airflow_provider_mathpix.triggers.mathpix import MathpixFileTrigger, MathpixJobTrigger

from . import mpxpy_suite as suite

SAMPLE_PDF_URL = f"https://{suite.SAMPLE_HOST}/bitcoin-7.pdf"
BAD_PDF_URL = f"https://{suite.SAMPLE_HOST}/does-not-exist-mpxpy-test.pdf"
DUMMY_ROLE = "arn:aws:iam::123456789012:role/mpxpy-integration-dummy"


@pytest.fixture(scope="module")
def emulator() -> Iterator[MathpixEmulator]:
    with (
        suite.serve(suite.sample_site()) as site,
        MathpixEmulator(public_hosts={suite.SAMPLE_HOST: site}) as emu,
    ):
        yield emu


@pytest.fixture
def hook(emulator: MathpixEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[MathpixHook]:
    emulator.reset()
    conn = {"conn_type": "mathpix", "host": emulator.url, "login": "hook-app", "password": "hook-key"}
    conn["extra"] = {"max_retries": 3, "retry_max_wait": 0.01}
    monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_DEFAULT", json.dumps(conn))
    with MathpixHook() as h:
        yield h


def _events(trigger: Any) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def test_tex_zip_wait_ends_and_downloads(hook: MathpixHook) -> None:
    file_id = hook.submit_file(SAMPLE_PDF_URL, conversion_formats={"tex.zip": True, "latex": True})
    trigger = MathpixFileTrigger(
        file_id, "mathpix_default", poll_interval=0.05, end_time=time.time() + 60, formats=["tex.zip", "tex"]
    )
    assert [e["status"] for e in _events(trigger)] == ["success"]
    assert hook.get_file(file_id)["formats"] == {"tex.zip": "completed", "latex": "completed"}
    with zipfile.ZipFile(io.BytesIO(hook.download_output(file_id, "tex.zip"))) as archive:  # type: ignore[arg-type]
        assert any(name.endswith(".tex") for name in archive.namelist())
    assert b"\\begin{document}" in hook.download_output(file_id, "tex")  # type: ignore[operator]


def test_onboarding_identities_shape(hook: MathpixHook) -> None:
    identities = hook.get_onboarding_identities()
    assert {"aws", "azure"} <= set(identities) and identities["aws"]["external_id"]
    assert set(identities["aws"]) == {"trust_account_id", "external_id"}
    assert set(identities["azure"]) == {"app_id", "tenant_id"}
    assert hook.get_onboarding_identities()["aws"]["external_id"] == identities["aws"]["external_id"]


def test_data_source_lifecycle(hook: MathpixHook) -> None:
    """Register (dummy grant) -> conflict -> probe -> list -> delete -> delete again is not_found."""
    details = {
        "iam_role_arn": DUMMY_ROLE,
        "aws_external_id": hook.get_onboarding_identities()["aws"]["external_id"],
    }
    created = hook.create_data_source(
        "aws",
        "mpxpy-test-bucket",
        "iam_role",
        provider_specific_details=details,
        name="hook integration test",
        region="us-east-1",
    )
    ds_id = created["data_source_id"]
    with pytest.raises(MathpixAPIError) as conflict:
        hook.create_data_source("aws", "mpxpy-test-bucket", "iam_role", provider_specific_details=details)
    assert conflict.value.code == "conflict"
    probe = hook.test_data_source(ds_id)
    assert probe["result"] in ("ok", "failed") and set(probe["checks"]) == {"read", "write"}
    assert ds_id in [d["data_source_id"] for d in hook.list_data_sources()]
    assert hook.delete_data_source(ds_id)["status"] == "deleted"
    with pytest.raises(MathpixAPIError) as gone:
        hook.delete_data_source(ds_id)
    assert gone.value.code == "not_found"


def test_data_source_external_id_mismatch_rejected(hook: MathpixHook) -> None:
    details = {"iam_role_arn": DUMMY_ROLE, "aws_external_id": "not-the-group-external-id"}
    with pytest.raises(MathpixAPIError) as info:
        hook.create_data_source("aws", "mpxpy-badid-bucket", "iam_role", provider_specific_details=details)
    assert info.value.http_status in (400, 403)
    assert hook.list_data_sources() == []


def test_lost_answer_on_a_job_call_without_custom_ids(hook: MathpixHook, emulator: MathpixEmulator) -> None:
    """mpxpy's job lifecycle (one good, one bad URI), with the first answer lost after processing."""
    emulator.set_faults([{"kind": "drop_after", "method": "POST", "path": "/files/v1/jobs", "count": 1}])
    result = hook.submit_job(
        [{"source_uri": SAMPLE_PDF_URL}, {"source_uri": BAD_PDF_URL}],
        job_id="hook-lost-answer",
        conversion_formats={"md": True},
    )
    assert result["file_count"] == 2
    trigger = MathpixJobTrigger(
        "hook-lost-answer", "mathpix_default", poll_interval=0.05, end_time=time.time() + 60
    )
    [event] = _events(trigger)
    assert (event["file_count"], event["files_completed"], event["files_errored"]) == (2, 1, 1)
    stats = emulator.stats()
    assert stats["faults_by_kind"] == {"drop_after": 1} and stats["files_created"] == 2
    [errored] = hook.iter_job_files("hook-lost-answer", status="error")
    assert errored["custom_id"] and hook.get_file(errored["file_id"])["error"] == "not_found"
