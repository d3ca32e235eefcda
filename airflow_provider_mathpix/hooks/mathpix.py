"""MathpixHook: the only place in the provider that speaks HTTP to Mathpix.

SKELETON: public signatures are final (design.md); bodies land in the next commits.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import IO, Any

from airflow.sdk import BaseHook

PathOrFile = str | os.PathLike[str] | IO[bytes]


class MathpixHook(BaseHook):
    """Talk to the Mathpix Files API (and /v3/batch) with one connection."""

    conn_name_attr = "mathpix_conn_id"
    default_conn_name = "mathpix_default"
    conn_type = "mathpix"
    hook_name = "Mathpix"

    def __init__(self, mathpix_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.mathpix_conn_id = mathpix_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"login": "App ID", "password": "App Key", "host": "API URL"},
            "placeholders": {"host": "https://api.mathpix.com", "login": "needed only for /v3 endpoints"},
        }

    # ---- lifecycle
    def close(self) -> None: ...
    def __enter__(self) -> MathpixHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> MathpixHook:
        return self

    async def __aexit__(self, *exc: object) -> None: ...

    # ---- sync surface
    def test_connection(self) -> tuple[bool, str]:
        raise NotImplementedError

    def submit_file(self, source_uri: str, *, idempotency_key: str | None = None, **options: Any) -> str:
        raise NotImplementedError

    def upload_file(
        self,
        path_or_fileobj: PathOrFile,
        filename: str | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        raise NotImplementedError

    def submit_job(
        self,
        items: Iterable[Mapping[str, Any]],
        job_id: str | None = None,
        max_items_per_request: int | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def get_job(self, job_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def iter_job_files(
        self, job_id: str, status: str | None = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def get_job_file(self, job_id: str, custom_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def finalize_job(self, job_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def iter_jobs(
        self, start: str | None = None, end: str | None = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def get_file(self, file_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def download_output(self, file_id: str, ext: str, to: PathOrFile | None = None) -> bytes | int:
        """Bytes when ``to`` is None, else the number of bytes streamed into ``to``."""
        raise NotImplementedError

    def delete_file(self, file_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def create_data_source(
        self,
        provider: str,
        bucket: str,
        auth_method: str,
        *,
        provider_specific_details: Mapping[str, Any] | None = None,
        name: str | None = None,
        region: str | None = None,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def list_data_sources(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def test_data_source(self, data_source_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def delete_data_source(self, data_source_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def get_onboarding_identities(self) -> dict[str, Any]:
        raise NotImplementedError

    def get_webhook_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def test_webhook(
        self, callback_url: str, callback_headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        raise NotImplementedError

    def submit_image_batch(self, urls: Mapping[str, Any], **options: Any) -> int | str:
        raise NotImplementedError

    def get_image_batch(self, batch_id: int | str) -> dict[str, Any]:
        raise NotImplementedError

    # ---- async twins (same arguments and results)
    async def atest_connection(self) -> tuple[bool, str]:
        raise NotImplementedError

    async def asubmit_file(
        self, source_uri: str, *, idempotency_key: str | None = None, **options: Any
    ) -> str:
        raise NotImplementedError

    async def aupload_file(
        self,
        path_or_fileobj: PathOrFile,
        filename: str | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        raise NotImplementedError

    async def asubmit_job(
        self,
        items: Iterable[Mapping[str, Any]],
        job_id: str | None = None,
        max_items_per_request: int | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        raise NotImplementedError

    async def aget_job(self, job_id: str) -> dict[str, Any]:
        raise NotImplementedError

    async def aiter_job_files(
        self, job_id: str, status: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError
        yield {}

    async def aget_job_file(self, job_id: str, custom_id: str) -> dict[str, Any]:
        raise NotImplementedError

    async def afinalize_job(self, job_id: str) -> dict[str, Any]:
        raise NotImplementedError

    async def aiter_jobs(
        self, start: str | None = None, end: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError
        yield {}

    async def aget_file(self, file_id: str) -> dict[str, Any]:
        raise NotImplementedError

    async def adownload_output(self, file_id: str, ext: str, to: PathOrFile | None = None) -> bytes | int:
        raise NotImplementedError

    async def adelete_file(self, file_id: str) -> dict[str, Any]:
        raise NotImplementedError

    async def acreate_data_source(
        self,
        provider: str,
        bucket: str,
        auth_method: str,
        *,
        provider_specific_details: Mapping[str, Any] | None = None,
        name: str | None = None,
        region: str | None = None,
    ) -> dict[str, Any]:
        raise NotImplementedError

    async def alist_data_sources(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def atest_data_source(self, data_source_id: str) -> dict[str, Any]:
        raise NotImplementedError

    async def adelete_data_source(self, data_source_id: str) -> dict[str, Any]:
        raise NotImplementedError

    async def aget_onboarding_identities(self) -> dict[str, Any]:
        raise NotImplementedError

    async def aget_webhook_config(self) -> dict[str, Any]:
        raise NotImplementedError

    async def atest_webhook(
        self, callback_url: str, callback_headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        raise NotImplementedError

    async def asubmit_image_batch(self, urls: Mapping[str, Any], **options: Any) -> int | str:
        raise NotImplementedError

    async def aget_image_batch(self, batch_id: int | str) -> dict[str, Any]:
        raise NotImplementedError
