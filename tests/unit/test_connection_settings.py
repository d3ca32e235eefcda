"""Connection fields → client settings: clear errors naming the connection and field."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.hooks._connection import DEFAULT_BASE_URL, settings_from_connection
from airflow_provider_mathpix.hooks._retry import backoff_seconds


def _settings(**fields: Any):  # type: ignore[no-untyped-def]
    base: dict[str, Any] = {"host": None, "port": None, "login": None, "password": "KEY-123", "extra": None}
    base.update(fields)
    return settings_from_connection("mathpix_test", **base)


def test_defaults() -> None:
    s = _settings()
    assert s.base_url == DEFAULT_BASE_URL and s.app_id is None
    assert (s.timeout, s.max_retries, s.retry_max_wait) == (30.0, 5, 60.0)


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("https://eu.mathpix.com/", None, "https://eu.mathpix.com"),
        ("api.mathpix.com", None, "https://api.mathpix.com"),
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080"),
        ("http://localhost", 9000, "http://localhost:9000"),
        ("http://[::1]:7000/base/", None, "http://[::1]:7000/base"),
    ],
)
def test_hosts(host: str, port: int | None, url: str) -> None:
    assert _settings(host=host, port=port).base_url == url


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"password": None}, "App Key"),
        ({"password": "  "}, "App Key"),
        ({"host": "http://api.mathpix.com"}, "plain http:// to a remote host"),
        ({"host": "ftp://api.mathpix.com"}, "must be an https:// URL"),
        ({"host": "https://user:pw@api.mathpix.com"}, "credentials"),
        ({"host": "https://api.mathpix.com:99999"}, "not a valid URL"),
        ({"extra": "{not json"}, "extra must be a JSON object"),
        ({"extra": '["a"]'}, "extra must be a JSON object"),
        ({"extra": {"timeout": "fast"}}, "'timeout' must be a number"),
        ({"extra": {"timeout": 0}}, "'timeout' must be > 0"),
        ({"extra": {"max_retries": -1}}, "'max_retries' must be >= 0"),
        ({"extra": {"max_retries": 1.5}}, "'max_retries' must be a number"),
    ],
)
def test_bad_connections_name_the_connection_and_field(fields: dict[str, Any], rule: str) -> None:
    with pytest.raises(MathpixValidationError, match=rule) as info:
        _settings(**fields)
    assert "mathpix_test" in str(info.value)
    assert "KEY-123" not in str(info.value)


def test_extras_parse_from_json_text() -> None:
    s = _settings(extra='{"timeout": "5", "max_retries": 0, "retry_max_wait": 0.01, "retry_deadline": 9}')
    assert (s.timeout, s.max_retries, s.retry_max_wait, s.retry_deadline) == (5.0, 0, 0.01, 9.0)


def test_app_key_never_in_repr() -> None:
    assert "KEY-123" not in repr(_settings())


def test_backoff_honours_retry_after_within_the_cap() -> None:
    assert (
        3 <= backoff_seconds(1, cap=10, retry_after=3) <= 4.5
    )  # the header, plus jitter (RETRY_AFTER_JITTER)
    assert backoff_seconds(1, cap=2, retry_after=30) == 2
    for attempt in range(1, 12):
        wait = backoff_seconds(attempt, cap=8, retry_after=None)
        step = min(8, 0.5 * 2 ** (attempt - 1))
        assert step / 2 <= wait <= step
