"""The demo's console: its own lines on the terminal, everything else in the log file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from airflow_provider_mathpix.demo.console import progress_message

JOB = "airflow:example_mathpix_flagship:convert:manual__2026-12-03T14:23:26.399605_00:00-acc9352a6904b0ad"


def test_provider_lines_are_picked_with_level_and_short_ids():
    logger = "airflow.task.operators.airflow_provider_mathpix.operators.jobs.MathpixSubmitJobOperator"
    line = f"2026-12-03T14:23:31Z [info     ] Submitted Mathpix job {JOB} with 5 files [{logger}] loc=j.py:1"
    assert progress_message(line) == ("info", "Submitted Mathpix job …acc9352a with 5 files")
    warning = (
        "2026-12-03T14:23:31Z [warning  ] Transient error while polling Mathpix (will keep polling): boom "
        "[airflow_provider_mathpix.triggers.mathpix.MathpixJobTrigger] loc=mathpix.py:90"
    )
    assert progress_message(warning) == (
        "warning",
        "Transient error while polling Mathpix (will keep polling): boom",
    )


def test_airflow_internals_and_hook_chatter_are_not_shown():
    assert (
        progress_message("2026-12-03T14:23:31Z [info     ] Filling up the DagBag [airflow.models.dagbag]")
        is None
    )
    hook = (
        f"2026-12-03T14:23:31Z [info     ] Job {JOB}: call 1 sent 5 items "
        "[airflow.task.hooks.airflow_provider_mathpix.hooks.mathpix.MathpixHook] loc=mathpix.py:1"
    )
    assert progress_message(hook) is None


def test_capturing_sends_everything_else_to_the_log_file(tmp_path: Path):
    """A child process writes noise on both fds and one provider line; only the latter is shown."""
    log = tmp_path / "demo.log"
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        from airflow_provider_mathpix.demo.console import Console

        console = Console(Path({str(log)!r}))
        console.line("header")
        with console.capturing():
            with console.step("A setup step"):
                print("alembic noise on stdout", flush=True)
                os.write(2, b"noise on stderr\\n")
            print("2026-01-01T00:00:00Z [info     ] Downloaded outputs of 2 files "
                  "[airflow.task.operators.airflow_provider_mathpix.operators.outputs.X] loc=x", flush=True)
            time.sleep(0.5)
        console.line("summary")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    shown = result.stdout.splitlines()
    assert shown[0] == "header" and shown[-1] == "summary"
    assert any(line.startswith("  A setup step....") and line.endswith(" s") for line in shown), shown
    assert any("Downloaded outputs of 2 files" in line for line in shown), shown
    assert "noise" not in result.stdout + result.stderr
    logged = log.read_text()
    assert "alembic noise on stdout" in logged and "noise on stderr" in logged
