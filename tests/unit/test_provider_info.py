"""The provider is discoverable the way Airflow discovers providers: through the entry point."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from airflow_provider_mathpix import get_provider_info


def test_entry_point_points_at_get_provider_info() -> None:
    eps = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider")
    ]
    assert [ep.value for ep in eps] == ["airflow_provider_mathpix:get_provider_info"]
    assert eps[0].load()()["package-name"] == "airflow-provider-mathpix"


def test_every_listed_module_imports() -> None:
    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for e in info[kind]
        for m in e["python-modules"]
    ]
    assert len(modules) >= 8
    for name in modules:
        importlib.import_module(name)
    hook_path = info["connection-types"][0]["hook-class-name"]
    module, _, cls = hook_path.rpartition(".")
    hook = getattr(importlib.import_module(module), cls)
    assert hook.conn_type == "mathpix"
    assert hook.default_conn_name == "mathpix_default"


def test_providers_manager_sees_the_connection_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-mathpix" in manager.providers
    behaviour = manager.field_behaviours["mathpix"]
    assert behaviour is not None
    assert behaviour["relabeling"] == {"login": "App ID", "password": "App Key", "host": "API URL"}
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
