"""Data sources: register, probe and remove the buckets Mathpix may read and write.

A bucket (Azure: a container) must be registered once per Mathpix group before
``s3://``, ``gs://`` or Azure Blob URIs work as sources or destinations. These
operators make that setup a reviewable, rerunnable part of a DAG:

- ``MathpixCreateDataSourceOperator`` is idempotent: when the bucket is already
  registered (the API answers ``409 conflict``), the existing registration is found in
  the list and returned, so a rerun succeeds with the same ``data_source_id``.
- ``MathpixTestDataSourceOperator`` fails the task when Mathpix's probe fails (the API
  answers 200 with ``result: failed``), carrying the API's own message and checks.
- ``MathpixDeleteDataSourceOperator`` removes a registration (missing is fine by default).

Operators taking a data source accept either ``data_source_id`` or ``provider`` +
``bucket`` (looked up in the list), so a DAG need not pass ids around.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mathpix import storage
from airflow_provider_mathpix._compat import BaseOperator
from airflow_provider_mathpix.common.validation import is_template
from airflow_provider_mathpix.contract.requests_data_sources import DATA_SOURCE_PROVIDERS
from airflow_provider_mathpix.exceptions import (
    MathpixAPIError,
    MathpixError,
    MathpixValidationError,
    validation_errors,
)
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

if TYPE_CHECKING:
    from airflow.sdk import Context

#: The providers Mathpix can register (the contract's rule, kept in ``contract.requests_data_sources``).
PROVIDERS = tuple(DATA_SOURCE_PROVIDERS)


def _check_target(data_source_id: object, provider: object, bucket: object, *, at_parse_time: bool) -> None:
    """Exactly one of ``data_source_id`` or ``provider`` + ``bucket``."""
    by_id = data_source_id not in (None, "")
    by_bucket = provider is not None or bucket is not None
    if by_id == by_bucket:
        raise MathpixValidationError("give either data_source_id, or provider and bucket")
    if by_bucket:
        if provider is None or bucket in (None, ""):
            raise MathpixValidationError("provider and bucket must be given together")
        if not is_template(provider, at_parse_time) and provider not in PROVIDERS:
            raise MathpixValidationError(f"provider must be one of {list(PROVIDERS)}, got {provider!r}")


def _resolve_id(
    hook: MathpixHook, data_source_id: str | None, provider: str | None, bucket: str | None
) -> str | None:
    """The id to act on: the given one, or the registration of provider + bucket (None if absent)."""
    if data_source_id:
        return data_source_id
    found = storage.find_data_source(hook.list_data_sources(), str(provider), str(bucket))
    return None if found is None else str(found["data_source_id"])


class MathpixCreateDataSourceOperator(BaseOperator):
    """Register a bucket as a Mathpix data source, or return the existing registration.

    :param provider: ``aws`` | ``gcp`` | ``azure``.
    :param bucket: bucket name (Azure: container name).
    :param auth_method: ``iam_role`` (aws; ``access_key`` is the legacy fallback),
        ``service_account`` (gcp), ``azure_ad`` (azure): how Mathpix gets in (see
        ``GET /files/v1/onboarding/identities``).
    :param provider_specific_details: exactly the keys of the pair:
        ``{"iam_role_arn", "aws_external_id"}`` (aws/iam_role; the external id is the one
        onboarding gives your group), ``{"aws_access_key_id"}`` (aws/access_key),
        ``{"azure_tenant_id", "storage_account"}`` (azure/azure_ad),
        ``{"gcp_project_id", "target_sa_email"}`` (gcp/service_account).
    :param name: a label for the registration (defaults to the bucket).
    :param region: the bucket's region (required for aws/access_key).
    :param secret: the secret access key, for aws/access_key only. Treated like the app_key:
        not a template field (never rendered), masked in logs, never in XCom.

    XCom: the registration (``data_source_id``, ``provider``, ``bucket``, ``name``, …) plus
    ``"created": True|False``; the id is also pushed under the key ``data_source_id``, so
    ``create.output["data_source_id"]`` feeds the test/delete operators.
    """

    template_fields: Sequence[str] = ("bucket", "name", "region", "mathpix_conn_id")

    @validation_errors()
    def __init__(
        self,
        *,
        provider: str,
        bucket: str,
        auth_method: str,
        provider_specific_details: Mapping[str, Any] | None = None,
        name: str | None = None,
        region: str | None = None,
        secret: str | None = None,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if provider not in PROVIDERS:
            raise MathpixValidationError(f"provider must be one of {list(PROVIDERS)}, got {provider!r}")
        if not isinstance(bucket, str) or not bucket:
            raise MathpixValidationError("bucket must be a non-empty bucket (or container) name")
        self.provider = provider
        self.bucket = bucket
        self.auth_method = auth_method
        self.provider_specific_details = provider_specific_details
        self.name = name
        self.region = region
        self.secret = secret
        self.mathpix_conn_id = mathpix_conn_id

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        result = self._create_or_find()
        context["ti"].xcom_push(key="data_source_id", value=result.get("data_source_id"))
        return result

    def _create_or_find(self) -> dict[str, Any]:
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        try:
            created = hook.create_data_source(
                self.provider,
                self.bucket,
                self.auth_method,
                provider_specific_details=self.provider_specific_details,
                name=self.name,
                region=self.region,
                secret=self.secret,
            )
            return {**_public(created), "created": True}
        except MathpixAPIError as exc:
            if exc.code != "conflict":
                raise
            account = (self.provider_specific_details or {}).get("storage_account")
            existing = storage.find_data_source(hook.list_data_sources(), self.provider, self.bucket, account)
            if existing is None:
                raise
        self.log.info(
            "%s bucket %s is already registered as data source %s; reusing it",
            self.provider,
            self.bucket,
            existing.get("data_source_id"),
        )
        return {**_public(existing), "created": False}


def _public(registration: Mapping[str, Any]) -> dict[str, Any]:
    """The registration without any credential field, should an API answer ever carry one (XCom)."""
    return {k: v for k, v in registration.items() if k not in ("secret", "provider_specific_details")}


class _DataSourceTargetOperator(BaseOperator):
    """What the test and delete operators share: which registration they act on.

    Either ``data_source_id`` or ``provider`` + ``bucket`` (looked up in the list).
    """

    template_fields: Sequence[str] = ("data_source_id", "bucket", "mathpix_conn_id")

    @validation_errors()
    def __init__(
        self,
        *,
        data_source_id: str | None = None,
        provider: str | None = None,
        bucket: str | None = None,
        mathpix_conn_id: str = MathpixHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_target(data_source_id, provider, bucket, at_parse_time=True)
        self.data_source_id = data_source_id
        self.provider = provider
        self.bucket = bucket
        self.mathpix_conn_id = mathpix_conn_id

    def _target(self, hook: MathpixHook) -> str | None:
        """The registration's id (None when provider + bucket is not registered)."""
        _check_target(self.data_source_id, self.provider, self.bucket, at_parse_time=False)
        return _resolve_id(hook, self.data_source_id, self.provider, self.bucket)

    def _not_registered(self) -> storage.DataSourceNotRegistered:
        return storage.DataSourceNotRegistered(
            f"{self.provider} bucket {self.bucket!r} is not registered as a Mathpix data source"
        )


class MathpixTestDataSourceOperator(_DataSourceTargetOperator):
    """Ask Mathpix to probe a data source; fail the task with the API's message if the probe fails.

    XCom: the probe result ``{"result", "checks": {"read", "write"}, "message", "data_source_id"}``.
    """

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        ds_id = self._target(hook)
        if ds_id is None:
            raise self._not_registered()
        result = {**hook.test_data_source(ds_id), "data_source_id": ds_id}
        if result.get("result") != "ok":
            raise MathpixError(
                f"Mathpix could not use data source {ds_id}: {result.get('message') or 'probe failed'} "
                f"(checks: {result.get('checks')})"
            )
        self.log.info("Data source %s probe: %s", ds_id, result.get("checks"))
        return result


class MathpixDeleteDataSourceOperator(_DataSourceTargetOperator):
    """Remove a data source registration (the bucket itself is untouched).

    ``missing_ok`` (default True): a registration that is already gone is a success, so
    a rerun of a teardown DAG does not fail. XCom: ``{"data_source_id", "status"}``.
    """

    @validation_errors()
    def __init__(self, *, missing_ok: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.missing_ok = missing_ok

    @validation_errors()
    def execute(self, context: Context) -> dict[str, Any]:
        hook = MathpixHook(mathpix_conn_id=self.mathpix_conn_id)
        ds_id = self._target(hook)
        if ds_id is None:
            if not self.missing_ok:
                raise self._not_registered()
            return {"data_source_id": None, "status": "absent"}
        try:
            return hook.delete_data_source(ds_id)
        except MathpixAPIError as exc:
            if exc.code == "not_found" and self.missing_ok:
                return {"data_source_id": ds_id, "status": "absent"}
            raise
