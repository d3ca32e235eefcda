"""Every Airflow name the provider uses, from the one place that knows where each lives.

The provider runs on Airflow 2.11 to 3.3. Names that moved between those releases
(``BaseHook``, ``BaseOperator``, ``ObjectStoragePath``, ``Asset``/``Dataset``, ``conf``,
the sensor exceptions, ``mask_secret``) come through ``apache-airflow-providers-common-compat``
as the ASF providers import them; the few it does not map are gated here on the running
version. Modules of the provider import from here, never from ``airflow.sdk`` directly, so a
name that moves again is fixed once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION
from airflow.providers.common.compat.sdk import (
    AirflowNotFoundException,
    AirflowSensorTimeout,
    AirflowSkipException,
    Asset,
    BaseHook,
    BaseOperator,
    BaseSensorOperator,
    ObjectStoragePath,
    PokeReturnValue,
    conf,
    mask_secret,
)
from airflow.triggers.base import BaseTrigger, TriggerEvent
from packaging.version import Version

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_0_PLUS",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "AssetWatcher",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "ObjectStoragePath",
    "PokeReturnValue",
    "ResolveMixin",
    "TriggerEvent",
    "aget_connection",
    "amask_secret",
    "conf",
    "is_connection_not_found",
    "mask_secret",
]

_BASE_VERSION = Version(Version(AIRFLOW_VERSION).base_version)
AIRFLOW_V_3_0_PLUS = Version("3.0.0") <= _BASE_VERSION

if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import AssetWatcher
    from airflow.sdk.definitions._internal.mixins import ResolveMixin
else:  # Airflow 2: XComArg and friends resolve through the core mixin; no event-driven scheduling
    from airflow.utils.mixins import ResolveMixin

    AssetWatcher = None


async def aget_connection(hook: BaseHook, conn_id: str) -> Any:
    """Read a connection without blocking the triggerer's loop, on every supported Airflow.

    ``BaseHook.aget_connection`` exists from Airflow 3.1 and masks synchronously before
    3.3.2; common-compat picks the safe path for the running version (a worker thread
    where needed).
    """
    from airflow.providers.common.compat.connection import get_async_connection

    return await get_async_connection(conn_id, hook=hook)


async def amask_secret(value: str) -> None:
    """Register a secret with the log masker from async code (Airflow >= 3.3 has it natively).

    Older releases only have the synchronous ``mask_secret``, which may talk to the
    supervisor; it runs in a worker thread there so the event loop never blocks on it.
    """
    try:
        from airflow.sdk.log import amask_secret as native
    except ImportError:
        from asgiref.sync import sync_to_async

        await sync_to_async(mask_secret)(value)
    else:
        await native(value)


def is_connection_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` says a connection id is not defined anywhere Airflow looks.

    Compared by name as well: Airflow 3 raises the task SDK's class in workers and the
    triggerer and core's in some code paths; both are called ``AirflowNotFoundException``.
    """
    return isinstance(exc, AirflowNotFoundException) or type(exc).__name__ == "AirflowNotFoundException"
