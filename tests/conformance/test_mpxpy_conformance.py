"""The oracle: Mathpix's own client tests (mpxpy 0.0.23) pass against the emulator.

Mathpix runs these tests against the live service, so where the emulator disagrees with
them, it disagrees with Mathpix. They run unmodified, in pytest subprocesses rooted in
the unpacked sdist, configured the way mpxpy documents (``MATHPIX_APP_ID``,
``MATHPIX_APP_KEY``, ``MATHPIX_URL``). See ``mpxpy_suite.py`` for what is left out and why.

mpxpy's waits sleep a whole second between polls, so the tests spend their time asleep;
they run in a few concurrent shards against one emulator to keep the wall time short.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from airflow_provider_mathpix.testing import MathpixEmulator

from . import mpxpy_suite as suite

REPO = Path(__file__).resolve().parents[2]
SHARDS = 4


def _outcomes(junit: Path) -> dict[str, str]:
    """``{"tests/test_x.py::test_y": "passed"|"failed"|"error"|"skipped"}`` from a JUnit XML report."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = "failed" if tag == "failure" else tag
        out[f"{module}::{case.get('name')}"] = outcome
    return out


def test_mpxpy_files_api_and_batch_tests_pass_against_the_emulator(tmp_path: Path) -> None:
    root = suite.unpack(suite.sdist(REPO / ".tools" / "mpxpy"), tmp_path)
    assert suite.swap_lfs_fixtures(root), "the sdist's fixtures were expected to be Git-LFS pointers"
    tests = suite.selected_tests(root)
    assert len(tests) == suite.EXPECTED_TESTS, tests
    with (
        suite.serve(suite.sample_site()) as site,
        MathpixEmulator(public_hosts={suite.SAMPLE_HOST: site}) as emu,
    ):
        env = {
            **os.environ,
            "MATHPIX_APP_ID": "mpxpy-conformance",
            "MATHPIX_APP_KEY": "mpxpy-conformance-key",
            "MATHPIX_URL": emu.url,
            "HOME": str(tmp_path),  # mpxpy also reads ~/.mpx/config: keep a developer's real one out
        }
        env.pop("MATHPIX_FILES_API_URL", None)
        runs = []
        for shard in range(SHARDS):
            junit = tmp_path / f"junit-{shard}.xml"
            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "log_cli=false"]
            cmd += ["-W", "ignore::DeprecationWarning", f"--junitxml={junit}", *tests[shard::SHARDS]]
            proc = subprocess.Popen(
                cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            runs.append((junit, proc))
        outputs = [proc.communicate(timeout=900)[0] for _, proc in runs]
    report = "\n".join(out[-3000:] for out in outputs)
    missing = [str(junit) for junit, _ in runs if not junit.exists()]
    if missing:
        pytest.fail(f"mpxpy's tests did not run ({missing}):\n{report}")
    outcomes: dict[str, str] = {}
    for junit, _ in runs:
        outcomes.update(_outcomes(junit))
    not_passed = {name: outcome for name, outcome in outcomes.items() if outcome != "passed"}
    assert not not_passed, f"mpxpy tests that did not pass: {not_passed}\n{report}"
    assert sorted(outcomes) == sorted(tests)
