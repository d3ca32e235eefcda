"""Shared fixtures and helpers for tests that run real DAGs against the Mathpix emulator.

Imported by ``tests/system/conftest.py`` and ``tests/operators/conftest.py``. The
pieces are real: an initialised Airflow metadata DB (SQLite under the AIRFLOW_HOME that
``tests/conftest.py`` set), ``dag.test()`` (which runs triggers in-process), the bundled
emulator over HTTP, and sample PDFs served over loopback HTTP for it to fetch.
"""

from __future__ import annotations

import http.server
import importlib.util
import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
APP_KEY = "test-app-key-never-logged"

_DB_READY = False


def init_airflow_db() -> None:
    """``airflow db migrate``, programmatically (``airflow.utils.db.initdb``), once per process."""
    global _DB_READY
    if _DB_READY:
        return
    from airflow.utils import db

    db.initdb()
    _DB_READY = True


def make_pdf(pages: int = 1, text: str = "Hello Mathpix") -> bytes:
    """A real PDF (reportlab), so the emulator's page counting sees real pages."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for page in range(pages):
        pdf.drawString(72, 720, f"{text}: page {page + 1} of {pages}, $E = mc^2$")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_png(width: int = 8, height: int = 4) -> bytes:
    """A real (tiny, grey) PNG for ``/v3/batch``: the emulator reads its header."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class _PdfHandler(http.server.BaseHTTPRequestHandler):
    """``/docs/<name>`` serves the named sample; ``/same/<anything>.pdf`` one shared PDF; else 404."""

    docs: dict[str, bytes] = {}

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        body: bytes | None = None
        if path.startswith("/docs/"):
            body = self.docs.get(path[len("/docs/") :])
        elif path.startswith("/same/") and path.endswith(".pdf"):
            body = self.docs.get("one-page.pdf")
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png" if path.endswith(".png") else "application/pdf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


class PdfServer:
    """A loopback HTTP server the emulator fetches sample PDFs from."""

    def __init__(self) -> None:
        docs = {
            "one-page.pdf": make_pdf(1, "One page"),
            "two-pages.pdf": make_pdf(2, "Two pages"),
            "three-pages.pdf": make_pdf(3, "Three pages"),
            "equation.png": make_png(),
            "wide.png": make_png(32, 8),
        }
        handler = type("Handler", (_PdfHandler,), {"docs": docs})
        self.docs = docs
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def doc(self, name: str) -> str:
        return f"{self.url}/docs/{name}"

    def missing(self, name: str) -> str:
        """A URL that answers 404: the emulator marks that file ``not_found``."""
        return f"{self.url}/docs/missing-{name}"

    def same(self, name: str) -> str:
        """Any number of distinct URLs serving the same one-page PDF."""
        return f"{self.url}/same/{name}.pdf"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def connection_uri_env(url: str, conn_id: str = "mathpix_default") -> dict[str, str]:
    """Environment that defines a Mathpix connection pointing at ``url`` (Airflow's env backend)."""
    value = json.dumps({"conn_type": "mathpix", "host": url, "login": "test-app-id", "password": APP_KEY})
    return {f"AIRFLOW_CONN_{conn_id.upper()}": value}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def airflow_db() -> None:
    init_airflow_db()


@pytest.fixture(scope="session")
def pdf_server() -> Iterator[PdfServer]:
    server = PdfServer()
    yield server
    server.close()


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh emulator per test, with ``mathpix_default`` pointing at it."""
    from airflow_provider_mathpix.testing import MathpixEmulator

    with MathpixEmulator() as emu:
        for key, value in connection_uri_env(emu.url).items():
            monkeypatch.setenv(key, value)
        yield emu


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Any]:
    """A moto S3 server subprocess, shared by the session (buckets are per test)."""
    from airflow_provider_mathpix.testing.storage_servers import moto_s3_server

    with moto_s3_server() as server:
        yield server


@pytest.fixture
def s3_emulator(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """An emulator that reads and writes the moto S3 server; ``aws_default`` points there too."""
    from airflow_provider_mathpix.testing import MathpixEmulator

    with MathpixEmulator(storage=s3_server.bucket_store_config) as emu:
        for key, value in {**connection_uri_env(emu.url), **s3_server.airflow_env}.items():
            monkeypatch.setenv(key, value)
        yield emu, s3_server


# --------------------------------------------------------------------------- running DAGs


def load_example_dag(module_name: str, dag_id: str | None = None) -> Any:
    """Import ``example_dags/<module_name>.py`` fresh and return its DAG."""
    path = EXAMPLE_DAGS / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"mathpix_example_{module_name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    from airflow.sdk import DAG

    dags = [v for v in vars(module).values() if isinstance(v, DAG)]
    if dag_id is not None:
        dags = [d for d in dags if d.dag_id == dag_id]
    assert len(dags) == 1, f"expected one DAG in {path}, found {[d.dag_id for d in dags]}"
    return dags[0]


def run_dag(dag: Any, run_conf: dict[str, Any] | None = None) -> Any:
    """Register ``dag`` in the metadata DB (as the DAG processor would) and ``dag.test()`` it."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    init_airflow_db()
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag.test(run_conf=run_conf)


def task_states(dag_run: Any) -> dict[str, str]:
    """``{task_id: state}`` of a finished run (mapped tasks: ``task_id[i]``)."""
    out = {}
    for ti in dag_run.get_task_instances():
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        out[name] = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
    return out


def xcom(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """The XCom value a task pushed in ``dag_run`` (None if absent)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id,
                key=key,
                task_ids=task_id,
                dag_ids=dag_run.dag_id,
                map_indexes=map_index,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def xcom_json_size(dag_run: Any, task_id: str, key: str = "return_value") -> int:
    """Bytes of the XCom value as stored (JSON), to check the 10 KB contract."""
    return len(json.dumps(xcom(dag_run, task_id, key)).encode())


def stored_run_text(dag_run: Any) -> str:
    """Every XCom value and rendered template field the run stored, as one JSON text.

    Used to prove the app_key never reaches the metadata DB.
    """
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        xcoms = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id)).all()
        rendered = session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == dag_run.dag_id,
                RenderedTaskInstanceFields.run_id == dag_run.run_id,
            )
        ).all()
        values = [XComModel.deserialize_value(x) for x in xcoms] + [r.rendered_fields for r in rendered]
    assert xcoms and rendered, "expected the run to have stored XComs and rendered fields"
    return json.dumps(values, default=str)
