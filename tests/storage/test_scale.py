"""A 50,000-object S3 prefix becomes one job through the job operator, in a real DAG run.

Memory flatness is measured in ``benchmarks/storage_prefix_submit.py`` (tests never time
or weigh things); here the walk must be correct at scale: every object becomes exactly
one item, all in one job, each with its own stable custom_id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from airflow_provider_mathpix.testing.storage_servers import StorageServer, seeded_moto_s3_server

from .support import register

N_OBJECTS = 50_000


@pytest.fixture(scope="module")
def big_prefix() -> Iterator[StorageServer]:
    with seeded_moto_s3_server("big-prefix", "scans/2026/", N_OBJECTS) as server:
        yield server


@pytest.mark.slow
def test_fifty_thousand_objects_become_one_job(
    big_prefix: StorageServer,
    mathpix_emulator_factory: Callable[..., Any],
    airflow_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_mathpix.hooks.mathpix import MathpixHook
    from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator
    from tests.system.support import connection_uri_env, run_dag, task_states, xcom

    # One fetch worker: the emulator's background reads of 50,000 sources stay out of the way.
    emu = mathpix_emulator_factory(storage=big_prefix.bucket_store_config, fetch_workers=1)
    for key, value in {**big_prefix.airflow_env, **connection_uri_env(emu.url)}.items():
        monkeypatch.setenv(key, value)
    register(big_prefix, "big-prefix")

    with DAG("scale_prefix_submit", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        MathpixSubmitJobOperator(
            task_id="submit",
            source_prefix=big_prefix.uri("big-prefix", "scans/2026"),
            suffixes=[".pdf"],
            check_data_sources=True,
            wait_for_completion=False,
        )
    run = run_dag(dag)

    assert task_states(run) == {"submit": "success"}
    result = xcom(run, "submit")
    assert result["file_count"] == N_OBJECTS
    stats = emu.stats()
    assert stats["jobs_created"] == 1
    assert stats["files_created"] == N_OBJECTS
    hook = MathpixHook()
    assert hook.get_job(result["job_id"])["file_count"] == N_OBJECTS
    # custom_ids are the keys relative to the prefix: spot-check both ends of the listing.
    assert hook.get_job_file(result["job_id"], "0000000.pdf")["custom_id"] == "0000000.pdf"
    last = f"{N_OBJECTS - 1:07d}.pdf"
    assert hook.get_job_file(result["job_id"], last)["custom_id"] == last
