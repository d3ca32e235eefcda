"""One HTTP call as data: :class:`ApiRequest`, built and validated by the ``requests_*`` modules.

Pure: no I/O, no import outside the standard library and ``contract``.
"""

from __future__ import annotations

import json as json_module
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import validate_id


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP call, fully built and validated; the hook only sends it.

    ``v3`` marks /v3 endpoints (app_id header, error bodies under HTTP 200).
    ``form`` holds multipart form fields (the file part is added by the hook).
    ``content`` is a body already encoded (a job chunk's JSON, built item by item): sent
    as these exact bytes on every attempt, and left out of ``repr``.
    """

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    content: bytes | None = dataclass_field(default=None, repr=False)
    headers: Mapping[str, str] = dataclass_field(default_factory=dict)
    v3: bool = False

    def payload(self) -> Any:
        """The JSON body as data, whether built as ``json`` or encoded in advance as ``content``."""
        return json_module.loads(self.content) if self.content is not None else self.json


def idempotency_headers(idempotency_key: str | None) -> dict[str, str]:
    if idempotency_key is None:
        return {}
    return {"Idempotency-Key": validate_id(idempotency_key, "idempotency_key")}


def page_params(page_size: object, page_token: str | None, **extra: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {k: v for k, v in extra.items() if v is not None}
    if page_size is not None:
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise InvalidInput(f"page_size must be a positive integer, got {page_size!r}")
        params["limit"] = page_size
    if page_token is not None:
        params["paging_state"] = page_token
    return params


def simple_request(method: str, template: str, **ids: str) -> ApiRequest:
    """Endpoints whose only inputs are ids in the path (get/finalize/delete/test ...)."""
    values = {name: validate_id(value, name) for name, value in ids.items()}
    return ApiRequest(method, template.format(**values))
