"""The upload-a-local-file example DAG run with ``dag.test()``."""

from __future__ import annotations

import pytest

from tests.system.support import load_example_dag, run_dag, task_states, xcom


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "in-process"])
def test_upload_local_example(airflow_db, emulator, pdf_server, tmp_path, deferrable):
    local = tmp_path / "scan.pdf"
    local.write_bytes(pdf_server.docs["two-pages.pdf"])
    dag = load_example_dag("example_mathpix_upload_local")
    upload = dag.get_task("upload_pdf")
    upload.deferrable = deferrable
    upload.poll_interval = 0.2

    dag_run = run_dag(dag, run_conf={"local_path": str(local)})

    assert task_states(dag_run) == {
        "ensure_local_pdf": "success",
        "upload_pdf": "success",
        "report": "success",
    }
    result = xcom(dag_run, "upload_pdf")
    assert result["num_pages"] == 2
    assert xcom(dag_run, "report") == f"{emulator.url}/files/v1/{result['file_id']}.docx"
    assert emulator.stats()["files_created"] == 1
