"""Helpers for the bucket tests: register data sources, run small DAGs."""

from __future__ import annotations

from typing import Any

from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from airflow_provider_mathpix.testing.grants import keyless_grant
from airflow_provider_mathpix.testing.storage_servers import AZURITE_ACCOUNT, StorageServer

PROVIDER = {"s3": "aws", "gs": "gcp", "azure": "azure"}


def data_source_args(server: StorageServer, bucket: str) -> dict[str, Any]:
    """Arguments of ``create_data_source`` for ``bucket`` on ``server``'s cloud (the contract's grant)."""
    identities = MathpixHook().get_onboarding_identities()
    account = AZURITE_ACCOUNT if server.kind == "azure" else None
    return keyless_grant(PROVIDER[server.kind], bucket, identities, storage_account=account)


def register(server: StorageServer, *buckets: str) -> list[str]:
    """Register buckets as Mathpix data sources in the emulator (through the hook)."""
    hook = MathpixHook()
    return [hook.create_data_source(**data_source_args(server, b))["data_source_id"] for b in buckets]


def submit_and_wait(
    source_prefix: str, job_id: str, conversion_formats: dict[str, bool] | None = None, timeout: float = 60
) -> dict[str, Any]:
    """Submit every object under ``source_prefix`` as one job through the hook; wait until it completes."""
    import time

    from airflow_provider_mathpix.prefix_walk import iter_source_items

    hook = MathpixHook()
    submitted = hook.submit_job(
        iter_source_items(source_prefix), job_id=job_id, conversion_formats=conversion_formats or {"md": True}
    )
    deadline = time.monotonic() + timeout
    while True:
        job = hook.get_job(submitted["job_id"])
        if job["status"] == "completed":
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not complete: {job}")
        time.sleep(0.1)


def one_task_dag(dag_id: str, operator_factory: Any) -> Any:
    """A DAG holding the one operator ``operator_factory()`` builds (inside the DAG context)."""
    from datetime import datetime

    from airflow.sdk import DAG

    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        operator_factory()
    return dag


def warm_up_dag_runs() -> None:
    """Run a no-op DAG once: the first ``dag.test()`` of a process spends seconds starting up."""
    from airflow.providers.standard.operators.empty import EmptyOperator

    from tests.system.support import run_dag

    run_dag(one_task_dag("storage_warm_up", lambda: EmptyOperator(task_id="noop")))
