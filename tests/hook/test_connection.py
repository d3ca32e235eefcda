"""The connection: env-var configuration, test_connection, early errors, secrecy, shared clients."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError, MathpixValidationError
from airflow_provider_mathpix.hooks._transport import ssl_context
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import APP_KEY, set_connection


def test_test_connection_true(hook: MathpixHook, emulator: Any) -> None:
    ok, message = hook.test_connection()
    assert ok and emulator.url in message
    assert emulator.stats()["requests"] == 1


def test_test_connection_false_with_the_api_message(
    mathpix_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = mathpix_emulator_factory(app_keys=["the-right-key"])
    set_connection(monkeypatch, emu.url)
    ok, message = MathpixHook().test_connection()
    assert not ok and "unauthorized" in message and "401" in message
    assert APP_KEY not in message
    ok_async, message_async = asyncio.run(MathpixHook().atest_connection())
    assert (ok_async, message_async) == (ok, message)
    out = capsys.readouterr()
    assert APP_KEY not in out.out + out.err
    set_connection(monkeypatch, emu.url, password="the-right-key")
    assert MathpixHook().test_connection()[0]


def test_test_connection_false_for_a_missing_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_MATHPIX_NOWHERE", raising=False)
    ok, message = MathpixHook("mathpix_nowhere").test_connection()
    assert not ok and "mathpix_nowhere" in message


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"password": None}, "App Key"),
        ({"host": "http://mathpix.example.com"}, "plain http://"),
        ({"host": "https://api.mathpix.com:notaport"}, "not a valid URL"),
        ({"extra": {"timeout": -1}}, "timeout"),
    ],
)
def test_bad_connections_fail_before_any_request(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], rule: str
) -> None:
    url = fields.pop("host", emulator.url)
    set_connection(monkeypatch, url, conn_id="mathpix_bad", **fields)
    with pytest.raises(MathpixValidationError, match=rule) as info:
        MathpixHook("mathpix_bad").get_job("j")
    assert "mathpix_bad" in str(info.value)
    with pytest.raises(MathpixValidationError, match=rule):
        asyncio.run(MathpixHook("mathpix_bad").aget_job("j"))
    assert emulator.stats()["requests"] == 0


def test_v3_without_app_id_fails_before_any_request(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, emulator.url, login=None)
    with MathpixHook() as hook:
        with pytest.raises(MathpixValidationError, match=r"App ID \(login field\)"):
            hook.submit_image_batch({"a": "https://example.com/a.png"})
        assert hook.list_data_sources() == []  # the Files API does not need it
    assert emulator.stats()["requests"] == 1


def test_uri_form_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mathpix://:KEY@host:port?extra=...`` (URI form): a bare host means https, extras parse."""
    monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_URI", f"mathpix://:{APP_KEY}@eu.mathpix.example:8443/?timeout=5")
    settings = MathpixHook("mathpix_uri")._get_settings()
    assert (settings.base_url, settings.timeout, settings.app_key) == (
        "https://eu.mathpix.example:8443",
        5.0,
        APP_KEY,
    )


def test_app_key_never_in_logs_exceptions_or_repr(
    mathpix_emulator_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu = mathpix_emulator_factory(
        faults=[{"method": "*", "path": "/files/v1/*", "kind": "503", "rate": 1.0}]
    )
    set_connection(monkeypatch, emu.url, extra={"max_retries": 2, "retry_max_wait": 0.01})
    hook = MathpixHook()
    errors: list[BaseException] = []
    for call in (lambda: hook.get_job("j"), lambda: hook.submit_file("s3://hook-tests/a.pdf")):
        with pytest.raises(MathpixAPIError) as info:
            call()
        errors.append(info.value)
    with pytest.raises(MathpixAPIError) as ainfo:
        asyncio.run(hook.aget_file("f"))
    errors.append(ainfo.value)
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(hook), repr(hook._settings)]
    texts += [str(pickle.loads(pickle.dumps(e))) for e in errors]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, caplog.text]
    assert "retry 1/2" in captured.out  # the retries were logged...
    assert not [t for t in texts if APP_KEY in t]  # ...and nothing anywhere shows the key
    hook.close()


def test_key_is_redacted_by_airflows_secret_masker(
    hook: MathpixHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the hook has read its connection, Airflow's masker redacts the key anywhere.

    Airflow's own connection lookup registers the password too; the spy below proves the
    hook registers it itself, so the key is masked however the connection was obtained.
    """
    from airflow.sdk._shared.secrets_masker import redact

    import airflow_provider_mathpix.hooks.mathpix as hook_module

    registered: list[Any] = []
    real = hook_module.mask_secret  # Airflow's own, bound through _compat (common-compat)
    monkeypatch.setattr(
        hook_module,
        "mask_secret",
        lambda secret, name=None: (registered.append(secret), real(secret, name)),
    )
    hook.test_connection()
    assert APP_KEY in registered
    assert APP_KEY not in str(redact(f"oops {APP_KEY}"))


def test_clients_share_one_tls_context_and_one_async_client_per_block(hook: MathpixHook) -> None:
    sync_client = hook.get_conn()
    assert hook.get_conn() is sync_client
    hook.close()
    assert sync_client.is_closed and hook.get_conn() is not sync_client

    async def run() -> None:
        async with hook:
            client = hook._aclient
            assert client is not None
            assert client._transport._pool._ssl_context is ssl_context()  # type: ignore[attr-defined]
            for _ in range(3):
                await hook.aget_onboarding_identities()
                assert hook._aclient is client
            async with hook:  # nested blocks reuse the outer client
                assert hook._aclient is client
            assert hook._aclient is client
        assert hook._aclient is None and client.is_closed

    asyncio.run(run())
    for client in (hook.get_conn(),):
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool._ssl_context is ssl_context()


def test_uri_form_to_a_plain_http_emulator_says_the_host_needs_http(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mathpix://:KEY@127.0.0.1:PORT`` means https; a plain-http emulator answers no TLS: say why."""
    port = emulator.url.rsplit(":", 1)[1]
    monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_URI", f"mathpix://:{APP_KEY}@127.0.0.1:{port}/?max_retries=0")
    hook = MathpixHook("mathpix_uri")
    with pytest.raises(MathpixAPIError) as info:
        hook.get_file("f")
    message = str(info.value)
    assert f"http://127.0.0.1:{port}" in message and "https://" in message
    assert "host" in message and APP_KEY not in message
    ok, text = hook.test_connection()
    assert not ok and f"http://127.0.0.1:{port}" in text
    # ...and the URI it suggests works.
    suggested = message.split("mathpix://:KEY@", 1)[1].split(")", 1)[0]
    monkeypatch.setenv("AIRFLOW_CONN_MATHPIX_FIXED", f"mathpix://:{APP_KEY}@{suggested}")
    assert MathpixHook("mathpix_fixed").test_connection()[0]


def test_async_path_reads_the_connection_asynchronously(
    hook: MathpixHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a trigger a sync connection lookup is an error: the async path must never make one."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("sync get_connection used on the async path")

    monkeypatch.setattr(MathpixHook, "get_connection", classmethod(forbidden))

    async def run() -> dict[str, Any]:
        async with hook:
            return await hook.aget_webhook_config()

    assert "signing_secret" in asyncio.run(run())


def test_ui_field_behaviour() -> None:
    behaviour = MathpixHook.get_ui_field_behaviour()
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert behaviour["relabeling"] == {"login": "App ID", "password": "App Key", "host": "API URL"}
    assert MathpixHook.conn_type == "mathpix" and MathpixHook.default_conn_name == "mathpix_default"


def test_declarative_connection_form_is_what_airflow_loads() -> None:
    """Feed the provider-info declaration (Airflow >= 3.2) through Airflow's own loader.

    Uses a throwaway connection type so the real ``mathpix`` entry is untouched; Airflow
    skips (with a warning) a behaviour its schema rejects, so presence proves validity.
    """
    from airflow import providers_manager as pm

    from airflow_provider_mathpix.hooks._connection import CONN_FIELDS, UI_FIELD_BEHAVIOUR

    pm._create_customized_form_field_behaviours_schema_validator().validate(
        MathpixHook.get_ui_field_behaviour()
    )
    manager = pm.ProvidersManager()
    kind = "mathpix_form_check"
    manager._add_customized_fields("airflow-provider-mathpix", kind, UI_FIELD_BEHAVIOUR)
    manager._add_widgets(
        "airflow-provider-mathpix", "airflow_provider_mathpix.hooks.mathpix.MathpixHook", kind, CONN_FIELDS
    )
    try:
        behaviour = manager._field_behaviours[kind]
        assert behaviour["hidden_fields"] == ["schema", "port"]
        assert behaviour["relabeling"]["password"] == "App Key"
        for name in ("timeout", "max_retries", "retry_max_wait", "retry_deadline"):
            widget = manager._connection_form_widgets[f"extra__{kind}__{name}"]
            assert widget.field_name == name and not widget.is_sensitive
            assert widget.field["value"] == CONN_FIELDS[name]["schema"]["default"]
    finally:
        manager._field_behaviours.pop(kind, None)
        for name in CONN_FIELDS:
            manager._connection_form_widgets.pop(f"extra__{kind}__{name}", None)


def test_stopping_a_listing_early_does_not_keep_the_block_open(hook: MathpixHook, emulator: Any) -> None:
    hook.submit_job([{"source_uri": f"s3://hook-tests/{i}.pdf", "custom_id": f"c{i}"} for i in range(30)])
    job_id = next(iter(hook.iter_jobs()))["job_id"]

    async def run() -> Any:
        async with hook:
            client = hook._aclient
            async for _ in hook.aiter_job_files(job_id, page_size=5):
                break
        # The abandoned listing is closed by the loop's generator finalizer, which cancels
        # its page fetched ahead: no task is left running, and the client is closed, before
        # the loop ends (a fetch holds its client only while it runs).
        for _ in range(100):
            if not (others := [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]):
                break
            await asyncio.wait(others, timeout=0.1)
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
        assert client.is_closed and hook._aclient is None and hook._adepth == 0
        return client

    client = asyncio.run(run())
    assert client.is_closed and hook._aclient is None and hook._adepth == 0

    async def outside() -> int:
        return len([f async for f in hook.aiter_job_files(job_id, page_size=7)])

    assert asyncio.run(outside()) == 30
    assert hook._aclient is None


def test_concurrent_async_calls_outside_a_block_share_and_close_one_client(
    hook: MathpixHook, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    made: list[httpx.AsyncClient] = []

    class RecordingAsyncClient(httpx.AsyncClient):  # a real client that remembers its instances
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            made.append(self)

    monkeypatch.setattr("airflow_provider_mathpix.hooks.mathpix.httpx.AsyncClient", RecordingAsyncClient)

    async def run() -> list[dict[str, Any]]:
        return await asyncio.gather(*(hook.aget_webhook_config() for _ in range(8)))

    results = asyncio.run(run())
    assert len(results) == 8 and emulator.stats()["requests"] == 8
    assert len(made) == 1 and made[0].is_closed
    assert hook._aclient is None and hook._adepth == 0


def test_a_call_borrowing_another_calls_client_outlives_that_call(hook: MathpixHook, emulator: Any) -> None:
    """Two calls outside a block: the second starts on the client the first opened, and is
    still waiting for its (slower) answer when the first ends. Its client must not close under it."""
    emulator.set_faults(
        [
            {"kind": "latency", "path": "/files/v1/jobs/first", "latency": 0.3},
            {"kind": "latency", "path": "/files/v1/jobs/second", "latency": 0.8},
        ]
    )

    async def second() -> Any:
        await asyncio.sleep(0.1)  # the first call has opened the client and waits for its answer
        assert hook._aclient is not None
        return await hook.aget_job("second")

    async def run() -> list[Any]:
        return await asyncio.gather(hook.aget_job("first"), second(), return_exceptions=True)

    first, second_outcome = asyncio.run(run())
    for outcome in (first, second_outcome):  # neither job exists: each gets Mathpix's 404
        assert isinstance(outcome, MathpixAPIError) and outcome.http_status == 404, repr(outcome)
    assert emulator.stats()["requests"] == 2  # one attempt each: nothing was cut off and retried
    assert hook._aclient is None and hook._adepth == 0


def test_a_listing_on_a_borrowed_client_outlives_the_call_that_opened_it(
    hook: MathpixHook, emulator: Any, doc_server: Any, sample_pdf: bytes
) -> None:
    """A listing started while another call holds the client keeps listing after that call ends."""
    source = doc_server.url("/doc.pdf", sample_pdf)
    hook.submit_job(
        [{"source_uri": source, "custom_id": f"d{i}"} for i in range(5)], job_id="borrowed-listing"
    )
    emulator.set_faults(
        [
            {"kind": "latency", "path": "/files/v1/webhook-config", "latency": 0.2},
            {"kind": "latency", "path": "/files/v1/jobs/borrowed-listing/files", "latency": 0.15},
        ]
    )

    async def listed() -> list[str]:
        await asyncio.sleep(0.05)  # the other call has opened the client and waits for its answer
        assert hook._aclient is not None
        return [f["custom_id"] async for f in hook.aiter_job_files("borrowed-listing", page_size=2)]

    async def run() -> list[Any]:
        return await asyncio.gather(listed(), hook.aget_webhook_config(), return_exceptions=True)

    names, config = asyncio.run(run())
    assert not isinstance(config, BaseException), repr(config)
    assert isinstance(names, list) and sorted(names) == [f"d{i}" for i in range(5)], repr(names)
    assert hook._aclient is None and hook._adepth == 0


def test_threads_sharing_a_hook_share_one_client(hook: MathpixHook, emulator: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(lambda _: (hook.get_webhook_config(), hook.get_conn())[1], range(16)))
    assert len({id(c) for c in clients}) == 1
    assert emulator.stats()["requests"] == 16
