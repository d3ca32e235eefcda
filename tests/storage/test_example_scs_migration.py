"""The SCS-migration example DAG, end to end against S3 (moto) and the emulator, with dag.test()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.testing.storage_servers import (
    StorageServer,
    list_keys,
    put_objects,
    read_object,
)


def test_scs_migration_example_end_to_end(
    s3_server: StorageServer,
    make_bucket: Callable[[StorageServer, str], str],
    bucket_emulator: Any,
    sample_pdf: bytes,
    airflow_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.system.support import load_example_dag, run_dag, task_states, xcom

    monkeypatch.setenv("MATHPIX_SCS_POLL_INTERVAL", "0.3")
    # the group's external id, as an operator copies it from onboarding into the IAM role's trust policy
    monkeypatch.setenv(
        "MATHPIX_SCS_EXTERNAL_ID", MathpixHook().get_onboarding_identities()["aws"]["external_id"]
    )
    src = make_bucket(s3_server, "acme-source")
    out = make_bucket(s3_server, "acme-output")
    contracts = {f"contracts/2026-05/contract-00{i}.pdf": sample_pdf for i in (1, 2)}
    put_objects(s3_server, src, {**contracts, "contracts/2026-05/index.csv": b"a,b\n"})

    dag = load_example_dag("example_mathpix_scs_migration")
    run = run_dag(
        dag,
        run_conf={
            "source_prefix": f"s3://{src}/contracts/2026-05/",
            "output_prefix": f"s3://{out}/processed/2026-05/",
        },
    )

    assert set(task_states(run).values()) == {"success"}, task_states(run)
    job = xcom(run, "convert_prefix")
    assert (job["file_count"], job["files_completed"], job["files_errored"]) == (2, 2, 0)
    # Both buckets were registered by the DAG (a rerun would find them: see the operator tests).
    registered = {(d["provider"], d["bucket"]) for d in MathpixHook().list_data_sources()}
    assert registered == {("aws", src), ("aws", out)}

    # The SCS layout: <output prefix>/<custom_id>/<basename>.<ext> for .mmd, .md, .docx
    # (basename = custom_id, as in the migration guide's example).
    keys = set(list_keys(s3_server, out, "processed/2026-05/"))
    for name in ("contract-001.pdf", "contract-002.pdf"):
        for ext in ("mmd", "md", "docx", "lines.json"):
            assert f"processed/2026-05/{name}/{name}.{ext}" in keys, sorted(keys)
    assert not any("index.csv" in k for k in keys)

    # image_output_mode="local": the crops land in <destination_uri>/images/ (one stand-in PNG
    # per page of the one-page sample) and the Markdown links them relatively, as SCS did.
    for name in ("contract-001.pdf", "contract-002.pdf"):
        folder = f"processed/2026-05/{name}/"
        crops = sorted(k for k in keys if k.startswith(f"{folder}images/"))
        assert crops == [f"{folder}images/{name}_page1.png"], sorted(keys)
        assert read_object(s3_server, out, crops[0]).startswith(b"\x89PNG\r\n\x1a\n")
        for ext in ("mmd", "md"):
            text = read_object(s3_server, out, f"{folder}{name}.{ext}").decode()
            assert f"![](images/{name}_page1.png)" in text, text

    # Retention: the files are gone from Mathpix storage once the outputs are safe.
    deleted = xcom(run, "delete_from_mathpix")
    assert (deleted["requested"], deleted["deleted"], deleted["conflicts"]) == (2, 2, 0)
