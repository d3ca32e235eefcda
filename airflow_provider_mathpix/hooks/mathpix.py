"""MathpixHook: the only place in the provider that speaks HTTP to Mathpix.

Each endpoint is declared once, as an operation (``_operation``): it builds its request
from ``contract`` (pure, validated, so bad input fails before any request) and shapes
the answer. ``_run`` performs an operation's steps with blocking calls and ``_arun`` with
awaits, giving the method and its ``a``-prefixed async twin. Answers are judged by
``_transport.check_answer`` (the one error mapping) and retried by ``_retry`` (the one
policy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from airflow_provider_mathpix._compat import aget_connection, amask_secret, mask_secret
from airflow_provider_mathpix.contract.ids import custom_id_from_uri, new_idempotency_key
from airflow_provider_mathpix.contract.request import ApiRequest, simple_request
from airflow_provider_mathpix.contract.requests_data_sources import create_data_source_request
from airflow_provider_mathpix.contract.requests_files import (
    download_request,
    submit_file_request,
    upload_file_request,
)
from airflow_provider_mathpix.contract.requests_images import (
    get_image_batch_request,
    submit_image_batch_request,
)
from airflow_provider_mathpix.contract.requests_jobs import job_files_request, jobs_request
from airflow_provider_mathpix.contract.requests_webhooks import test_webhook_request
from airflow_provider_mathpix.contract.uris import is_loopback_host
from airflow_provider_mathpix.hooks._connection import ClientSettings, settings_from_connection
from airflow_provider_mathpix.hooks._driver import OperationDriver
from airflow_provider_mathpix.hooks._form import connection_form_widgets, ui_field_behaviour
from airflow_provider_mathpix.hooks._io import DownloadSink, PathOrFile, UploadSource
from airflow_provider_mathpix.hooks._jobs import JobPlan
from airflow_provider_mathpix.hooks._operation import (
    SETTINGS,
    Listing,
    Mask,
    Operation,
    Send,
    endpoint,
    listing,
)
from airflow_provider_mathpix.hooks._settings_cache import SHARED_SETTINGS
from airflow_provider_mathpix.hooks._transport import client_kwargs

__all__ = ["MathpixHook", "PathOrFile"]


class MathpixHook(OperationDriver):
    """Talk to the Mathpix Files API (and ``/v3/batch``) through one Airflow connection.

    Connection: ``password`` = app_key, ``login`` = app_id (only ``/v3`` needs it),
    ``host`` = API base URL (default ``https://api.mathpix.com``; ``http://`` only for
    loopback emulators). Extras: ``timeout`` (s per network read/write, default 30),
    ``request_timeout`` (s for one whole request, answer included, default 300),
    ``max_retries`` (default 5), ``retry_max_wait`` (cap of one wait, default 60 s),
    ``retry_deadline`` (cap of one call, every attempt and wait, default 600 s).

    One ``httpx.Client`` per hook, created lazily and closed by :meth:`close` or ``with``;
    ``async with hook:`` opens one ``httpx.AsyncClient`` reused by every async call in the
    block (a trigger's polls share it). Async calls outside such a block use a client of
    their own for that call. ``download_output`` raises ``MathpixAPIError`` with code
    ``format_not_ready`` while a requested format is still converting: a state to wait
    on, not a failure.
    """

    conn_name_attr = "mathpix_conn_id"
    default_conn_name = "mathpix_default"
    conn_type = "mathpix"
    hook_name = "Mathpix"

    def __init__(self, mathpix_conn_id: str = default_conn_name) -> None:
        super().__init__(mathpix_conn_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mathpix_conn_id={self.mathpix_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the generic connection form for Mathpix (schema and port are unused).

        Airflow >= 3.2 reads the same declaration from the provider info
        (``hooks._connection.UI_FIELD_BEHAVIOUR``); this serves older Airflow 3 releases.
        """
        return ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The extras as form fields, for the Flask UI of Airflow 2.11 and 3.0/3.1 (with FAB)."""
        return connection_form_widgets()

    # ------------------------------------------------------------------ connection and secrets

    def _from_connection(self, conn: Any) -> ClientSettings:
        return settings_from_connection(
            self.mathpix_conn_id,
            host=conn.host,
            port=conn.port,
            login=conn.login,
            password=conn.password,
            extra=conn.extra,
        )

    @property
    def base_url(self) -> str:
        """The API base URL this hook talks to, without a trailing slash (read-only).

        ``https://api.mathpix.com`` unless the connection's host names another (an
        emulator, a proxy). Public because operators name outputs left in Mathpix storage
        by it (``<base_url>/files/v1/<file_id>.<ext>``). Reads the connection once (then
        cached); it carries no credential.
        """
        return self._get_settings().base_url.rstrip("/")

    def _get_settings(self) -> ClientSettings:
        if self._settings is None:
            settings = self._from_connection(self.get_connection(self.mathpix_conn_id))
            mask_secret(settings.app_key)
            self._settings = settings
        return self._settings

    async def _aget_settings(self) -> ClientSettings:
        """The connection, read without a sync lookup (which would block the triggerer's loop).

        Shared by the hooks of this process (``_settings_cache``): 1,000 triggers starting
        together read it once, not 1,000 times.
        """
        if self._settings is None:
            self._settings = await SHARED_SETTINGS.get(self.mathpix_conn_id, self._aread_settings)
        return self._settings

    async def _aread_settings(self) -> ClientSettings:
        settings = self._from_connection(await aget_connection(self, self.mathpix_conn_id))
        await amask_secret(settings.app_key)
        return settings

    def _mask(self, secret: str) -> None:
        """Redact a credential passed as an argument (a data source's secret) like the app_key."""
        mask_secret(secret)

    async def _amask(self, secret: str) -> None:
        await amask_secret(secret)

    def get_conn(self) -> httpx.Client:
        """The hook's ``httpx.Client`` (created on first use, reused until :meth:`close`)."""
        if self._client is None:
            settings = self._get_settings()
            with self._client_lock:  # threads sharing a hook share one client
                if self._client is None:
                    self._client = httpx.Client(**client_kwargs(settings))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> MathpixHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ endpoints, each declared once

    @endpoint
    def test_connection(self) -> Operation[tuple[bool, str]]:
        """One cheap authenticated call (list one job); the API's own message on failure."""
        try:
            yield Send(jobs_request(page_size=1))
            settings: ClientSettings = yield SETTINGS
        except Exception as exc:  # the UI shows any failure as text, never a traceback
            return False, str(exc)
        return True, f"Connected to the Mathpix API at {settings.base_url}"

    atest_connection = test_connection.asynchronous

    @endpoint
    def submit_file(
        self, source_uri: str, *, idempotency_key: str | None = None, **options: Any
    ) -> Operation[str]:
        """POST /files/v1/uri; returns the ``file_id``.

        Retries of this call (after a dropped connection) never create a second file: a
        standalone file without ``idempotency_key`` gets a fresh Idempotency-Key, and a file
        submitted into a job (``job_id``) without ``custom_id`` gets one derived from
        ``source_uri`` (Mathpix ignores the key when there is a job_id).
        """
        key, options = _dedup(idempotency_key, options, lambda: custom_id_from_uri(source_uri))
        local = _is_local((yield SETTINGS))
        req = submit_file_request(source_uri, idempotency_key=key, loopback_callbacks=local, **options)
        file_id = (yield Send(req))["file_id"]
        self.log.info("Submitted %s to Mathpix as file %s", source_uri, file_id)
        return str(file_id)

    asubmit_file = submit_file.asynchronous

    @endpoint
    def upload_file(
        self,
        path_or_fileobj: PathOrFile,
        filename: str | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> Operation[str]:
        """POST /files/v1 (multipart), streaming a local path or binary file object in 64 KB reads.

        ``filename`` defaults to the path's or file object's name. A seekable file object
        is sent from its start (and rewound for a retry); a non-seekable stream is sent
        once, and a failure after it started is raised rather than re-sent truncated.
        ``job_id``/``custom_id`` and every option of :meth:`submit_file` apply; an upload into
        a job without ``custom_id`` gets a fresh one per call (its bytes have no stable name).
        The async twin reads the file on the loop, 64 KB at a time.
        """
        source = UploadSource(path_or_fileobj, filename)
        key, options = _dedup(idempotency_key, options, new_idempotency_key)
        local = _is_local((yield SETTINGS))
        req = upload_file_request(source.filename, idempotency_key=key, loopback_callbacks=local, **options)
        file_id = (yield Send(req, upload=source))["file_id"]
        self.log.info("Uploaded %s to Mathpix as file %s", source.filename, file_id)
        return str(file_id)

    aupload_file = upload_file.asynchronous

    @endpoint
    def get_file(self, file_id: str) -> Operation[dict[str, Any]]:
        """GET /files/v1/{file_id}: the file's status record."""
        return (yield Send(simple_request("GET", "/files/v1/{file_id}", file_id=file_id)))

    aget_file = get_file.asynchronous

    @endpoint
    def download_output(self, file_id: str, ext: str, to: PathOrFile | None = None) -> Operation[bytes | int]:
        """GET /files/v1/{file_id}.{ext}: bytes, or the byte count streamed into ``to``.

        Raises ``MathpixAPIError`` with code ``format_not_ready`` while the format converts.
        """
        req = download_request(file_id, ext)
        if to is None:
            return (yield Send(req, raw=True))
        sink = DownloadSink(to)
        try:
            return (yield Send(req, sink=sink))
        finally:
            sink.abort()

    adownload_output = download_output.asynchronous

    @endpoint
    def delete_file(self, file_id: str) -> Operation[dict[str, Any]]:
        """DELETE /files/v1/{file_id} (terminal files only; repeating it succeeds)."""
        result = yield Send(simple_request("DELETE", "/files/v1/{file_id}", file_id=file_id))
        self.log.info("Deleted Mathpix file %s", file_id)
        return result

    adelete_file = delete_file.asynchronous

    @endpoint
    def submit_job(
        self,
        items: Iterable[Mapping[str, Any]],
        job_id: str | None = None,
        max_items_per_request: int | None = None,
        **options: Any,
    ) -> Operation[dict[str, Any]]:
        """POST /files/v1/jobs in chunks of ``max_items_per_request`` (default 50,000), all under one job_id.

        ``items``: any iterable of item mappings (``source_uri`` and optionally
        ``custom_id``, ``destination_uri``, ``destination_basename``, ``filename``,
        ``s3_region``, ``page_ranges``), streamed. Returns ``{"job_id", "file_count", "calls"}``.
        """
        local = _is_local((yield SETTINGS))
        plan = JobPlan(items, job_id, max_items_per_request, options, loopback_callbacks=local)
        for req in plan.requests():
            yield Send(req)
            sent = plan.sending
            del req  # the next chunk is built without this one still alive
            self.log.info(
                "Job %s: call %d sent %d items (%d so far)",
                plan.job_id,
                plan.calls + 1,
                sent,
                plan.file_count + sent,
            )
        self.log.info(
            "Submitted job %s with %d items in %d call(s)", plan.job_id, plan.file_count, plan.calls
        )
        return plan.result()

    asubmit_job = submit_job.asynchronous

    @endpoint
    def get_job(self, job_id: str) -> Operation[dict[str, Any]]:
        """GET /files/v1/jobs/{job_id}: status and counters."""
        return (yield Send(simple_request("GET", "/files/v1/jobs/{job_id}", job_id=job_id)))

    aget_job = get_job.asynchronous

    @listing
    def iter_job_files(self, job_id: str, status: str | None = None, page_size: int | None = None) -> Listing:
        """Every file of a job, following ``next_page_token``; ``status`` filters (and fills ``status``)."""
        job_files_request(job_id, status, page_size)  # bad input fails here, not at the first page
        return Listing(lambda token: job_files_request(job_id, status, page_size, token), "files")

    aiter_job_files = iter_job_files.asynchronous

    @endpoint
    def get_job_file(self, job_id: str, custom_id: str) -> Operation[dict[str, Any]]:
        """GET /files/v1/jobs/{job_id}/files/{custom_id}: that file's status record."""
        path = "/files/v1/jobs/{job_id}/files/{custom_id}"
        return (yield Send(simple_request("GET", path, job_id=job_id, custom_id=custom_id)))

    aget_job_file = get_job_file.asynchronous

    @endpoint
    def finalize_job(self, job_id: str) -> Operation[dict[str, Any]]:
        """POST /files/v1/jobs/{job_id}/finalize (idempotent; needed before job.completed webhooks)."""
        result = yield Send(simple_request("POST", "/files/v1/jobs/{job_id}/finalize", job_id=job_id))
        self.log.info("Finalized Mathpix job %s", job_id)
        return result

    afinalize_job = finalize_job.asynchronous

    @listing
    def iter_jobs(self, start: Any = None, end: Any = None, page_size: int | None = None) -> Listing:
        """Jobs newest first, optionally between ``start`` and ``end`` (yyyy-MM-dd or dates, UTC).

        Both bounds are inclusive; only one of them given means that single day.
        """
        jobs_request(start, end, page_size)
        return Listing(lambda token: jobs_request(start, end, page_size, token), "jobs")

    aiter_jobs = iter_jobs.asynchronous

    @endpoint
    def create_data_source(
        self,
        provider: str,
        bucket: str,
        auth_method: str,
        *,
        provider_specific_details: Mapping[str, Any] | None = None,
        name: str | None = None,
        region: str | None = None,
        secret: str | None = None,
    ) -> Operation[dict[str, Any]]:
        """POST /files/v1/data-sources: register a bucket Mathpix may read and write.

        ``provider_specific_details`` takes exactly the keys of the ``provider``/``auth_method``
        pair (``contract.requests_data_sources.DATA_SOURCE_DETAILS``); ``secret`` only for
        ``aws``/``access_key`` (masked in logs like the app_key, never returned).
        """
        if secret:
            yield Mask(secret)
        req = create_data_source_request(
            provider,
            bucket,
            auth_method,
            provider_specific_details=provider_specific_details,
            name=name,
            region=region,
            secret=secret,
        )
        result = yield Send(req)
        self.log.info(
            "Registered Mathpix data source %s for %s bucket %s",
            result.get("data_source_id"),
            provider,
            bucket,
        )
        return result

    acreate_data_source = create_data_source.asynchronous

    @endpoint
    def list_data_sources(self) -> Operation[list[dict[str, Any]]]:
        """GET /files/v1/data-sources: the registered data sources."""
        return (yield Send(ApiRequest("GET", "/files/v1/data-sources"))).get("data_sources", [])

    alist_data_sources = list_data_sources.asynchronous

    @endpoint
    def test_data_source(self, data_source_id: str) -> Operation[dict[str, Any]]:
        """POST /files/v1/data-sources/{id}/test: a failed probe is a 200 with ``result: failed``."""
        path = "/files/v1/data-sources/{data_source_id}/test"
        return (yield Send(simple_request("POST", path, data_source_id=data_source_id)))

    atest_data_source = test_data_source.asynchronous

    @endpoint
    def delete_data_source(self, data_source_id: str) -> Operation[dict[str, Any]]:
        """DELETE /files/v1/data-sources/{id}."""
        path = "/files/v1/data-sources/{data_source_id}"
        return (yield Send(simple_request("DELETE", path, data_source_id=data_source_id)))

    adelete_data_source = delete_data_source.asynchronous

    @endpoint
    def get_onboarding_identities(self) -> Operation[dict[str, Any]]:
        """GET /files/v1/onboarding/identities: the Mathpix principals to grant bucket access."""
        return (yield Send(ApiRequest("GET", "/files/v1/onboarding/identities")))

    aget_onboarding_identities = get_onboarding_identities.asynchronous

    @endpoint
    def get_webhook_config(self) -> Operation[dict[str, Any]]:
        """GET /files/v1/webhook-config: ``{"signing_secret"}`` (mask it if you log it)."""
        return (yield Send(ApiRequest("GET", "/files/v1/webhook-config")))

    aget_webhook_config = get_webhook_config.asynchronous

    @endpoint
    def test_webhook(
        self, callback_url: str, callback_headers: Mapping[str, str] | None = None
    ) -> Operation[dict[str, Any]]:
        """POST /files/v1/webhook-config/test: ``{"status": "delivered"|"failed", ...}``."""
        local = _is_local((yield SETTINGS))
        return (yield Send(test_webhook_request(callback_url, callback_headers, loopback_callbacks=local)))

    atest_webhook = test_webhook.asynchronous

    @endpoint
    def submit_image_batch(self, urls: Mapping[str, Any], **options: Any) -> Operation[int | str]:
        """POST /v3/batch; returns the ``batch_id``. A v3 body with ``error`` raises even under HTTP 200."""
        local = _is_local((yield SETTINGS))
        batch_id = (yield Send(submit_image_batch_request(urls, loopback_callbacks=local, **options)))[
            "batch_id"
        ]
        self.log.info("Submitted Mathpix image batch %s with %d images", batch_id, len(urls))
        return batch_id

    asubmit_image_batch = submit_image_batch.asynchronous

    @endpoint
    def get_image_batch(self, batch_id: int | str) -> Operation[dict[str, Any]]:
        """GET /v3/batch/{batch_id}: ``{"keys", "results"}``, results filling in progressively."""
        return (yield Send(get_image_batch_request(batch_id)))

    aget_image_batch = get_image_batch.asynchronous


def _dedup(
    idempotency_key: str | None, options: dict[str, Any], member_id: Callable[[], str]
) -> tuple[str | None, dict[str, Any]]:
    """The Idempotency-Key and options that make a single submission's retries safe.

    Mathpix deduplicates a job member on ``(job_id, custom_id)`` and honours the key only
    for a standalone file. So a job member without ``custom_id`` gets ``member_id()``, and a
    standalone file without a key gets a fresh one (a POST re-sent after a dropped
    connection then returns the first file instead of creating and billing a second).
    """
    if options.get("job_id") is not None:
        if options.get("custom_id") is None:
            options = {**options, "custom_id": member_id()}
        return idempotency_key, options
    return idempotency_key or new_idempotency_key(), options


def _is_local(settings: ClientSettings) -> bool:
    """Whether the API is a loopback emulator (then loopback callback URLs are allowed)."""
    return is_loopback_host(urlsplit(settings.base_url).hostname)
