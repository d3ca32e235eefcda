"""The convert-one-PDF example DAG, run with ``dag.test()`` against the emulator."""

from __future__ import annotations

import pytest

from tests.system.support import APP_KEY, load_example_dag, run_dag, stored_run_text, task_states, xcom


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-process"])
def test_convert_pdf_example(airflow_db, emulator, pdf_server, deferrable):
    dag = load_example_dag("example_mathpix_convert_pdf")
    convert = dag.get_task("convert_pdf")
    convert.deferrable = deferrable
    convert.poll_interval = 0.2

    dag_run = run_dag(dag, run_conf={"source_uri": pdf_server.doc("two-pages.pdf")})

    assert task_states(dag_run) == {"convert_pdf": "success", "preview_markdown": "success"}
    result = xcom(dag_run, "convert_pdf")
    assert result["status"] == "completed"
    assert result["num_pages"] == 2
    assert result["error"] is None
    assert set(result["outputs"]) == {"mmd", "md", "docx"}
    assert result["outputs"]["md"] == f"{emulator.url}/files/v1/{result['file_id']}.md"
    assert xcom(dag_run, "convert_pdf", key="file_id") == result["file_id"]
    assert xcom(dag_run, "preview_markdown") > 0
    assert emulator.stats()["files_created"] == 1
    stored = stored_run_text(dag_run)
    assert result["file_id"] in stored  # the check can see what was stored...
    assert APP_KEY not in stored  # ...and the key is not among it
