"""Identifiers derived from the task instance, so a retried task re-submits the same work.

Why: a task may run more than once for one logical piece of work (a retry, a worker
lost between the POST and anything being saved, a triggerer restart). Mathpix
deduplicates on ``(job_id, custom_id)`` and on a single file's ``Idempotency-Key``;
if those identifiers are the same on every try, the second try gets back the files of
the first and nothing is processed (or charged) twice. So they are derived from what
names the work -- ``dag_id``, ``run_id``, ``task_id``, ``map_index`` -- and NEVER from
``try_number``, which names the attempt.

Mathpix deduplicates whatever the options: re-submitting a pair with other
``conversion_formats`` returns the original file with its original formats. So the
default ids also fold in a fingerprint of the options that change the output
(:func:`options_fingerprint`): a retry with the same options re-attaches, while a task
cleared after its options changed (``docx`` added, another destination) makes new files.

Everything here is pure (standard library and ``contract`` only, no I/O) and every result satisfies the
contract's identifier rule (``[A-Za-z0-9_\\-.:]``, at most 256 characters) through
:func:`airflow_provider_mathpix.contract.ids.custom_id_from_key`, which keeps a readable
prefix and appends a short hash whenever the raw text had to be changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.ids import custom_id_from_key

#: Prefix of every derived id: tells a human browsing ``GET /files/v1/jobs`` where it came from.
ID_PREFIX = "airflow"


def task_instance_key(dag_id: str, run_id: str, task_id: str, map_index: int | None = -1) -> str:
    """The raw (not yet charset-safe) text naming one task instance's work.

    ``map_index`` -1 (an unmapped task) is left out so ids of ordinary tasks stay short.
    """
    parts = [ID_PREFIX, dag_id, task_id]
    if map_index is not None and map_index >= 0:
        parts.append(str(map_index))
    parts.append(run_id)
    return ":".join(parts)


#: Options that do not change what Mathpix produces (who is told, and labels), left out of the fingerprint.
OUTPUT_NEUTRAL_OPTIONS = frozenset({"callback_url", "callback_headers", "callback_events", "metadata"})


def options_fingerprint(options: Mapping[str, Any] | None) -> str:
    """A short, stable digest of the options that change the output (order-insensitive).

    Everything but :data:`OUTPUT_NEUTRAL_OPTIONS` and unset (None) values counts:
    ``conversion_formats``, OCR options, ``page_ranges``, destinations, ``image_output_mode``…
    """
    relevant = {k: v for k, v in (options or {}).items() if k not in OUTPUT_NEUTRAL_OPTIONS and v is not None}
    text = json.dumps(relevant, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def job_id_for(
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None = -1,
    *,
    options: Mapping[str, Any] | None = None,
) -> str:
    """Default ``job_id`` of a job operator: one job per task instance and options, the same on every try.

    With ``options`` (what the operators pass), their :func:`options_fingerprint` is part of
    the id, so changed options start a new job instead of re-attaching to the old files.
    """
    key = task_instance_key(dag_id, run_id, task_id, map_index)
    if options is not None:
        key = f"{key}:o{options_fingerprint(options)}"
    return custom_id_from_key(key)


def idempotency_key_for(
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None = -1,
    *,
    source: str = "",
    options: Mapping[str, Any] | None = None,
) -> str:
    """Default ``Idempotency-Key`` of a single-file submission.

    The source's identity (URI, or upload name) and the output-changing ``options`` are
    folded in as a short hash: a retry of the same task with the same source and options
    gets the original file back, while a task whose templated source or options changed
    between tries (a user fixed a typo, or added ``docx``, and cleared the task) gets a new
    file instead of silently the old one.
    """
    base = task_instance_key(dag_id, run_id, task_id, map_index)
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    if options is not None:
        digest += f"-o{options_fingerprint(options)}"
    return custom_id_from_key(f"{base}:file:{digest}")


def ids_from_context(context: Mapping[str, Any]) -> tuple[str, str, str, int]:
    """``(dag_id, run_id, task_id, map_index)`` of the running task instance.

    Read from ``context["ti"]`` (the one object both the worker and ``dag.test()`` give).
    ``try_number`` is deliberately not returned.
    """
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    return ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else int(map_index)
