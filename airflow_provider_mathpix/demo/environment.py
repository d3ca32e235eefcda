"""Stand up what the flagship DAG talks to: Mathpix (emulated or real) and an S3 bucket.

Shared by the main job (``python -m airflow_provider_mathpix.demo``) and the
real-deployment test, so both run the flagship DAG against the same setup. The emulated
setup is the bundled Mathpix emulator plus a moto S3 server, wired together: the
emulator reads the sources from, and can write outputs to, the same moto bucket the
DAG's ``aws_default`` connection points at.

The DAG itself is configured only through environment variables (``flagship_env``),
so the same file runs under ``dag.test()`` here and under a real scheduler, and the
Airflow connections are environment connections (``AIRFLOW_CONN_*``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_mathpix.demo.samples import SampleDocument, iter_sample_pdfs

DEFAULT_BUCKET = "mathpix-demo"
INCOMING = "incoming/"
PROCESSED = "processed/"
#: The emulator accepts any non-empty key; this one is only ever used against it.
EMULATOR_APP_KEY = "demo-app-key-not-a-secret"


@dataclass
class FlagshipSetup:
    """Where the flagship DAG reads and writes, and the environment that tells it so."""

    bucket: str
    warehouse: Path
    env: dict[str, str]
    documents: list[SampleDocument] = field(default_factory=list)
    emulator: Any = None
    s3: Any = None
    #: Documents that arrive later (day 2 of the demo), with their PDF bytes.
    pending: list[tuple[SampleDocument, bytes]] = field(default_factory=list)

    def deliver_pending(self) -> list[SampleDocument]:
        """Put the later documents into ``incoming/`` (emulated S3) and count them as documents."""
        from airflow_provider_mathpix.testing.storage_servers import put_objects

        arrived = [doc for doc, _ in self.pending]
        if self.s3 is not None and self.pending:
            put_objects(
                self.s3, self.bucket, {f"{INCOMING}{doc.filename}": data for doc, data in self.pending}
            )
        self.documents.extend(arrived)
        self.pending = []
        return arrived

    @property
    def incoming_uri(self) -> str:
        return f"s3://{self.bucket}/{INCOMING}"

    @property
    def processed_uri(self) -> str:
        return f"s3://{self.bucket}/{PROCESSED}"

    def list_keys(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` in the bucket (emulated S3 only; a real bucket is the user's)."""
        from airflow_provider_mathpix.testing.storage_servers import list_keys

        return list_keys(self.s3, self.bucket, prefix) if self.s3 is not None else []


def flagship_env(bucket: str, warehouse: Path, poll_interval: float) -> dict[str, str]:
    """The variables ``example_dags/example_mathpix_flagship.py`` reads at parse time."""
    return {
        "MATHPIX_DEMO_BUCKET": bucket,
        "MATHPIX_DEMO_POLL_INTERVAL": f"{poll_interval:g}",
        # The warehouse is any common.sql database; the demo's is a SQLite file.
        "AIRFLOW_CONN_MATHPIX_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
    }


def mathpix_connection_env(url: str, app_key: str, conn_id: str = "mathpix_default") -> dict[str, str]:
    """An environment connection for Mathpix (``host`` = API base URL, ``password`` = app key)."""
    value = json.dumps({"conn_type": "mathpix", "host": url, "password": app_key})
    return {f"AIRFLOW_CONN_{conn_id.upper()}": value}


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block (the hook reads env connections)."""
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, previous in old.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous


def register_data_source(env: Mapping[str, str], bucket: str, region: str | None = None) -> str:
    """Register ``bucket`` as a Mathpix data source once (an existing registration is kept).

    Goes through the hook like any DAG would; ``conflict`` means it is registered already.
    """
    from airflow_provider_mathpix.exceptions import MathpixAPIError
    from airflow_provider_mathpix.hooks.mathpix import MathpixHook

    with patched_environ(env):
        hook = MathpixHook()
        try:
            from airflow_provider_mathpix.testing.grants import keyless_grant

            grant = keyless_grant("aws", bucket, hook.get_onboarding_identities())
            created = hook.create_data_source(**grant, name=f"{bucket} (demo)", region=region)
            return str(created.get("data_source_id", ""))
        except MathpixAPIError as err:
            if err.code != "conflict":
                raise
        for source in hook.list_data_sources():
            if source.get("bucket") == bucket:
                return str(source.get("data_source_id", ""))
        return ""


#: Wraps one setup stage: ``with step("Starting ..."):`` (see ``demo.console.Console.step``).
Step = Callable[[str], contextlib.AbstractContextManager[Any]]


def _no_step(title: str) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


@contextlib.contextmanager
def emulated_services(
    workdir: Path,
    *,
    documents: int | None = None,
    bucket: str = DEFAULT_BUCKET,
    poll_interval: float = 1.0,
    emulator_settings: Mapping[str, Any] | None = None,
    later: int = 0,
    step: Step = _no_step,
) -> Iterator[FlagshipSetup]:
    """Start moto S3 + the Mathpix emulator, fill ``s3://bucket/incoming/`` with sample PDFs.

    The last ``later`` samples are held back in ``pending`` (``deliver_pending()`` adds them).

    Yields the setup; everything started here is stopped when the block exits. ``step``
    wraps each stage (the demo's console times and prints them).
    """
    from airflow_provider_mathpix.testing import MathpixEmulator
    from airflow_provider_mathpix.testing.storage_servers import create_bucket, moto_s3_server, put_objects

    warehouse = workdir / "warehouse.sqlite"
    with contextlib.ExitStack() as stack:
        with step("Starting an emulated S3 (moto server)"):
            s3 = stack.enter_context(moto_s3_server())
        with step("Starting the Mathpix API emulator"):
            emu = stack.enter_context(
                MathpixEmulator(storage=s3.bucket_store_config, **(emulator_settings or {}))
            )
        with step(f"Uploading sample PDFs to s3://{bucket}/{INCOMING}"):
            create_bucket(s3, bucket)
            samples = list(iter_sample_pdfs(documents))
            held = min(max(later, 0), len(samples) - 1)
            samples, pending = samples[: len(samples) - held], samples[len(samples) - held :]
            put_objects(s3, bucket, {f"{INCOMING}{doc.filename}": data for doc, data in samples})
        env = {
            **s3.airflow_env,
            **mathpix_connection_env(emu.url, EMULATOR_APP_KEY),
            **flagship_env(bucket, warehouse, poll_interval),
        }
        with step(f"Registering s3://{bucket} as a Mathpix data source"):
            register_data_source(env, bucket)
        yield FlagshipSetup(
            bucket=bucket,
            warehouse=warehouse,
            env=env,
            documents=[doc for doc, _ in samples],
            emulator=emu,
            s3=s3,
            pending=pending,
        )


@contextlib.contextmanager
def real_services(
    workdir: Path, *, documents: int | None = None, poll_interval: float = 10.0, step: Step = _no_step
) -> Iterator[FlagshipSetup]:
    """api.mathpix.com and the user's own S3 bucket (``MATHPIX_DEMO_BUCKET``, ``aws_default``).

    The sample PDFs are uploaded to ``s3://$MATHPIX_DEMO_BUCKET/incoming/`` through the
    amazon provider's S3Hook with the user's AWS credentials. The bucket must already be
    registered as a Mathpix data source (a one-time grant, see docs/buckets-s3.md).
    """
    app_key = os.environ.get("MATHPIX_APP_KEY", "")
    bucket = os.environ.get("MATHPIX_DEMO_BUCKET", "")
    if not app_key:
        raise SystemExit("--real needs MATHPIX_APP_KEY (your Mathpix app key)")
    if not bucket:
        raise SystemExit(
            "--real needs MATHPIX_DEMO_BUCKET (an S3 bucket registered as a Mathpix data source)"
        )
    warehouse = workdir / "warehouse.sqlite"
    env = {
        **mathpix_connection_env(os.environ.get("MATHPIX_API_URL", "https://api.mathpix.com"), app_key),
        **flagship_env(bucket, warehouse, poll_interval),
    }
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    samples = list(iter_sample_pdfs(documents))
    hook = S3Hook(aws_conn_id="aws_default")
    with step(f"Uploading sample PDFs to s3://{bucket}/{INCOMING}"):
        for doc, data in samples:
            hook.load_bytes(data, key=f"{INCOMING}{doc.filename}", bucket_name=bucket, replace=True)
    yield FlagshipSetup(bucket=bucket, warehouse=warehouse, env=env, documents=[doc for doc, _ in samples])
