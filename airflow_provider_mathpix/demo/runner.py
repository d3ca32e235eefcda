"""``python -m airflow_provider_mathpix.demo``: run the flagship DAG for two days, print a summary.

Order matters: Airflow reads ``AIRFLOW_HOME`` and its database URL when it is first
imported, so they are set (to the demo's own home under ``.demo/``) before anything
imports Airflow. Then the services start, the metadata DB is initialised, the flagship
DAG is registered and run for real with ``dag.test()`` (deferrable tasks really defer;
``dag.test()`` runs their triggers in-process) for two consecutive days, with more
documents arriving in between, and the summary is read back from what the runs left
behind: XCom, the bucket and the warehouse table.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow_provider_mathpix.demo.console import Console, shorten_ids
from airflow_provider_mathpix.demo.environment import (
    INCOMING,
    FlagshipSetup,
    emulated_services,
    real_services,
)

FLAGSHIP_DAG_ID = "example_mathpix_flagship"
SHOWN_ROWS = 10
#: Sample documents that arrive after day 1 (the rest are there from the start).
LATER_DOCUMENTS = 2
REPO_ROOT = Path(__file__).resolve().parents[2]
#: A clone's example_dags/, else the copy the wheel carries (pyproject: force-include).
_EXAMPLES = next(
    (
        folder
        for folder in (REPO_ROOT / "example_dags", Path(__file__).resolve().parents[1] / "example_dags")
        if (folder / "example_mathpix_flagship.py").exists()
    ),
    REPO_ROOT / "example_dags",
)
FLAGSHIP_FILE = _EXAMPLES / "example_mathpix_flagship.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_mathpix.demo",
        description=(
            "Run the flagship Mathpix pipeline (S3 prefix -> Mathpix job -> Markdown in S3 -> "
            "warehouse table) on the bundled emulator and an emulated S3, or with --real against "
            "api.mathpix.com (needs MATHPIX_APP_KEY and MATHPIX_DEMO_BUCKET)."
        ),
    )
    parser.add_argument("--real", action="store_true", help="use api.mathpix.com and your own S3 bucket")
    parser.add_argument("--documents", type=int, default=None, help="number of sample PDFs (default: 5)")
    parser.add_argument("--home", default=".demo", help="demo working folder (default: .demo)")
    parser.add_argument(
        "--verbose", action="store_true", help="show Airflow's own logs here instead of in <home>/demo.log"
    )
    args = parser.parse_args(argv)
    if args.documents is not None and args.documents < 1:
        parser.error("--documents must be at least 1")
    return args


def configure_airflow(airflow_home: Path) -> None:
    """Point Airflow at the demo's own home and SQLite DB (before Airflow is imported)."""
    if "airflow" in sys.modules:
        raise RuntimeError("configure_airflow must run before Airflow is imported")
    airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(airflow_home)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{airflow_home / 'airflow.db'}"
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(FLAGSHIP_FILE.parent)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")


def load_flagship_dag() -> Any:
    """Import ``example_dags/example_mathpix_flagship.py`` (it reads its settings from the env)."""
    if not FLAGSHIP_FILE.exists():
        raise SystemExit(f"{FLAGSHIP_FILE} not found: reinstall the package or run from a clone")
    spec = importlib.util.spec_from_file_location("example_mathpix_flagship", FLAGSHIP_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    dag = module.dag
    if dag.dag_id != FLAGSHIP_DAG_ID:
        raise SystemExit(f"{FLAGSHIP_FILE} defines {dag.dag_id!r}, expected {FLAGSHIP_DAG_ID!r}")
    return dag


def register_dags(*dags: Any, init_db: bool = True) -> None:
    """Initialise the metadata DB (unless ``init_db=False``: done already) and register the
    DAGs, as ``airflow db migrate`` and the dag-processor would in a deployment
    (``dag.test()`` runs a DAG the DB knows, and asset events queue runs only for consumer
    DAGs the DB knows)."""
    import importlib

    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.utils import db

    from airflow_provider_mathpix._compat import AIRFLOW_VERSION

    version = tuple(int(part) for part in AIRFLOW_VERSION.split(".")[:2])
    if init_db:
        db.initdb()
    DagBundlesManager().sync_bundles_to_db()
    # The DAG processor's own calls, which moved between 3.0, 3.1 and 3.2.
    dagbag = importlib.import_module(
        "airflow.dag_processing.dagbag" if version >= (3, 2) else "airflow.models.dagbag"
    )
    bag = dagbag.DagBag(dag_folder=os.devnull)
    for dag in dags:
        if version < (3, 1):
            dag.relative_fileloc = os.path.basename(dag.fileloc)  # what parsing the file sets
        bag.bag_dag(dag)
    if version >= (3, 1):
        dagbag.sync_bag_to_db(bag, "dags-folder", None)
    else:
        bag.sync_to_db("dags-folder", None)


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, key=key, task_ids=task_id, dag_ids=dag_run.dag_id)
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


@dataclass
class DayRun:
    """One daily run of the flagship, read back from its XCom."""

    label: str
    logical_date: str
    state: str
    task_states: dict[str, str]
    converted: int = 0
    skipped: int = 0
    errored: int = 0
    cost_line: str = ""


@dataclass
class Row:
    """One row of the warehouse table, as the summary shows it."""

    id: str
    pages: int
    title: str


@dataclass
class Summary:
    """What the runs produced, read back from XCom, the bucket and the warehouse."""

    days: list[DayRun]
    pages: int = 0
    outputs: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    @property
    def state(self) -> str:
        return "success" if all(day.state == "success" for day in self.days) else "failed"

    @property
    def documents(self) -> int:
        return len(self.rows)

    @property
    def files_errored(self) -> int:
        return sum(day.errored for day in self.days)

    @property
    def ok(self) -> bool:
        return self.state == "success" and self.documents > 0


def day_run(label: str, dag_run: Any) -> DayRun:
    states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}
    job = xcom_value(dag_run, "convert") or {}
    loaded = xcom_value(dag_run, "load_warehouse") or {}
    return DayRun(
        label=label,
        logical_date=str(dag_run.logical_date)[:10],
        state=str(getattr(dag_run.state, "value", dag_run.state)),
        task_states=states,
        converted=int(job.get("files_completed") or 0),
        skipped=int(job.get("files_skipped") or 0),
        errored=int(job.get("files_errored") or 0),
        cost_line=str(loaded.get("cost_line") or ""),
    )


def summarize(setup: FlagshipSetup, days: list[DayRun]) -> Summary:
    """The table's rows (through the same ``mathpix_warehouse`` connection the DAG used)."""
    from airflow_provider_mathpix._compat import BaseHook
    from airflow_provider_mathpix.demo.titles import title_from_markdown

    summary = Summary(days=days)
    if setup.warehouse.exists():
        db = BaseHook.get_connection("mathpix_warehouse").get_hook()
        records = db.get_records(
            "SELECT document_id, pages, markdown FROM documents "
            "WHERE status = 'completed' ORDER BY document_id"
        )
        summary.rows = [Row(str(r[0]), int(r[1] or 0), title_from_markdown(str(r[2] or ""))) for r in records]
    summary.pages = sum(row.pages for row in summary.rows)
    summary.outputs = [key for key in setup.list_keys("processed/") if key.endswith(".md")]
    return summary


def print_summary(setup: FlagshipSetup, summary: Summary, timings: dict[str, float], real: bool) -> None:
    target = "api.mathpix.com" if real else "the bundled Mathpix emulator + emulated S3 (moto)"
    print()
    print("=" * 72)
    print(f"Mathpix flagship pipeline on {target}: {len(summary.days)} daily runs {summary.state.upper()}")
    print("=" * 72)
    for day in summary.days:
        print(
            f"  {day.label} {day.logical_date}: {day.converted} converted, "
            f"{day.skipped} skipped (already converted), {day.errored} errored"
        )
        print(f"      tasks   : {', '.join(f'{t}={s}' for t, s in day.task_states.items())}")
        if day.cost_line:
            print(f"      cost    : {shorten_ids(day.cost_line)}")
    print(f"  documents   : {summary.documents} converted and loaded (of {len(setup.documents)} delivered)")
    print(f"  pages       : {summary.pages}")
    print(f"  errors      : {summary.files_errored} file(s) errored")
    outputs = f" ({len(summary.outputs)} Markdown files)" if summary.outputs else ""
    print(f"  outputs     : {setup.processed_uri}{outputs}")
    print(f"  table       : documents in {setup.warehouse} (SQLite, one row per document)")
    for row in summary.rows[:SHOWN_ROWS]:
        print(f"      {row.id:<48.48} {row.pages:>3} pages  {row.title[:40]}")
    if len(summary.rows) > SHOWN_ROWS:
        print(f"      ... and {len(summary.rows) - SHOWN_ROWS} more rows")
    print(
        f"  wall time   : {timings['total']:.1f} s total (setup {timings['setup']:.1f} s, "
        f"pipeline {timings['pipeline']:.1f} s)"
    )
    print("=" * 72)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from importlib.metadata import version

    if int(version("apache-airflow").split(".")[0]) < 3:
        # The provider runs on Airflow 2.11; this demo drives Airflow 3's DAG processor and XCom API.
        print(
            f"The demo needs Airflow 3 (this environment has {version('apache-airflow')}); the "
            "provider itself supports Airflow 2.11 and later. Use a separate virtual environment "
            "with Airflow 3 to run the demo: "
            'pip install "apache-airflow>=3.0,<3.4" "<wheel>[amazon,testing]"',
            file=sys.stderr,
        )
        return 2
    start = time.monotonic()
    workdir = Path(args.home).resolve()
    console = Console(workdir / "demo.log", verbose=args.verbose)
    if not args.verbose:
        workdir.mkdir(parents=True, exist_ok=True)
        console.log_path.write_text("")  # this run's logs only
    target = "api.mathpix.com and your S3 bucket" if args.real else "the bundled emulator and an emulated S3"
    console.line(f"Mathpix flagship demo on {target}")
    if not args.verbose:
        console.line(f"  Airflow's own logs: {console.log_path} (--verbose shows them here)")
    configure_airflow(workdir / "airflow-home")
    from airflow_provider_mathpix.demo.environment import patched_environ

    with console.capturing():
        services = (
            real_services(workdir, documents=args.documents, step=console.step)
            if args.real
            else emulated_services(
                workdir, documents=args.documents, later=LATER_DOCUMENTS, step=console.step
            )
        )
        with services as setup, patched_environ(setup.env):
            with console.step("Loading Airflow and the flagship DAG"):
                dag = load_flagship_dag()
            with console.step("Initialising Airflow's metadata DB (SQLite)"):
                register_dags(dag)
            setup_done = time.monotonic()
            # Two consecutive daily runs: day 1 converts what is there; then more documents
            # arrive and day 2 converts only those (the ledger says the rest is done).
            today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
            console.line(f"  Day 1: {FLAGSHIP_DAG_ID} with dag.test() (deferrable tasks use the triggerer):")
            days = [day_run("day 1", dag.test(logical_date=today - timedelta(days=1)))]
            if setup.pending:
                with console.step(
                    f"{len(setup.pending)} more documents arrive in s3://{setup.bucket}/{INCOMING}"
                ):
                    setup.deliver_pending()
            console.line(f"  Day 2: {FLAGSHIP_DAG_ID}, only what no earlier run converted:")
            days.append(day_run("day 2", dag.test(logical_date=today)))
            finished = time.monotonic()
            summary = summarize(setup, days)
    timings = {"total": finished - start, "setup": setup_done - start, "pipeline": finished - setup_done}
    print_summary(setup, summary, timings, args.real)
    if not summary.ok and not args.verbose:
        print(f"The run did not succeed: the task logs are in {console.log_path}")
    return 0 if summary.ok else 1
