"""The smoke set one Airflow version of the matrix runs (``tests/compat/matrix.py`` starts it).

Runs inside a fresh virtual environment holding one Airflow release and the provider's
BUILT wheel (``[amazon,testing]`` extras), never the source tree: every public module
imports, the provider info loads through Airflow's ProvidersManager, the connection form
and ``test_connection`` answer, and one example DAG per operator family runs with
``dag.test()`` deferrable and not, against the bundled emulator and a moto S3 server.

Usage: ``python smoke.py [<example_dags dir>]`` (default: the copy inside the installed wheel);
prints one line per check and exits 1 if any failed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import json
import os
import pkgutil
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HOME = tempfile.mkdtemp(prefix="mathpix-compat-home-")
os.environ.update(
    {
        "AIRFLOW_HOME": HOME,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
)
if int(importlib.metadata.version("apache-airflow").split(".")[0]) < 3:
    # Airflow 2.11 defaults to LocalExecutor, which refuses SQLite (3.x runs dag.test() without one).
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor"
APP_KEY = "compat-app-key-never-logged"
RESULTS: list[tuple[str, bool, float, str]] = []


def check(name: str) -> Callable[[Callable[[], str | None]], None]:
    """Run the decorated function now; record pass/fail, its time and a short note."""

    def run(fn: Callable[[], str | None]) -> None:
        started = time.monotonic()
        try:
            note = fn() or ""
            ok = True
        except Exception as exc:
            traceback.print_exc()
            note, ok = f"{type(exc).__name__}: {exc}"[:300], False
        RESULTS.append((name, ok, time.monotonic() - started, note))
        print(f"[{'ok' if ok else 'FAIL'}] {name} ({time.monotonic() - started:.1f}s) {note}", flush=True)

    return run


def airflow_version() -> tuple[int, int]:
    import airflow

    major, minor = airflow.__version__.split(".")[:2]
    return int(major), int(minor)


def validate_against(schema_file: str, value: Any) -> None:
    """Validate with the JSON schema the running Airflow itself ships (and checks providers with)."""
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / schema_file).read_text())
    jsonschema.validate(value, schema)


def run_cli(module: str, *args: str, expect: int = 0) -> str:
    """``python -m <module> <args>`` as a user would run it (a clean environment, no AIRFLOW_*)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MATHPIX_"))}
    result = subprocess.run(
        [sys.executable, "-m", module, *args], env=env, capture_output=True, text=True, timeout=600
    )
    out = result.stdout + result.stderr
    assert result.returncode == expect, f"exit {result.returncode}: {out[-3000:]}"
    return out


def forget_object_stores() -> None:
    """ObjectStoragePath caches one filesystem per ``<protocol>-<conn_id>``; each DAG gets fresh ones."""
    for name in ("airflow.sdk.io.store", "airflow.io.store"):
        store = sys.modules.get(name)
        if store is not None:
            store._STORE_CACHE.clear()


def load_dag(folder: Path, module_name: str, dag_id: str | None = None) -> Any:
    from airflow.providers.common.compat.sdk import DAG

    spec = importlib.util.spec_from_file_location(
        f"compat_{module_name}_{uuid.uuid4().hex}", folder / f"{module_name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = [v for v in vars(module).values() if isinstance(v, DAG) and (dag_id is None or v.dag_id == dag_id)]
    assert len(dags) == 1, [d.dag_id for d in dags]
    return dags[0]


def run_dag(dag: Any, run_conf: dict[str, Any] | None = None) -> dict[str, str]:
    """Register ``dag`` the way each Airflow's DAG processor would, ``dag.test()`` it, return task states."""
    if airflow_version() >= (3, 0):  # Airflow 2's dag.test() needs no registration
        from airflow_provider_mathpix.demo.runner import register_dags  # the wheel's, per version

        register_dags(dag, init_db=False)  # main() migrated the DB once
    forget_object_stores()
    dag_run = dag.test(run_conf=run_conf) if run_conf else dag.test()
    states = {}
    for ti in dag_run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[key] = str(getattr(ti.state, "value", ti.state))
    return states


def set_deferrable(dag: Any, deferrable: bool, poll_interval: float = 0.2) -> None:
    for task in dag.tasks:
        if hasattr(task, "deferrable") and type(task).__module__.startswith("airflow_provider_mathpix"):
            task.deferrable = deferrable
            if hasattr(task, "poll_interval"):
                task.poll_interval = poll_interval
            if hasattr(task, "poke_interval"):
                task.poke_interval = poll_interval


def all_success(states: dict[str, str]) -> str:
    assert states and set(states.values()) == {"success"}, states
    return f"{len(states)} tasks success"


@contextmanager
def environment() -> Iterator[dict[str, Any]]:
    """The emulator (reading/writing a moto S3 server) with every connection pointing at it."""
    from airflow_provider_mathpix.testing import MathpixEmulator
    from airflow_provider_mathpix.testing.storage_servers import moto_s3_server

    with ExitStack() as stack:
        s3 = stack.enter_context(moto_s3_server())
        emu = stack.enter_context(MathpixEmulator(storage=s3.bucket_store_config))
        conn = {"conn_type": "mathpix", "host": emu.url, "login": "compat-app", "password": APP_KEY}
        os.environ["AIRFLOW_CONN_MATHPIX_DEFAULT"] = json.dumps(conn)
        os.environ.update(s3.airflow_env)

        def serve(files: dict[str, bytes]) -> str:
            return stack.enter_context(_serving(files))

        yield {"emulator": emu, "s3": s3, "serve": serve}


@contextmanager
def _serving(files: dict[str, bytes]) -> Iterator[str]:
    """A loopback HTTP server for ``files`` (the emulator fetches sources from URLs)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main(examples: Path) -> int:
    import airflow

    print(f"Airflow {airflow.__version__}, Python {sys.version.split()[0]}", flush=True)

    @check("every public module imports")
    def _imports() -> str:
        import airflow_provider_mathpix

        walked = pkgutil.walk_packages(airflow_provider_mathpix.__path__, "airflow_provider_mathpix.")
        names = [m.name for m in walked if not m.name.endswith(".__main__")]  # those run a CLI
        for name in names:
            importlib.import_module(name)
        assert "/site-packages/" in airflow_provider_mathpix.__file__, "not the installed wheel"
        return f"{len(names)} modules"

    @check("provider info loads (ProvidersManager, Airflow's schema)")
    def _provider_info() -> str:
        from airflow.providers_manager import ProvidersManager

        from airflow_provider_mathpix import get_provider_info

        validate_against("provider_info.schema.json", get_provider_info())
        manager = ProvidersManager()
        info = manager.providers["airflow-provider-mathpix"]
        hook = manager.hooks["mathpix"]
        assert hook is not None and hook.hook_class_name.endswith("MathpixHook"), hook
        return f"version {info.version}"

    @check("connection form (field behaviour)")
    def _form() -> str:
        from airflow.providers_manager import ProvidersManager

        from airflow_provider_mathpix.hooks.mathpix import MathpixHook

        behaviour = MathpixHook.get_ui_field_behaviour()
        validate_against("customized_form_field_behaviours.schema.json", behaviour)
        assert "schema" in behaviour["hidden_fields"], behaviour
        loaded = ProvidersManager().field_behaviours
        if not loaded:  # Airflow 3.0 builds no form at all without flask_appbuilder (the FAB provider)
            return "valid; this Airflow loads no connection forms without flask_appbuilder"
        declared = loaded.get("mathpix")
        assert declared and "password" in declared["relabeling"], declared
        note = "relabelled: " + ", ".join(sorted(declared["relabeling"]))
        widgets = MathpixHook.get_connection_form_widgets()
        if widgets:  # a Flask (FAB) UI: the extras are form fields there
            from airflow_provider_mathpix.hooks._connection import CONN_FIELDS

            expected = {"timeout", "request_timeout", "max_retries", "retry_max_wait", "retry_deadline"}
            assert set(widgets) == set(CONN_FIELDS) == expected, widgets
            fields = ProvidersManager().connection_form_widgets
            assert any(key.endswith("timeout") and "mathpix" in key for key in fields), sorted(fields)[:20]
            note += f"; {len(widgets)} extra fields"
        return note

    @check("OpenLineage facets (apache-airflow-providers-openlineage)")
    def _lineage() -> str:
        from airflow_provider_mathpix.operators.jobs import MathpixSubmitJobOperator

        operator = MathpixSubmitJobOperator(
            task_id="lineage", source_prefix="s3://docs/in/", destination_prefix="s3://docs/out/"
        )
        lineage = operator.get_openlineage_facets_on_complete(None)
        assert lineage is not None, "no OperatorLineage although the OpenLineage provider is installed"
        names = sorted(f"{d.namespace}/{d.name}" for d in [*lineage.inputs, *lineage.outputs])
        assert names == ["s3://docs/in", "s3://docs/out"], names
        return ", ".join(names)

    db_started = time.monotonic()
    from airflow.utils import db

    db.initdb()
    print(f"metadata DB ready ({time.monotonic() - db_started:.1f}s)", flush=True)

    with environment() as env:
        s3, stack_server = env["s3"], env["serve"]
        from airflow_provider_mathpix.demo.environment import register_data_source
        from airflow_provider_mathpix.demo.samples import iter_sample_pdfs
        from airflow_provider_mathpix.testing.storage_servers import create_bucket, list_keys, put_objects

        pdfs = {sample.filename: body for sample, body in iter_sample_pdfs(2)}
        served = stack_server({**pdfs, "eq.png": _png()})

        @check("test_connection against the emulator")
        def _test_connection() -> str:
            from airflow_provider_mathpix.hooks.mathpix import MathpixHook

            ok, message = MathpixHook().test_connection()
            assert ok, message
            assert APP_KEY not in message
            return message[:60]

        def bucket_with_pdfs(label: str, prefix: str) -> str:
            name = f"{label}-{uuid.uuid4().hex[:10]}"
            create_bucket(s3, name)
            put_objects(s3, name, {f"{prefix}{doc}": body for doc, body in pdfs.items()})
            return name

        def files(deferrable: bool) -> str:
            dag = load_dag(examples, "example_mathpix_convert_pdf")
            set_deferrable(dag, deferrable)
            return all_success(run_dag(dag, {"source_uri": f"{served}/{next(iter(pdfs))}"}))

        def jobs(deferrable: bool) -> str:
            dag = load_dag(examples, "example_mathpix_batch_job")
            set_deferrable(dag, deferrable)
            return all_success(run_dag(dag, {"files": [f"{served}/{name}" for name in pdfs]}))

        def scs(deferrable: bool) -> str:
            src = bucket_with_pdfs("src", "contracts/")
            out = f"out-{uuid.uuid4().hex[:10]}"
            create_bucket(s3, out)
            from airflow_provider_mathpix.hooks.mathpix import MathpixHook

            # The example registers keyless grants, which carry the group's external_id.
            external_id = MathpixHook().get_onboarding_identities()["aws"]["external_id"]
            os.environ["MATHPIX_SCS_EXTERNAL_ID"] = external_id
            dag = load_dag(examples, "example_mathpix_scs_migration")
            set_deferrable(dag, deferrable)
            conf = {"source_prefix": f"s3://{src}/contracts/", "output_prefix": f"s3://{out}/processed/"}
            note = all_success(run_dag(dag, conf))
            written = [k for k in list_keys(s3, out, "processed/") if k.endswith(".md")]
            assert len(written) == len(pdfs), written
            return f"{note}, {len(written)} .md in the output bucket"

        def assets(deferrable: bool) -> str:
            bucket = bucket_with_pdfs("assets", "incoming/")
            register_data_source(dict(os.environ), bucket)  # as the demo does: Mathpix reads it
            os.environ["MATHPIX_DEMO_BUCKET"] = bucket
            dag = load_dag(examples, "example_mathpix_assets", "example_mathpix_assets_producer")
            set_deferrable(dag, deferrable)
            note = all_success(run_dag(dag))
            published = [k for k in list_keys(s3, bucket, "library/markdown/") if k.endswith(".md")]
            assert len(published) == len(pdfs), published
            outlets = dag.get_task("publish_markdown").outlets
            return f"{note}, outlet {type(outlets[0]).__name__}"

        def images(deferrable: bool) -> str:
            from datetime import datetime

            from airflow.providers.common.compat.sdk import DAG

            from airflow_provider_mathpix.operators.images import MathpixImageBatchOperator

            dag_id = f"compat_images_{'deferrable' if deferrable else 'in_process'}"
            with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1)) as dag:
                MathpixImageBatchOperator(
                    task_id="ocr", urls={"eq": f"{served}/eq.png"}, deferrable=deferrable, poll_interval=0.2
                )
            return all_success(run_dag(dag))

        families = {
            "files: example_mathpix_convert_pdf": files,
            "jobs + sensor: example_mathpix_batch_job": jobs,
            "data sources + jobs + delete: example_mathpix_scs_migration": scs,
            "download outputs + asset: example_mathpix_assets producer": assets,
            "images: MathpixImageBatchOperator": images,
        }
        for deferrable in (False, True):
            for name, family in families.items():
                mode = "deferrable" if deferrable else "in-process"
                check(f"{name} ({mode})")(functools.partial(family, deferrable))

    @check("documented commands: python -m airflow_provider_mathpix.testing --help")
    def _emulator_cli() -> str:
        out = run_cli("airflow_provider_mathpix.testing", "--help")
        assert "--storage" in out and "docs/" not in out, out  # the wheel carries no docs/ folder
        return "ok"

    @check("documented commands: python -m airflow_provider_mathpix.demo --documents 2")
    def _demo() -> str:
        home = tempfile.mkdtemp(prefix="mathpix-compat-demo-")
        if airflow_version() < (3, 0):
            out = run_cli("airflow_provider_mathpix.demo", "--home", home, expect=2)
            assert "The demo needs Airflow 3" in out, out
            return "refused with a clear message (the demo drives Airflow 3 APIs)"
        out = run_cli("airflow_provider_mathpix.demo", "--documents", "2", "--home", home)
        assert "run SUCCESS" in out, out
        above_summary = out.split("=" * 72)[0].strip().splitlines()
        assert len(above_summary) <= 20, above_summary
        return f"run SUCCESS, {len(above_summary)} lines above the summary"

    failed = [name for name, ok, _, _ in RESULTS if not ok]
    print(
        f"SMOKE {'PASSED' if not failed else 'FAILED'}: {len(RESULTS) - len(failed)}/{len(RESULTS)} checks",
        flush=True,
    )
    return 1 if failed else 0


def _png() -> bytes:
    """A tiny real PNG (the emulator reads its header for the image size)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * 8 for _ in range(4))
    header = struct.pack(">IIBBBBB", 8, 4, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        folder = Path(sys.argv[1])
    else:  # the example DAGs the wheel carries (what a user who installed it has)
        import airflow_provider_mathpix

        folder = Path(airflow_provider_mathpix.__file__).parent / "example_dags"
    sys.exit(main(folder))
