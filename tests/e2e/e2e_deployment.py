"""A real Airflow 3 deployment in a temporary AIRFLOW_HOME, one OS process per component.

The shape our users run in production: a PostgreSQL metadata database, CeleryExecutor
with a Redis broker, and scheduler, dag-processor, triggerer, api-server and a Celery
worker as separate processes. Where PostgreSQL or Redis is not reachable, the same
deployment runs on LocalExecutor + SQLite (the executor lives inside the scheduler),
so the test still exercises every other component rather than being skipped.

Every process is started in its own session (``start_new_session=True``), so stopping
one means signalling its whole process group: Celery pool children, LocalExecutor
workers and task supervisors go with their parent, and nothing is left running.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PG_HOST, PG_PORT, PG_ADMIN_DB, PG_USER = "127.0.0.1", 5432, "test", "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


@dataclass
class Backend:
    """Where metadata lives and how tasks are executed."""

    name: str
    executor: str
    sql_alchemy_conn: str
    env: dict[str, str] = field(default_factory=dict)
    cleanup: Callable[[], None] = lambda: None


def _pg_admin_connect() -> Any:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, dbname=PG_ADMIN_DB, user=PG_USER)
    conn.autocommit = True
    return conn


def postgres_and_redis_available() -> bool:
    if not (_reachable(PG_HOST, PG_PORT) and _reachable(REDIS_HOST, REDIS_PORT)):
        return False
    try:
        _pg_admin_connect().close()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def celery_postgres_backend() -> Iterator[Backend]:
    """A fresh database ``mathpix_e2e_<pid>`` and a private Celery queue; both removed after."""
    db = f"mathpix_e2e_{os.getpid()}"
    queue = f"mathpix_e2e_{os.getpid()}"
    admin = _pg_admin_connect()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{db}"')
    url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"

    def cleanup() -> None:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
        import redis

        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
        # The queue itself and kombu's bookkeeping for it (_kombu.binding[_permanent].<queue>).
        keys = [queue, *client.scan_iter(match=f"_kombu.binding*.{queue}")]
        client.delete(*keys)
        client.close()

    backend = Backend(
        name="celery-postgres",
        executor="CeleryExecutor",
        sql_alchemy_conn=url,
        env={
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        },
        cleanup=cleanup,
    )
    try:
        yield backend
    finally:
        backend.cleanup()


@contextlib.contextmanager
def local_sqlite_backend(home: Path) -> Iterator[Backend]:
    yield Backend(
        name="local-sqlite",
        executor="LocalExecutor",
        sql_alchemy_conn=f"sqlite:///{home / 'airflow.db'}",
        env={"AIRFLOW__CORE__PARALLELISM": "2"},
    )


@dataclass
class Component:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


class AirflowDeployment:
    """Configure, start, drive (REST API) and stop one Airflow deployment."""

    def __init__(self, home: Path, dags_folder: Path, backend: Backend, extra_env: dict[str, str]) -> None:
        self.home = home
        self.dags_folder = dags_folder
        self.backend = backend
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.fernet_key = _fernet_key()
        self.env = self._environment(extra_env)
        self.components: list[Component] = []
        self._client: httpx.Client | None = None

    # -- configuration -------------------------------------------------------------------
    def _environment(self, extra_env: dict[str, str]) -> dict[str, str]:
        # Start from the caller's environment minus every Airflow setting of the test process
        # (its AIRFLOW_HOME, SQLite URL and unit-test mode belong to pytest, not to this deployment).
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": self.backend.executor,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.backend.sql_alchemy_conn,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                # Every example DAG is in the dags folder; only those a test unpauses may run.
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.backend.env)
        env.update(extra_env)
        return env

    # -- processes -----------------------------------------------------------------------
    def migrate(self) -> None:
        result = subprocess.run(
            [AIRFLOW_BIN, "db", "migrate"],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )

    def start(self) -> None:
        self.migrate()
        argvs = {
            "api-server": [
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--workers",
                "1",
            ],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer"],
        }
        if self.backend.executor == "CeleryExecutor":
            queue = self.backend.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
            argvs["celery-worker"] = [
                "celery", "worker", "--queues", queue, "--concurrency", "2",
                "--without-mingle", "--without-gossip",
            ]  # fmt: skip
        logs = self.home / "process-logs"
        logs.mkdir(exist_ok=True)
        for name, argv in argvs.items():
            component = Component(name, [AIRFLOW_BIN, *argv], log=logs / f"{name}.log")
            with open(component.log, "wb") as out:  # type: ignore[arg-type]
                component.process = subprocess.Popen(
                    component.argv,
                    env=self.env,
                    cwd=self.home,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self.components.append(component)

    def stop(self, grace: float = 20.0) -> list[str]:
        """SIGTERM every process group, SIGKILL what outlives ``grace``; return groups that survived."""
        for component in self.components:
            _signal_group(component, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for component in self.components:
            assert component.process is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for component in self.components:
            if _group_alive(component):
                _signal_group(component, signal.SIGKILL)
        time.sleep(0.5)
        for component in self.components:
            assert component.process is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.process.wait(timeout=5)
        if self._client is not None:
            self._client.close()
        return [c.name for c in self.components if _group_alive(c)]

    def check_alive(self) -> None:
        for component in self.components:
            assert component.process is not None
            if component.process.poll() is not None:
                code = component.process.returncode
                raise RuntimeError(f"{component.name} exited with {code}:\n{self.log_tail(component.name)}")

    def log_tail(self, name: str, limit: int = 4000) -> str:
        for component in self.components:
            if component.name == name and component.log and component.log.exists():
                return component.log.read_text(errors="replace")[-limit:]
        return ""

    def all_logs_tail(self, limit: int = 3000) -> str:
        return "\n".join(f"===== {c.name} =====\n{self.log_tail(c.name, limit)}" for c in self.components)

    # -- REST API ------------------------------------------------------------------------
    @property
    def api(self) -> httpx.Client:
        if self._client is None:
            token = httpx.get(f"{self.base_url}/auth/token", timeout=30).json()["access_token"]
            self._client = httpx.Client(
                base_url=f"{self.base_url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        return self._client

    def wait_until_healthy(self, timeout: float = 180.0) -> dict[str, Any]:
        """Wait for the api-server and the heartbeats of scheduler, triggerer and dag-processor."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError, ValueError):
                last = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
                parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
                if all((last.get(p) or {}).get("status") == "healthy" for p in parts):
                    return dict(last)
            time.sleep(1)
        raise TimeoutError(f"deployment not healthy after {timeout}s: {last}\n{self.all_logs_tail()}")

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            response = self.api.get(f"/dags/{dag_id}")
            if response.status_code == 200:
                return dict(response.json())
            time.sleep(1)
        errors = self.api.get("/importErrors").text
        raise TimeoutError(f"DAG {dag_id} not parsed after {timeout}s; import errors: {errors}")

    def providers(self) -> dict[str, str]:
        """``{package_name: version}`` of the providers the api-server's ProvidersManager found."""
        response = self.api.get("/providers", params={"limit": 1000})
        response.raise_for_status()
        return {p["package_name"]: p["version"] for p in response.json()["providers"]}

    def unpause(self, dag_id: str) -> None:
        self.api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.unpause(dag_id)
        response = self.api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        response = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        response.raise_for_status()
        return list(response.json()["task_instances"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float,
        on_poll: Callable[[dict[str, str | None]], None] | None = None,
        interval: float = 0.25,
    ) -> str:
        """Poll the run until it is terminal; ``on_poll`` sees every snapshot of task states."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            states = self.task_states(dag_id, run_id)
            if on_poll is not None:
                on_poll(states)
            run = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()
            if run["state"] in ("success", "failed"):
                return str(run["state"])
            time.sleep(interval)
        raise TimeoutError(f"run {run_id} not finished after {timeout}s\n{self.all_logs_tail()}")

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        response = self.api.get(f"/dags/{dag_id}/dagRuns")
        response.raise_for_status()
        return list(response.json()["dag_runs"])

    def wait_for_run_id(self, dag_id: str, timeout: float, run_type: str) -> str:
        """The id of ``dag_id``'s first run of ``run_type`` as soon as the scheduler created it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            runs = [r for r in self.dag_runs(dag_id) if r["run_type"] == run_type]
            if runs:
                return str(runs[0]["dag_run_id"])
            time.sleep(0.5)
        raise TimeoutError(f"the scheduler created no {run_type} run of {dag_id} in {timeout}s")

    def wait_for_dag_run(self, dag_id: str, timeout: float, run_type: str | None = None) -> dict[str, Any]:
        """Wait until ``dag_id`` has a finished run (of ``run_type``, if given) created by the scheduler."""
        deadline = time.monotonic() + timeout
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            self.check_alive()
            runs = [r for r in self.dag_runs(dag_id) if run_type is None or r["run_type"] == run_type]
            finished = [r for r in runs if r["state"] in ("success", "failed")]
            if finished:
                return finished[0]
            time.sleep(0.5)
        raise TimeoutError(f"no finished {run_type or ''} run of {dag_id} after {timeout}s: {runs}")

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        response = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": "true", "stringify": "false"},
        )
        response.raise_for_status()
        return response.json()["value"]

    def xcom_entries(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every XCom of a run, values included (``~`` is the REST wildcard for task ids)."""
        response = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/~/xcomEntries")
        response.raise_for_status()
        return [
            {**entry, "value": self.xcom(dag_id, run_id, entry["task_id"], entry["key"])}
            for entry in response.json()["xcom_entries"]
        ]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log as text: one line per structured event (includes its trigger's lines)."""
        response = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        content = response.json().get("content") or []
        lines = []
        for entry in content:
            if isinstance(entry, dict):
                extra = {k: v for k, v in entry.items() if k not in ("event", "timestamp")}
                lines.append(f"{entry.get('timestamp', '')} {entry.get('event', '')} {extra}")
            else:
                lines.append(str(entry))
        return "\n".join(lines)

    # -- metadata database ---------------------------------------------------------------
    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Read the metadata DB directly (what the REST API does not expose, e.g. trigger rows)."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.backend.sql_alchemy_conn, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(sqlalchemy.text(sql), params)]
        finally:
            engine.dispose()

    def decrypt(self, token: str) -> str:
        """Decrypt a Fernet-encrypted column (trigger kwargs) with this deployment's key."""
        from cryptography.fernet import Fernet

        if token.startswith("{"):
            return token
        return Fernet(self.fernet_key.encode()).decrypt(token.encode()).decode()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _signal_group(component: Component, sig: int) -> None:
    assert component.process is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(component.process.pid, sig)


def _group_alive(component: Component) -> bool:
    assert component.process is not None
    component.process.poll()
    try:
        os.killpg(component.process.pid, 0)
    except ProcessLookupError:
        return False
    # A group whose only member is our own un-reaped zombie child is gone for practical purposes.
    import psutil

    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(proc.pid) == component.process.pid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def copy_dags(sources: list[Path], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for src in sources:
        shutil.copy2(src, dest / src.name)
    return dest
