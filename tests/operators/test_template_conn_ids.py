"""Connection ids are template fields, as in the ASF providers: one DAG can pick its connection per run."""

from __future__ import annotations

import importlib
import inspect

from airflow_provider_mathpix import get_provider_info
from airflow_provider_mathpix._compat import BaseOperator


def _operator_classes() -> list[type]:
    info = get_provider_info()
    modules = [m for key in ("operators", "sensors") for entry in info[key] for m in entry["python-modules"]]
    return [
        obj
        for name in modules
        for obj in vars(importlib.import_module(name)).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseOperator)
        and obj.__module__ == name
        and not obj.__name__.startswith("_")
        and not inspect.isabstract(obj)
    ]


def _conn_id_parameters(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass.__module__.startswith("airflow_provider_mathpix"):
            names |= {p for p in inspect.signature(klass.__init__).parameters if p.endswith("_conn_id")}
    return names


def test_every_connection_id_argument_is_a_template_field():
    classes = _operator_classes()
    assert len(classes) >= 10
    missing = {
        cls.__name__: sorted(_conn_id_parameters(cls) - set(cls.template_fields))
        for cls in classes
        if _conn_id_parameters(cls) - set(cls.template_fields)
    }
    assert missing == {}
    assert all("mathpix_conn_id" in cls.template_fields for cls in classes)


def test_templated_mathpix_conn_id_is_rendered_before_use(airflow_db, emulator, pdf_server, monkeypatch):
    from datetime import datetime

    from airflow.sdk import DAG

    from airflow_provider_mathpix.operators.files import MathpixSubmitFileOperator
    from tests.system.support import connection_uri_env, run_dag, task_states, xcom

    for key, value in connection_uri_env(emulator.url, "mathpix_per_run").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AIRFLOW_CONN_MATHPIX_DEFAULT")  # only the templated id can work
    with DAG("templated_conn", schedule=None, start_date=datetime(2024, 1, 1), params={"conn": "x"}) as dag:
        MathpixSubmitFileOperator(
            task_id="convert",
            source_uri=pdf_server.doc("one-page.pdf"),
            mathpix_conn_id="{{ params.conn }}",
            poll_interval=0.1,
        )
    run = run_dag(dag, run_conf={"conn": "mathpix_per_run"})
    assert task_states(run) == {"convert": "success"}
    assert xcom(run, "convert")["status"] == "completed"
