"""Public surface added for DAG authors: one module of exceptions, the hook's ``base_url``."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_mathpix import exceptions
from airflow_provider_mathpix.hooks.mathpix import MathpixHook
from tests.system.support import APP_KEY, connection_uri_env

WAIT_FAILURES = ("MathpixFileFailed", "MathpixJobFilesErrored", "MathpixWaitTimeout")


@pytest.mark.parametrize("name", WAIT_FAILURES)
def test_wait_failures_are_one_class_under_every_import_path(name):
    from airflow_provider_mathpix.operators import files, jobs

    cls = getattr(exceptions, name)
    assert issubclass(cls, exceptions.MathpixError)
    assert name in exceptions.__all__
    for module in (files, jobs):
        if hasattr(module, name):
            assert getattr(module, name) is cls
    assert cls.__module__ == "airflow_provider_mathpix.exceptions"


def test_wait_failures_keep_their_fields_through_pickling():
    failures = [
        exceptions.MathpixWaitTimeout("too slow", job_id="j1"),
        exceptions.MathpixFileFailed("f1", "not_found", "gone"),
        exceptions.MathpixJobFilesErrored(
            "2 of 3 errored",
            job_id="j2",
            files_errored=2,
            file_count=3,
            errors_sample=[{"custom_id": "a", "file_id": "f", "error": "not_found"}],
        ),
    ]
    for exc in failures:
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
        assert back.code == exc.code and vars(back) == vars(exc)


def test_hook_base_url_is_public_and_read_only(monkeypatch):
    for key, value in connection_uri_env("http://127.0.0.1:8123/", "mathpix_surface").items():
        monkeypatch.setenv(key, value)
    hook = MathpixHook(mathpix_conn_id="mathpix_surface")
    assert hook.base_url == "http://127.0.0.1:8123"
    assert APP_KEY not in hook.base_url
    with pytest.raises(AttributeError):
        hook.base_url = "https://elsewhere.example"  # type: ignore[misc]

    monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_DEFAULT_HOST", '{"conn_type": "mathpix", "password": "k"}')
    assert MathpixHook(mathpix_conn_id="mathpix_default_host").base_url == "https://api.mathpix.com"
