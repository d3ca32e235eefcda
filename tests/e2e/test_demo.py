"""The main job, as a new user runs it: ``python -m airflow_provider_mathpix.demo``.

A subprocess with a fresh demo home, no API key and no Mathpix network access: it must
start the emulator and an emulated S3 itself, run the flagship DAG for real on two
consecutive days (more documents arriving in between) and print a summary of what the
runs produced, exiting 0.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from airflow_provider_mathpix.demo.runner import LATER_DOCUMENTS
from airflow_provider_mathpix.demo.samples import SAMPLES
from airflow_provider_mathpix.demo.titles import title_from_markdown

REPO = Path(__file__).resolve().parents[2]


def test_main_job_runs_the_flagship_pipeline_and_prints_a_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MATHPIX_"))}
    home = tmp_path / "demo-home"
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_mathpix.demo", "--home", str(home)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    out = result.stdout
    assert result.returncode == 0, f"{out[-4000:]}\n{result.stderr[-4000:]}"
    assert "2 daily runs SUCCESS" in out
    documents = len(SAMPLES)
    pages = sum(len(doc.pages) for doc in SAMPLES)
    later = LATER_DOCUMENTS
    # Day 1 converts what is there; day 2 only the documents that arrived since.
    assert re.search(rf"day 1 \S+: {documents - later} converted, 0 skipped \(already converted\)", out), out
    assert re.search(
        rf"day 2 \S+: {later} converted, {documents - later} skipped \(already converted\)", out
    ), out
    assert len(re.findall(r"cost\s+: Mathpix cost of job \S+: \d+ pages x \$1\.50/1,000 pages", out)) == 2, (
        out
    )
    assert re.search(rf"documents\s+: {documents} converted and loaded \(of {documents} delivered\)", out), (
        out
    )
    assert re.search(rf"pages\s+: {pages}\n", out), out
    assert re.search(r"errors\s+: 0 file\(s\) errored", out), out
    assert re.search(rf"outputs\s+: s3://mathpix-demo/processed/ \({documents} Markdown files\)", out), out
    warehouse = home / "warehouse.sqlite"
    assert f"documents in {warehouse}" in out
    for doc in SAMPLES:
        assert doc.title in out
    with sqlite3.connect(warehouse) as conn:
        rows = conn.execute("SELECT document_id, pages, markdown FROM documents").fetchall()
    assert sorted(title_from_markdown(row[2]) for row in rows) == sorted(doc.title for doc in SAMPLES)
    assert sum(row[1] for row in rows) == pages
    assert all("=" in row[2] for row in rows), "every document's Markdown carries its formulas"
    assert "demo-app-key" not in out and "demo-app-key" not in result.stderr


def test_real_mode_without_credentials_says_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MATHPIX_"))}
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_mathpix.demo", "--real", "--home", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "MATHPIX_APP_KEY" in result.stderr
    env["MATHPIX_APP_KEY"] = "not-a-real-key"
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_mathpix.demo", "--real", "--home", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "MATHPIX_DEMO_BUCKET" in result.stderr
    assert "not-a-real-key" not in result.stdout + result.stderr
