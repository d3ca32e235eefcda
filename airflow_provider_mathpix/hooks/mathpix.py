"""MathpixHook: the only place in the provider that speaks HTTP to Mathpix.

Request bodies come from ``contract`` (pure, validated), so bad input fails before any
request; answers are judged by ``_transport.check_answer`` (the one error mapping) and
retried by ``_retry`` (the one policy). Sync methods and their ``a``-prefixed async
twins differ only in ``await``: each is a one-line call into that shared machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from airflow_provider_mathpix._compat import BaseHook, aget_connection, amask_secret, mask_secret
from airflow_provider_mathpix.contract.ids import custom_id_from_uri, new_idempotency_key
from airflow_provider_mathpix.contract.request import ApiRequest, simple_request
from airflow_provider_mathpix.contract.requests_data_sources import (
    create_data_source_request,
)
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
from airflow_provider_mathpix.exceptions import MathpixAPIError, validation_errors
from airflow_provider_mathpix.hooks._connection import (
    CONN_FIELDS,
    UI_FIELD_BEHAVIOUR,
    ClientSettings,
    settings_from_connection,
)
from airflow_provider_mathpix.hooks._io import DownloadSink, PathOrFile, UploadSource
from airflow_provider_mathpix.hooks._jobs import JobPlan
from airflow_provider_mathpix.hooks._retry import CallBudget, acall_retrying, retrying
from airflow_provider_mathpix.hooks._send import asend, send
from airflow_provider_mathpix.hooks._transport import client_kwargs

__all__ = ["MathpixHook", "PathOrFile"]

PageBuilder = Callable[[str | None], ApiRequest]


class MathpixHook(BaseHook):
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
        super().__init__()
        self.mathpix_conn_id = mathpix_conn_id
        self._settings: ClientSettings | None = None
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._aclient: httpx.AsyncClient | None = None
        self._adepth = 0
        self._ahead: set[asyncio.Task[Any]] = set()  # pages fetched ahead by aiter_* (see _apages)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mathpix_conn_id={self.mathpix_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the generic connection form for Mathpix (schema and port are unused).

        Airflow >= 3.2 reads the same declaration from the provider info
        (``hooks._connection.UI_FIELD_BEHAVIOUR``); this serves older Airflow 3 releases.
        """
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The extras as form fields, for the Flask UI of Airflow 2.11 and 3.0/3.1 (with FAB).

        Built from the same ``CONN_FIELDS`` that Airflow >= 3.2 reads from the provider
        info, so both forms agree. Without flask_appbuilder (no FAB UI) there is no form to
        add to: the extras are then set in the connection's Extra JSON.
        """
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import IntegerField, StringField
            from wtforms.validators import NumberRange, Optional
        except ImportError:
            return {}
        widgets: dict[str, Any] = {}
        for name, field in CONN_FIELDS.items():
            default = field["schema"]["default"]
            label, description = lazy_gettext(field["label"]), field["description"]
            if "integer" in field["schema"]["type"]:
                widgets[name] = IntegerField(
                    label,
                    description=description,
                    validators=[Optional(), NumberRange(min=0)],
                    widget=BS3TextFieldWidget(),
                    default=default,
                )
            else:  # that UI has no decimal field; the hook parses (and checks) the number
                widgets[name] = StringField(
                    label, description=description, widget=BS3TextFieldWidget(), default=f"{default:g}"
                )
        return widgets

    # ------------------------------------------------------------------ settings and clients

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

    @staticmethod
    def _mask(secret: str | None) -> None:
        """Redact a credential passed as an argument (a data source's secret) like the app_key."""
        if secret:
            mask_secret(secret)

    @staticmethod
    async def _amask(secret: str | None) -> None:
        if secret:
            await amask_secret(secret)

    async def _aget_settings(self) -> ClientSettings:
        """Read the connection without a sync lookup, which would block the triggerer's loop."""
        if self._settings is None:
            settings = self._from_connection(await aget_connection(self, self.mathpix_conn_id))
            await amask_secret(settings.app_key)
            self._settings = settings
        return self._settings

    def _local(self) -> bool:
        """Whether the API is a loopback emulator (then loopback callback URLs are allowed)."""
        return _is_local(self._get_settings())

    async def _alocal(self) -> bool:
        return _is_local(await self._aget_settings())

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

    async def __aenter__(self) -> MathpixHook:
        settings = await self._aget_settings()
        # No await between the check and the assignment: concurrent tasks entering at
        # once share one client instead of each building (and leaking) their own.
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(**client_kwargs(settings, asynchronous=True))
        self._adepth += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._adepth -= 1
        if self._adepth == 0 and self._aclient is not None:
            # A listing abandoned mid-way may still be fetching a page ahead: stop it
            # before its client goes away.
            for task in list(self._ahead):
                task.cancel()
            await asyncio.gather(*self._ahead, return_exceptions=True)
            client, self._aclient = self._aclient, None
            await client.aclose()

    # ------------------------------------------------------------------ one call, retried

    def _call(
        self,
        req: ApiRequest,
        *,
        upload: UploadSource | None = None,
        sink: DownloadSink | None = None,
        raw: bool = False,
    ) -> Any:
        settings = self._get_settings()
        client = self.get_conn()
        budget = CallBudget(settings)

        def attempt() -> Any:
            try:
                return send(client, settings, req, upload, sink, raw, budget.left())
            except MathpixAPIError as exc:
                reported = budget.judge(exc)
                if reported is exc:
                    raise
                raise reported from None

        return retrying(settings, self.log, budget)(attempt)

    async def _acall(
        self,
        req: ApiRequest,
        *,
        upload: UploadSource | None = None,
        sink: DownloadSink | None = None,
        raw: bool = False,
    ) -> Any:
        if self._aclient is None:
            async with self:
                return await self._acall(req, upload=upload, sink=sink, raw=raw)
        settings = await self._aget_settings()
        client = self._aclient
        assert client is not None
        budget = CallBudget(settings)

        async def attempt() -> Any:
            try:
                return await asend(client, settings, req, upload, sink, raw, budget.left())
            except MathpixAPIError as exc:
                reported = budget.judge(exc)
                if reported is exc:
                    raise
                raise reported from None

        return await acall_retrying(settings, self.log, budget, attempt)

    def _pages(self, build: PageBuilder, key: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self._call(build(token))
            yield from page.get(key) or []
            token = _next_token(page, seen, build(token))
            if token is None:
                return

    async def _apages(self, build: PageBuilder, key: str) -> AsyncIterator[dict[str, Any]]:
        if self._aclient is None:
            # Outside a caller's block: one client for the whole walk, closed with the generator.
            async with self:
                async for record in self._apages(build, key):
                    yield record
            return
        # Inside a caller's block: use its client and never hold the block open, so a
        # consumer that stops early (``break``) does not delay closing it. The next page
        # is requested before this one is handed out, so the consumer's own work on a
        # page (writing a manifest, counting) overlaps the round trip for the next.
        token: str | None = None
        seen: set[str] = set()
        page = await self._acall(build(None))
        ahead: asyncio.Task[Any] | None = None
        try:
            while True:
                token = _next_token(page, seen, build(token))
                if token is not None:
                    ahead = asyncio.ensure_future(self._acall(build(token)))
                    self._ahead.add(ahead)
                    ahead.add_done_callback(self._ahead.discard)
                for record in page.get(key) or []:
                    yield record
                if ahead is None:
                    return
                page, ahead = await ahead, None
        finally:
            if ahead is not None:  # the consumer stopped early: drop the page fetched ahead
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ahead

    # ------------------------------------------------------------------ connection test

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call (list one job); the API's own message on failure."""
        try:
            self._call(jobs_request(page_size=1))
        except Exception as exc:  # the UI shows any failure as text, never a traceback
            return False, str(exc)
        return True, f"Connected to the Mathpix API at {self._get_settings().base_url}"

    async def atest_connection(self) -> tuple[bool, str]:
        try:
            await self._acall(jobs_request(page_size=1))
        except Exception as exc:
            return False, str(exc)
        return True, f"Connected to the Mathpix API at {(await self._aget_settings()).base_url}"

    # ------------------------------------------------------------------ single files

    @validation_errors()
    def submit_file(self, source_uri: str, *, idempotency_key: str | None = None, **options: Any) -> str:
        """POST /files/v1/uri; returns the ``file_id``.

        Retries of this call (after a dropped connection) never create a second file: a
        standalone file without ``idempotency_key`` gets a fresh Idempotency-Key, and a file
        submitted into a job (``job_id``) without ``custom_id`` gets one derived from
        ``source_uri`` (Mathpix ignores the key when there is a job_id).
        """
        key, options = _dedup(idempotency_key, options, lambda: custom_id_from_uri(source_uri))
        req = submit_file_request(
            source_uri, idempotency_key=key, loopback_callbacks=self._local(), **options
        )
        file_id = self._call(req)["file_id"]
        self.log.info("Submitted %s to Mathpix as file %s", source_uri, file_id)
        return str(file_id)

    @validation_errors()
    async def asubmit_file(
        self, source_uri: str, *, idempotency_key: str | None = None, **options: Any
    ) -> str:
        key, options = _dedup(idempotency_key, options, lambda: custom_id_from_uri(source_uri))
        req = submit_file_request(
            source_uri, idempotency_key=key, loopback_callbacks=await self._alocal(), **options
        )
        file_id = (await self._acall(req))["file_id"]
        self.log.info("Submitted %s to Mathpix as file %s", source_uri, file_id)
        return str(file_id)

    @validation_errors()
    def upload_file(
        self,
        path_or_fileobj: PathOrFile,
        filename: str | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        """POST /files/v1 (multipart), streaming a local path or binary file object in 64 KB reads.

        ``filename`` defaults to the path's or file object's name. A seekable file object
        is sent from its start (and rewound for a retry); a non-seekable stream is sent
        once, and a failure after it started is raised rather than re-sent truncated.
        ``job_id``/``custom_id`` and every option of :meth:`submit_file` apply; an upload into
        a job without ``custom_id`` gets a fresh one per call (its bytes have no stable name).
        """
        source = UploadSource(path_or_fileobj, filename)
        key, options = _dedup(idempotency_key, options, new_idempotency_key)
        req = upload_file_request(
            source.filename, idempotency_key=key, loopback_callbacks=self._local(), **options
        )
        file_id = self._call(req, upload=source)["file_id"]
        self.log.info("Uploaded %s to Mathpix as file %s", source.filename, file_id)
        return str(file_id)

    @validation_errors()
    async def aupload_file(
        self,
        path_or_fileobj: PathOrFile,
        filename: str | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        """Async twin of :meth:`upload_file` (file reads happen on the loop, 64 KB at a time)."""
        source = UploadSource(path_or_fileobj, filename)
        key, options = _dedup(idempotency_key, options, new_idempotency_key)
        req = upload_file_request(
            source.filename, idempotency_key=key, loopback_callbacks=await self._alocal(), **options
        )
        file_id = (await self._acall(req, upload=source))["file_id"]
        self.log.info("Uploaded %s to Mathpix as file %s", source.filename, file_id)
        return str(file_id)

    @validation_errors()
    def get_file(self, file_id: str) -> dict[str, Any]:
        """GET /files/v1/{file_id}: the file's status record."""
        return self._call(simple_request("GET", "/files/v1/{file_id}", file_id=file_id))  # type: ignore[no-any-return]

    @validation_errors()
    async def aget_file(self, file_id: str) -> dict[str, Any]:
        return await self._acall(simple_request("GET", "/files/v1/{file_id}", file_id=file_id))  # type: ignore[no-any-return]

    @validation_errors()
    def download_output(self, file_id: str, ext: str, to: PathOrFile | None = None) -> bytes | int:
        """GET /files/v1/{file_id}.{ext}: bytes, or the byte count streamed into ``to``.

        Raises ``MathpixAPIError`` with code ``format_not_ready`` while the format converts.
        """
        req = download_request(file_id, ext)
        if to is None:
            return self._call(req, raw=True)  # type: ignore[no-any-return]
        sink = DownloadSink(to)
        try:
            return self._call(req, sink=sink)  # type: ignore[no-any-return]
        finally:
            sink.abort()

    @validation_errors()
    async def adownload_output(self, file_id: str, ext: str, to: PathOrFile | None = None) -> bytes | int:
        req = download_request(file_id, ext)
        if to is None:
            return await self._acall(req, raw=True)  # type: ignore[no-any-return]
        sink = DownloadSink(to)
        try:
            return await self._acall(req, sink=sink)  # type: ignore[no-any-return]
        finally:
            sink.abort()

    @validation_errors()
    def delete_file(self, file_id: str) -> dict[str, Any]:
        """DELETE /files/v1/{file_id} (terminal files only; repeating it succeeds)."""
        result = self._call(simple_request("DELETE", "/files/v1/{file_id}", file_id=file_id))
        self.log.info("Deleted Mathpix file %s", file_id)
        return result  # type: ignore[no-any-return]

    @validation_errors()
    async def adelete_file(self, file_id: str) -> dict[str, Any]:
        result = await self._acall(simple_request("DELETE", "/files/v1/{file_id}", file_id=file_id))
        self.log.info("Deleted Mathpix file %s", file_id)
        return result  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ jobs

    @validation_errors()
    def submit_job(
        self,
        items: Iterable[Mapping[str, Any]],
        job_id: str | None = None,
        max_items_per_request: int | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """POST /files/v1/jobs in chunks of ``max_items_per_request`` (default 50,000), all under one job_id.

        ``items``: any iterable of item mappings (``source_uri`` and optionally
        ``custom_id``, ``destination_uri``, ``destination_basename``, ``filename``,
        ``s3_region``, ``page_ranges``), streamed. Returns ``{"job_id", "file_count", "calls"}``.
        """
        plan = JobPlan(items, job_id, max_items_per_request, options, loopback_callbacks=self._local())
        for req in plan.requests():
            self._call(req)
            self._log_chunk(plan, req)
            del req  # the next chunk is built without this one still alive
        self.log.info(_job_summary(plan))
        return plan.result()

    @validation_errors()
    async def asubmit_job(
        self,
        items: Iterable[Mapping[str, Any]],
        job_id: str | None = None,
        max_items_per_request: int | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        plan = JobPlan(items, job_id, max_items_per_request, options, loopback_callbacks=await self._alocal())
        async with self:
            for req in plan.requests():
                await self._acall(req)
                self._log_chunk(plan, req)
                del req  # the next chunk is built without this one still alive
        self.log.info(_job_summary(plan))
        return plan.result()

    def _log_chunk(self, plan: JobPlan, req: ApiRequest) -> None:
        sent = len(req.json["files"])
        self.log.info(
            "Job %s: call %d sent %d items (%d so far)",
            plan.job_id,
            plan.calls + 1,
            sent,
            plan.file_count + sent,
        )

    @validation_errors()
    def get_job(self, job_id: str) -> dict[str, Any]:
        """GET /files/v1/jobs/{job_id}: status and counters."""
        return self._call(simple_request("GET", "/files/v1/jobs/{job_id}", job_id=job_id))  # type: ignore[no-any-return]

    @validation_errors()
    async def aget_job(self, job_id: str) -> dict[str, Any]:
        return await self._acall(simple_request("GET", "/files/v1/jobs/{job_id}", job_id=job_id))  # type: ignore[no-any-return]

    @validation_errors()
    def iter_job_files(
        self, job_id: str, status: str | None = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every file of a job, following ``next_page_token``; ``status`` filters (and fills ``status``)."""
        job_files_request(job_id, status, page_size)  # fail on bad input now, not on first next()
        return self._pages(lambda token: job_files_request(job_id, status, page_size, token), "files")

    async def aiter_job_files(
        self, job_id: str, status: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Async generator twin of :meth:`iter_job_files` (bad arguments raise on first iteration)."""
        with validation_errors():
            job_files_request(job_id, status, page_size)
        async for record in self._apages(
            lambda token: job_files_request(job_id, status, page_size, token), "files"
        ):
            yield record

    @validation_errors()
    def get_job_file(self, job_id: str, custom_id: str) -> dict[str, Any]:
        """GET /files/v1/jobs/{job_id}/files/{custom_id}: that file's status record."""
        req = simple_request(
            "GET", "/files/v1/jobs/{job_id}/files/{custom_id}", job_id=job_id, custom_id=custom_id
        )
        return self._call(req)  # type: ignore[no-any-return]

    @validation_errors()
    async def aget_job_file(self, job_id: str, custom_id: str) -> dict[str, Any]:
        req = simple_request(
            "GET", "/files/v1/jobs/{job_id}/files/{custom_id}", job_id=job_id, custom_id=custom_id
        )
        return await self._acall(req)  # type: ignore[no-any-return]

    @validation_errors()
    def finalize_job(self, job_id: str) -> dict[str, Any]:
        """POST /files/v1/jobs/{job_id}/finalize (idempotent; needed before job.completed webhooks)."""
        result = self._call(simple_request("POST", "/files/v1/jobs/{job_id}/finalize", job_id=job_id))
        self.log.info("Finalized Mathpix job %s", job_id)
        return result  # type: ignore[no-any-return]

    @validation_errors()
    async def afinalize_job(self, job_id: str) -> dict[str, Any]:
        req = simple_request("POST", "/files/v1/jobs/{job_id}/finalize", job_id=job_id)
        result = await self._acall(req)
        self.log.info("Finalized Mathpix job %s", job_id)
        return result  # type: ignore[no-any-return]

    @validation_errors()
    def iter_jobs(
        self, start: Any = None, end: Any = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Jobs newest first, optionally between ``start`` and ``end`` (yyyy-MM-dd or dates, UTC).

        Both bounds are inclusive; only one of them given means that single day.
        """
        jobs_request(start, end, page_size)
        return self._pages(lambda token: jobs_request(start, end, page_size, token), "jobs")

    async def aiter_jobs(
        self, start: Any = None, end: Any = None, page_size: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Async generator twin of :meth:`iter_jobs`."""
        with validation_errors():
            jobs_request(start, end, page_size)
        async for record in self._apages(lambda token: jobs_request(start, end, page_size, token), "jobs"):
            yield record

    # ------------------------------------------------------------------ data sources, identities, webhooks

    @validation_errors()
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
    ) -> dict[str, Any]:
        """POST /files/v1/data-sources: register a bucket Mathpix may read and write.

        ``provider_specific_details`` takes exactly the keys of the ``provider``/``auth_method``
        pair (``DATA_SOURCE_DETAILS``); ``secret`` only for ``aws``/``access_key``
        (masked in logs like the app_key, never returned).
        """
        self._mask(secret)
        req = create_data_source_request(
            provider,
            bucket,
            auth_method,
            provider_specific_details=provider_specific_details,
            name=name,
            region=region,
            secret=secret,
        )
        result = self._call(req)
        self.log.info(
            "Registered Mathpix data source %s for %s bucket %s",
            result.get("data_source_id"),
            provider,
            bucket,
        )
        return result  # type: ignore[no-any-return]

    @validation_errors()
    async def acreate_data_source(
        self,
        provider: str,
        bucket: str,
        auth_method: str,
        *,
        provider_specific_details: Mapping[str, Any] | None = None,
        name: str | None = None,
        region: str | None = None,
        secret: str | None = None,
    ) -> dict[str, Any]:
        await self._amask(secret)
        req = create_data_source_request(
            provider,
            bucket,
            auth_method,
            provider_specific_details=provider_specific_details,
            name=name,
            region=region,
            secret=secret,
        )
        result = await self._acall(req)
        self.log.info(
            "Registered Mathpix data source %s for %s bucket %s",
            result.get("data_source_id"),
            provider,
            bucket,
        )
        return result  # type: ignore[no-any-return]

    @validation_errors()
    def list_data_sources(self) -> list[dict[str, Any]]:
        return self._call(ApiRequest("GET", "/files/v1/data-sources")).get("data_sources", [])  # type: ignore[no-any-return]

    @validation_errors()
    async def alist_data_sources(self) -> list[dict[str, Any]]:
        return (await self._acall(ApiRequest("GET", "/files/v1/data-sources"))).get("data_sources", [])  # type: ignore[no-any-return]

    @validation_errors()
    def test_data_source(self, data_source_id: str) -> dict[str, Any]:
        """POST /files/v1/data-sources/{id}/test: a failed probe is a 200 with ``result: failed``."""
        req = simple_request(
            "POST", "/files/v1/data-sources/{data_source_id}/test", data_source_id=data_source_id
        )
        return self._call(req)  # type: ignore[no-any-return]

    @validation_errors()
    async def atest_data_source(self, data_source_id: str) -> dict[str, Any]:
        req = simple_request(
            "POST", "/files/v1/data-sources/{data_source_id}/test", data_source_id=data_source_id
        )
        return await self._acall(req)  # type: ignore[no-any-return]

    @validation_errors()
    def delete_data_source(self, data_source_id: str) -> dict[str, Any]:
        req = simple_request(
            "DELETE", "/files/v1/data-sources/{data_source_id}", data_source_id=data_source_id
        )
        return self._call(req)  # type: ignore[no-any-return]

    @validation_errors()
    async def adelete_data_source(self, data_source_id: str) -> dict[str, Any]:
        req = simple_request(
            "DELETE", "/files/v1/data-sources/{data_source_id}", data_source_id=data_source_id
        )
        return await self._acall(req)  # type: ignore[no-any-return]

    @validation_errors()
    def get_onboarding_identities(self) -> dict[str, Any]:
        """GET /files/v1/onboarding/identities: the Mathpix principals to grant bucket access."""
        return self._call(ApiRequest("GET", "/files/v1/onboarding/identities"))  # type: ignore[no-any-return]

    @validation_errors()
    async def aget_onboarding_identities(self) -> dict[str, Any]:
        return await self._acall(ApiRequest("GET", "/files/v1/onboarding/identities"))  # type: ignore[no-any-return]

    @validation_errors()
    def get_webhook_config(self) -> dict[str, Any]:
        """GET /files/v1/webhook-config: ``{"signing_secret"}`` (mask it if you log it)."""
        return self._call(ApiRequest("GET", "/files/v1/webhook-config"))  # type: ignore[no-any-return]

    @validation_errors()
    async def aget_webhook_config(self) -> dict[str, Any]:
        return await self._acall(ApiRequest("GET", "/files/v1/webhook-config"))  # type: ignore[no-any-return]

    @validation_errors()
    def test_webhook(
        self, callback_url: str, callback_headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """POST /files/v1/webhook-config/test: ``{"status": "delivered"|"failed", ...}``."""
        return self._call(
            test_webhook_request(callback_url, callback_headers, loopback_callbacks=self._local())
        )  # type: ignore[no-any-return]

    @validation_errors()
    async def atest_webhook(
        self, callback_url: str, callback_headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return await self._acall(
            test_webhook_request(callback_url, callback_headers, loopback_callbacks=await self._alocal())
        )  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ /v3 image batches

    @validation_errors()
    def submit_image_batch(self, urls: Mapping[str, Any], **options: Any) -> int | str:
        """POST /v3/batch; returns the ``batch_id``. A v3 body with ``error`` raises even under HTTP 200."""
        batch_id = self._call(submit_image_batch_request(urls, loopback_callbacks=self._local(), **options))[
            "batch_id"
        ]
        self.log.info("Submitted Mathpix image batch %s with %d images", batch_id, len(urls))
        return batch_id  # type: ignore[no-any-return]

    @validation_errors()
    async def asubmit_image_batch(self, urls: Mapping[str, Any], **options: Any) -> int | str:
        batch_id = (
            await self._acall(
                submit_image_batch_request(urls, loopback_callbacks=await self._alocal(), **options)
            )
        )["batch_id"]
        self.log.info("Submitted Mathpix image batch %s with %d images", batch_id, len(urls))
        return batch_id  # type: ignore[no-any-return]

    @validation_errors()
    def get_image_batch(self, batch_id: int | str) -> dict[str, Any]:
        """GET /v3/batch/{batch_id}: ``{"keys", "results"}``, results filling in progressively."""
        return self._call(get_image_batch_request(batch_id))  # type: ignore[no-any-return]

    @validation_errors()
    async def aget_image_batch(self, batch_id: int | str) -> dict[str, Any]:
        return await self._acall(get_image_batch_request(batch_id))  # type: ignore[no-any-return]


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
    return is_loopback_host(urlsplit(settings.base_url).hostname)


def _next_token(page: Mapping[str, Any], seen: set[str], req: ApiRequest) -> str | None:
    """The next page's token; a token handed out before means the listing loops (a,b,a,b...).

    ``seen`` grows by one short string per page (a 200,000-file job is 20 pages at the
    default size). A listing that never repeats yet never ends is stopped by its caller,
    who knows how many records the job holds (``manifests.check_listing``).
    """
    token = page.get("next_page_token")
    if not token:
        return None
    token = str(token)
    if token in seen:
        raise MathpixAPIError(
            "invalid_response",
            200,
            f"the API handed out page token {token[:40]!r} a second time (repeated after "
            f"{len(seen)} pages): the listing would never end",
            method=req.method,
            path=req.path,
        )
    seen.add(token)
    return token


def _job_summary(plan: JobPlan) -> str:
    return f"Submitted job {plan.job_id} with {plan.file_count} items in {plan.calls} call(s)"
