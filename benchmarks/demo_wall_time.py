"""Wall time of the main job (``python -m airflow_provider_mathpix.demo``) beside its floor.

Goal (issue 6): the main job finishes in under two minutes after setup on a 2-core
machine. The baseline, measured in the same run on the same machine, is the fixed cost
any ``dag.test()`` pays before doing anything: a fresh interpreter that imports Airflow
and initialises a fresh SQLite metadata DB. The difference is what the pipeline itself
costs (starting the emulator and moto, converting the samples, S3 I/O, the load).

Usage: ``.venv/bin/python benchmarks/demo_wall_time.py [--documents N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Result, Row

REPO = Path(__file__).resolve().parents[1]
BASELINE = """
import os
from airflow.utils import db
db.initdb()
"""


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MATHPIX_"))}
    env["AIRFLOW_HOME"] = str(home / "airflow-home")
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow-home' / 'airflow.db'}"
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    return env


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    baseline, demo = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
            home = Path(tmp)
            (home / "airflow-home").mkdir()
            baseline.append(timed([sys.executable, "-c", BASELINE], _clean_env(home)))
        with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
            cmd = [sys.executable, "-m", "airflow_provider_mathpix.demo", "--home", tmp]
            if args.documents:
                cmd += ["--documents", str(args.documents)]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MATHPIX_"))}
            demo.append(timed(cmd, env))
    base, full = statistics.median(baseline), statistics.median(demo)
    print(f"{'measure':<52} {'seconds':>8}")
    print(f"{'baseline: import Airflow + init a fresh SQLite DB':<52} {base:>8.1f}")
    print(f"{'main job: fresh home, emulator + moto, flagship DAG':<52} {full:>8.1f}")
    print(f"{'main job minus baseline (the pipeline itself)':<52} {full - base:>8.1f}")
    print(f"goal: main job < 120 s -> {'met' if full < 120 else 'NOT met'}")
    result = Result("demo_wall_time", "make demo: the main job's wall time", ylabel="seconds")
    result.rows.append(
        Row(
            "make demo (flagship DAG, fresh home)",
            "s",
            full,
            floor=base,
            floor_name="import Airflow + init SQLite DB",
            higher_is_better=False,
            goal="< 120 s",
            met=full < 120,
        )
    )
    result.sizes = f"default documents, median of {args.repeat}"
    result.emit()


if __name__ == "__main__":
    main()
