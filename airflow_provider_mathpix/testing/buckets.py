"""Emulated customer buckets, as the Mathpix emulator sees them.

The real Mathpix service reads ``source_uri`` objects from, and writes
``destination_uri`` outputs into, the customer's own buckets once a data source
grants it access. The emulator plays that part against real storage emulators
(a moto S3 server, ``gcp-storage-emulator``, Azurite), so a DAG's bucket-to-bucket
run is tested end to end without a cloud account.

The emulator is a test party (it must not share code with the provider under
test), so this module talks to the storage emulators with the vendors' own
clients (boto3, google-cloud-storage, azure-storage-blob), imported lazily: an
emulator started without cloud libraries still serves plain ``https://`` sources.

URIs are the forms Mathpix accepts:
``s3://bucket/key``, ``gs://bucket/key`` and
``https://{account}.blob.core.windows.net/{container}/{blob}``; the last is mapped
onto the configured Azurite endpoint (the account in the host must be the
configured account). Keys are percent-decoded (the provider percent-encodes
whitespace, ``%`` and non-ASCII characters of keys when it builds a ``source_uri``).

Every method blocks; the emulator calls them from a thread pool.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

AZURE_BLOB_HOST_SUFFIX = ".blob.core.windows.net"


class BucketStoreError(Exception):
    """Base class of the errors a :class:`BucketStore` raises."""


class ObjectNotFound(BucketStoreError):
    """The bucket is reachable but the object does not exist (Mathpix: the file's ``not_found``)."""


class BucketAccessDenied(BucketStoreError):
    """The bucket cannot be used: not configured, missing or refused (``data_source_access_denied``)."""


class BucketNotFound(BucketAccessDenied):
    """The bucket/container does not exist; a kind of access denial from Mathpix's point of view."""


class UnsupportedURI(BucketStoreError, ValueError):
    """The URI is not one of the bucket forms (s3://, gs://, Azure Blob https://)."""


@dataclass(frozen=True)
class BucketLocation:
    """Where a bucket URI points: ``provider`` is ``aws`` | ``gcp`` | ``azure`` (Mathpix's names)."""

    provider: str
    bucket: str  # S3/GCS bucket, or Azure container
    key: str  # object key / blob name ("" for the bucket itself)
    account: str | None = None  # Azure storage account

    @property
    def uri(self) -> str:
        if self.provider == "aws":
            return f"s3://{self.bucket}/{self.key}"
        if self.provider == "gcp":
            return f"gs://{self.bucket}/{self.key}"
        return f"https://{self.account}{AZURE_BLOB_HOST_SUFFIX}/{self.bucket}/{self.key}"


def parse_bucket_uri(uri: str) -> BucketLocation:
    """Split a bucket URI into provider, bucket, key (pure; raises :class:`UnsupportedURI`)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("s3", "gs"):
        if not parts.netloc:
            raise UnsupportedURI(f"{uri!r}: no bucket name")
        return BucketLocation(
            provider="aws" if scheme == "s3" else "gcp",
            bucket=parts.netloc,
            key=unquote(parts.path.lstrip("/")),
        )
    host = (parts.hostname or "").lower()
    if scheme == "https" and host.endswith(AZURE_BLOB_HOST_SUFFIX):
        account = host[: -len(AZURE_BLOB_HOST_SUFFIX)]
        container, _, blob = parts.path.lstrip("/").partition("/")
        if not account or not container:
            raise UnsupportedURI(
                f"{uri!r}: expected https://{{account}}.blob.core.windows.net/{{container}}/…"
            )
        return BucketLocation(provider="azure", bucket=container, key=unquote(blob), account=account)
    raise UnsupportedURI(
        f"{uri!r}: not a bucket URI (s3://, gs:// or https://{{account}}{AZURE_BLOB_HOST_SUFFIX})"
    )


def is_bucket_uri(uri: str) -> bool:
    """True for the URI forms that need a registered data source."""
    try:
        parse_bucket_uri(uri)
    except UnsupportedURI:
        return False
    return True


def join_uri(prefix: str, name: str) -> str:
    """``<prefix>/<name>`` with exactly one slash (``destination_uri`` may or may not end in ``/``)."""
    return prefix.rstrip("/") + "/" + name.lstrip("/")


class BucketStore:
    """Read and write objects in the configured storage emulators.

    ``config`` keys (each optional; a scheme without config is denied):

    - ``"s3"``: ``endpoint_url``, ``aws_access_key_id``, ``aws_secret_access_key``, ``region_name``
    - ``"gs"``: ``endpoint_url``, ``project``
    - ``"azure"``: ``connection_string``, or ``account_url`` + ``account_name`` + ``account_key``
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self._config: dict[str, Any] = dict(config or {})
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public API
    def read(self, uri: str) -> bytes:
        loc = parse_bucket_uri(uri)
        if loc.provider == "aws":
            return self._s3_read(loc)
        if loc.provider == "gcp":
            return self._gcs_read(loc)
        return self._azure_read(loc)

    def write(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        loc = parse_bucket_uri(uri)
        if not loc.key or loc.key.endswith("/"):
            raise UnsupportedURI(f"{uri!r}: an object URI needs a key that does not end in '/'")
        if loc.provider == "aws":
            self._s3_write(loc, data, content_type)
        elif loc.provider == "gcp":
            self._gcs_write(loc, data, content_type)
        else:
            self._azure_write(loc, data, content_type)

    def probe(self, provider: str, bucket: str, account: str | None = None) -> dict[str, bool]:
        """Can the bucket be read (listed) and written? Backs the emulator's data-source test.

        The write check writes nothing: a data-source test must not litter the
        customer's bucket, so "write" means "the bucket exists and is reachable".
        """
        try:
            self._bucket_exists(provider, bucket, account)
        except BucketStoreError:
            return {"read": False, "write": False}
        return {"read": True, "write": True}

    # ------------------------------------------------------------------ clients
    def _client(self, provider: str) -> Any:
        with self._lock:
            client = self._clients.get(provider)
            if client is None:
                client = self._clients[provider] = _CLIENT_FACTORIES[provider](self._scheme_config(provider))
            return client

    def _scheme_config(self, provider: str) -> dict[str, Any]:
        key = _CONFIG_KEY[provider]
        cfg = self._config.get(key)
        if cfg is None:
            raise BucketAccessDenied(f"no {key} storage is configured in this emulator")
        return dict(cfg)

    def _bucket_exists(self, provider: str, bucket: str, account: str | None) -> None:
        if provider == "aws":
            try:
                self._client("aws").head_bucket(Bucket=bucket)
            except Exception as exc:
                raise _s3_error(exc, bucket, "") from exc
        elif provider == "gcp":
            if self._client("gcp").lookup_bucket(bucket) is None:
                raise BucketNotFound(f"gs://{bucket}: no such bucket")
        elif provider == "azure":
            self._azure_check_account(account)
            container = self._client("azure").get_container_client(bucket)
            if not container.exists():
                raise BucketNotFound(f"container {bucket!r}: no such container")
        else:
            raise UnsupportedURI(f"unknown provider {provider!r}")

    # ------------------------------------------------------------------ S3
    def _s3_read(self, loc: BucketLocation) -> bytes:
        client = self._client("aws")
        try:
            body = client.get_object(Bucket=loc.bucket, Key=loc.key)["Body"]
            return bytes(body.read())
        except Exception as exc:
            raise _s3_error(exc, loc.bucket, loc.key) from exc

    def _s3_write(self, loc: BucketLocation, data: bytes, content_type: str | None) -> None:
        client = self._client("aws")
        extra = {"ContentType": content_type} if content_type else {}
        try:
            client.put_object(Bucket=loc.bucket, Key=loc.key, Body=data, **extra)
        except Exception as exc:
            raise _s3_error(exc, loc.bucket, loc.key) from exc

    # ------------------------------------------------------------------ GCS
    def _gcs_read(self, loc: BucketLocation) -> bytes:
        from google.api_core import exceptions as gexc

        client = self._client("gcp")
        try:
            return bytes(client.bucket(loc.bucket).blob(loc.key).download_as_bytes())
        except gexc.NotFound as exc:
            if client.lookup_bucket(loc.bucket) is None:
                raise BucketNotFound(f"gs://{loc.bucket}: no such bucket") from exc
            raise ObjectNotFound(f"{loc.uri}: no such object") from exc
        except gexc.Forbidden as exc:
            raise BucketAccessDenied(f"gs://{loc.bucket}: access denied") from exc

    def _gcs_write(self, loc: BucketLocation, data: bytes, content_type: str | None) -> None:
        from google.api_core import exceptions as gexc

        client = self._client("gcp")
        try:
            client.bucket(loc.bucket).blob(loc.key).upload_from_string(
                data, content_type=content_type or "application/octet-stream"
            )
        except gexc.NotFound as exc:
            raise BucketNotFound(f"gs://{loc.bucket}: no such bucket") from exc
        except gexc.Forbidden as exc:
            raise BucketAccessDenied(f"gs://{loc.bucket}: access denied") from exc

    # ------------------------------------------------------------------ Azure
    def _azure_check_account(self, account: str | None) -> None:
        configured = self._azure_account_name()
        if account is not None and configured is not None and account.lower() != configured.lower():
            raise BucketAccessDenied(f"storage account {account!r} is not reachable from this emulator")

    def _azure_account_name(self) -> str | None:
        cfg = self._config.get("azure") or {}
        if cfg.get("account_name"):
            return str(cfg["account_name"])
        for part in str(cfg.get("connection_string", "")).split(";"):
            name, _, value = part.partition("=")
            if name.strip().lower() == "accountname":
                return value.strip()
        return None

    def _azure_blob(self, loc: BucketLocation) -> Any:
        self._azure_check_account(loc.account)
        return self._client("azure").get_blob_client(container=loc.bucket, blob=loc.key)

    def _azure_read(self, loc: BucketLocation) -> bytes:
        from azure.core import exceptions as aexc

        try:
            return bytes(self._azure_blob(loc).download_blob().readall())
        except aexc.ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) == "ContainerNotFound":
                raise BucketNotFound(f"container {loc.bucket!r}: no such container") from exc
            raise ObjectNotFound(f"{loc.uri}: no such blob") from exc
        except aexc.HttpResponseError as exc:
            raise _azure_other(exc, loc) from exc

    def _azure_write(self, loc: BucketLocation, data: bytes, content_type: str | None) -> None:
        from azure.core import exceptions as aexc
        from azure.storage.blob import ContentSettings

        settings = ContentSettings(content_type=content_type) if content_type else None
        try:
            self._azure_blob(loc).upload_blob(data, overwrite=True, content_settings=settings)
        except aexc.ResourceNotFoundError as exc:
            raise BucketNotFound(f"container {loc.bucket!r}: no such container") from exc
        except aexc.HttpResponseError as exc:
            raise _azure_other(exc, loc) from exc


# ---------------------------------------------------------------------- helpers
_CONFIG_KEY = {"aws": "s3", "gcp": "gs", "azure": "azure"}


def make_s3_client(cfg: dict[str, Any]) -> Any:
    """A boto3 S3 client for the ``"s3"`` config block (also the test side's admin client)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=cfg.get("endpoint_url"),
        aws_access_key_id=cfg.get("aws_access_key_id", "testing"),
        aws_secret_access_key=cfg.get("aws_secret_access_key", "testing"),
        region_name=cfg.get("region_name", "us-east-1"),
        config=Config(max_pool_connections=32, retries={"max_attempts": 2, "mode": "standard"}),
    )


def make_gcs_client(cfg: dict[str, Any]) -> Any:
    """An anonymous google-cloud-storage client for the ``"gs"`` config block."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined]

    return storage.Client(
        project=cfg.get("project", "test-project"),
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": cfg["endpoint_url"]},
    )


def make_azure_client(cfg: dict[str, Any]) -> Any:
    """A ``BlobServiceClient`` for the ``"azure"`` config block (connection string or account key)."""
    from azure.storage.blob import BlobServiceClient

    if cfg.get("connection_string"):
        return BlobServiceClient.from_connection_string(cfg["connection_string"])
    from azure.storage.blob import StorageSharedKeyCredential  # type: ignore[attr-defined]

    credential = StorageSharedKeyCredential(cfg["account_name"], cfg["account_key"])
    return BlobServiceClient(account_url=cfg["account_url"], credential=credential)


_CLIENT_FACTORIES = {"aws": make_s3_client, "gcp": make_gcs_client, "azure": make_azure_client}


def _s3_error(exc: Exception, bucket: str, key: str) -> BucketStoreError:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return BucketAccessDenied(f"s3://{bucket}: {type(exc).__name__}")
    code = str(response.get("Error", {}).get("Code", ""))
    if code in ("NoSuchBucket",):
        return BucketNotFound(f"s3://{bucket}: no such bucket")
    if code in ("NoSuchKey", "404", "NotFound"):
        if not key:
            return BucketNotFound(f"s3://{bucket}: no such bucket")
        return ObjectNotFound(f"s3://{bucket}/{key}: no such object")
    return BucketAccessDenied(f"s3://{bucket}: {code or 'access denied'}")


def _azure_other(exc: Exception, loc: BucketLocation) -> BucketStoreError:
    status = getattr(exc, "status_code", None)
    return BucketAccessDenied(f"container {loc.bucket!r}: HTTP {status} {getattr(exc, 'error_code', '')}")
