"""Parse-time checks shared by the operators and sensors.

Why at parse time: a DAG with a bad argument should fail when the file is parsed (an
import error in the UI, naming the field), not hours later in a worker. Values that
are Jinja templates cannot be judged until rendered; those are checked in
``execute()``, still before any request is sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_mathpix._compat import ResolveMixin
from airflow_provider_mathpix.exceptions import MathpixValidationError


def is_template(value: Any, at_parse_time: bool) -> bool:
    """Whether ``value`` cannot be judged yet: a Jinja string or an XComArg before rendering."""
    if not at_parse_time:
        return False
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    # XComArg (and other resolvables) are resolved by Airflow before execute().
    return isinstance(value, ResolveMixin)


def has_template(value: Any) -> bool:
    """Whether ``value`` (or anything nested in it) is a Jinja string or an XComArg."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(has_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_template(v) for v in value)
    return isinstance(value, ResolveMixin)


def merge_named_options(
    options: Mapping[str, Any], operator: object, named: frozenset[str], reserved: frozenset[str]
) -> dict[str, Any]:
    """``options`` plus the operator's own request arguments ``named`` (those that are set).

    Why refuse ``reserved`` keys in ``options``: an argument the operator owns (a format,
    an id, a destination) passed through the free-form ``options`` would silently override
    or be overridden by it; the DAG author is told to use the argument instead.
    """
    clash = sorted(set(options) & reserved)
    if clash:
        raise MathpixValidationError(f"options sets {clash}; pass them as the operator's own arguments")
    own = {key: getattr(operator, key) for key in sorted(named)}
    return {**options, **{k: v for k, v in own.items() if v is not None}}


def validate_wait_settings(poll_interval: object, timeout: object) -> tuple[float, float]:
    """``poll_interval`` > 0 and ``timeout`` >= 0, as seconds (floats or timedeltas)."""
    return duration_seconds(poll_interval, "poll_interval"), duration_seconds(
        timeout, "timeout", allow_zero=True
    )


def duration_seconds(value: object, field: str, *, allow_zero: bool = False) -> float:
    """A duration argument as finite seconds (> 0, or >= 0 with ``allow_zero``), else refused.

    Why finite: NaN passes every comparison (a wait that never ends, or a crash at the
    first retry) and inf overflows timers (``OverflowError`` after a job was submitted).
    """
    raw = value
    if hasattr(value, "total_seconds"):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MathpixValidationError(f"{field} must be a number of seconds, got {raw!r}")
    if not math.isfinite(value):
        raise MathpixValidationError(f"{field} must be a finite number of seconds, got {raw!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise MathpixValidationError(
            f"{field} must be {'>= 0' if allow_zero else '> 0'} seconds, got {raw!r}"
        )
    return float(value)


_JINJA_MARKERS = ("{{", "{%", "{#")


class FastTemplatingMixin:
    """Skip Jinja for strings that hold no template syntax.

    Why: Airflow compiles every string of a templated field as a Jinja template, and a
    ``files`` list of 20,000 item dicts means 40,000+ compilations (tens of seconds on
    every run and every resume). A string without ``{{``, ``{%`` or ``{#`` renders to
    itself, so returning it unchanged is the same result without the cost.
    """

    template_ext: Any = ()

    def render_template(
        self,
        content: Any,
        context: Any,
        jinja_env: Any = None,
        seen_oids: set[int] | None = None,
    ) -> Any:
        if (
            isinstance(content, str)
            and not any(marker in content for marker in _JINJA_MARKERS)
            and not content.endswith(tuple(self.template_ext))
        ):
            return content
        return super().render_template(content, context, jinja_env, seen_oids)  # type: ignore[misc]


def read_once(files: Any) -> Any:
    """``files`` as a list, reading a mapped upstream's XComs (a lazy sequence) exactly once.

    Why by index: iterating Airflow's lazy XCom sequence probes one offset past its end and
    logs that miss as an "XCom not found" error; its length is known, so ask for each item.
    Validation, submission and lineage then all reuse the list.
    """
    if isinstance(files, (str, bytes, list, tuple)):
        return files
    if isinstance(files, Sequence):
        return [files[index] for index in range(len(files))]
    return list(files) if isinstance(files, Iterable) else files
