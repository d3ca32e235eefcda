"""Where a file's outputs are named and the single-file XCom of ``design.md``.

- file: ``{"file_id", "status", "num_pages", "outputs": {ext: uri}, "error"}``; a job
  member's outputs are named the same way (:class:`JobOutputs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mathpix.contract.formats import download_ext
from airflow_provider_mathpix.contract.items import destination_of
from airflow_provider_mathpix.contract.status import record_error_text

MAX_ERROR_TEXT = 300
#: Outputs Mathpix always produces, whatever ``conversion_formats`` asked for.
ALWAYS_FORMATS = ("mmd",)


def output_exts(conversion_formats: Mapping[str, bool] | Sequence[str] | None) -> list[str]:
    """``mmd`` plus every requested (true) conversion format, in a stable order."""
    if isinstance(conversion_formats, Mapping):
        requested = [fmt for fmt, on in conversion_formats.items() if on]
    else:
        requested = list(conversion_formats or ())
    return list(dict.fromkeys([*ALWAYS_FORMATS, *(download_ext(fmt) for fmt in requested)]))


def output_uris(
    file_id: str,
    exts: Sequence[str],
    *,
    api_base: str,
    destination_uri: str | None = None,
    destination_basename: str | None = None,
) -> dict[str, str]:
    """Where each output lives: ``<destination_uri>/<basename>.<ext>`` or the API download URL."""
    if destination_uri:
        base = destination_uri.rstrip("/")
        name = destination_basename or file_id
        return {ext: f"{base}/{name}.{ext}" for ext in exts}
    return {ext: f"{api_base}/files/v1/{file_id}.{ext}" for ext in exts}


def short_text(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_ERROR_TEXT:
        return text
    return text[: MAX_ERROR_TEXT - 1] + "…"


# --------------------------------------------------------------------------- single file


def file_xcom(
    file_id: str,
    record: Mapping[str, Any] | None,
    *,
    exts: Sequence[str],
    api_base: str,
    destination_uri: str | None,
    destination_basename: str | None,
    status: str | None = None,
) -> dict[str, Any]:
    """The single-file XCom of ``design.md``."""
    record = record or {}
    error = record_error_text(record) if record.get("status") == "error" else None
    return {
        "file_id": file_id,
        "status": status or record.get("status") or "submitted",
        "num_pages": record.get("num_pages"),
        "outputs": output_uris(
            file_id,
            exts,
            api_base=api_base,
            destination_uri=destination_uri,
            destination_basename=destination_basename,
        ),
        "error": short_text(error),
    }


@dataclass
class JobOutputs:
    """How to name a job member's outputs without remembering every item.

    ``destination_prefix`` gives ``<prefix>/<custom_id>/<custom_id>.<ext>``; ``overrides``
    holds the few items that set their own ``destination_uri``/``destination_basename``
    (only possible for an explicit ``files`` list, which is in memory anyway).
    """

    exts: list[str]
    api_base: str
    destination_prefix: str | None = None
    overrides: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    #: Source URIs of an explicit ``files`` list (for the data-source check); empty otherwise.
    sources: list[str] = field(default_factory=list)

    def for_file(self, file_id: str, custom_id: str | None) -> dict[str, str]:
        dest: str | None = None
        basename: str | None = None
        if custom_id is not None and custom_id in self.overrides:
            dest, basename = self.overrides[custom_id]
        elif self.destination_prefix and custom_id:
            dest, basename = destination_of(self.destination_prefix, custom_id)
        return output_uris(
            file_id, self.exts, api_base=self.api_base, destination_uri=dest, destination_basename=basename
        )


#: Errored files' records fetched at once for their reasons (one GET each: the listing has none).
