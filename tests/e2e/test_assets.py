"""Asset events from the download operator schedule the consumer DAG (``dag.test()`` level).

How Airflow 3.3 gets from an asset event to a DagRun (read in the installed source):
the task's success goes through the execution API, which registers its outlet events
(``AssetManager.register_asset_change``): an ``AssetEvent`` row, then one
``AssetDagRunQueue`` row per DAG scheduled on the asset. The scheduler's loop asks
``DagModel.dags_needing_dagruns()`` which DAGs are due; a DAG whose every scheduling
asset has a queue row is returned in ``triggered_date_by_dag`` and the scheduler creates
an ``asset_triggered`` run for it. This test runs the producer for real and asks that
same function; ``test_real_deployment.py`` then watches a real scheduler create and run
the consumer.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mathpix.demo.environment import FlagshipSetup, emulated_services
from airflow_provider_mathpix.demo.runner import register_dags

REPO = Path(__file__).resolve().parents[2]
PRODUCER = "example_mathpix_assets_producer"
CONSUMER = "example_mathpix_assets_consumer"


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlagshipSetup]:
    with emulated_services(tmp_path, bucket="mathpix-assets-test", poll_interval=0.2) as setup:
        for key, value in setup.env.items():
            monkeypatch.setenv(key, value)
        yield setup


def _load_module() -> Any:
    path = REPO / "example_dags" / "example_mathpix_assets.py"
    spec = importlib.util.spec_from_file_location("example_mathpix_assets_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_download_asset_event_queues_the_consumer_dag(services: FlagshipSetup) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    module = _load_module()
    asset_uri = module.LIBRARY_MARKDOWN.uri
    assert asset_uri == "s3://mathpix-assets-test/library/markdown"
    register_dags(module.producer, module.consumer)

    run = module.producer.test()
    assert str(getattr(run.state, "value", run.state)) == "success"

    with create_session() as session:
        asset = session.scalar(select(AssetModel).where(AssetModel.uri == asset_uri))
        assert asset is not None
        events = session.scalars(
            select(AssetEvent).where(AssetEvent.asset_id == asset.id, AssetEvent.source_run_id == run.run_id)
        ).all()
        assert len(events) == 1
        extra = events[0].extra
        assert extra["files"] == len(services.documents)
        assert extra["outputs_written"] + extra["outputs_skipped"] == len(services.documents)
        assert extra["manifest_uri"]
        assert events[0].source_task_id == "publish_markdown"

        queued = session.scalars(
            select(AssetDagRunQueue.target_dag_id).where(AssetDagRunQueue.asset_id == asset.id)
        ).all()
        assert CONSUMER in queued
        # The scheduler's own question: which DAGs need a run now, and which because of assets?
        _, triggered_date_by_dag = DagModel.dags_needing_dagruns(session)
        assert CONSUMER in triggered_date_by_dag
        session.rollback()  # release the rows dags_needing_dagruns locked

    markdown = [k for k in services.list_keys("library/markdown/") if k.endswith(".md")]
    assert len(markdown) == len(services.documents)
