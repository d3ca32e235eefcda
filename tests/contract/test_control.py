"""The emulator as a product: stats, reset, runtime config, the pytest fixture, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from mathpix_contract import APP_KEY

STAT_KEYS = {
    "requests",
    "files_created",
    "duplicates_absorbed",
    "jobs_created",
    "faults_injected",
    "webhooks_delivered",
}


def test_stats_count_requests_on_arrival_but_not_control_calls(
    client: httpx.Client, mathpix_emulator
) -> None:
    stats = mathpix_emulator.stats()
    assert set(stats) >= STAT_KEYS
    assert stats["requests"] == 0
    httpx.get(f"{mathpix_emulator.url}/files/v1/jobs")  # 401, still counted
    client.get("/files/v1/nope/path/that/does/not/exist")  # 404, still counted
    httpx.get(f"{mathpix_emulator.url}/_emulator/stats")
    stats = mathpix_emulator.stats()
    assert stats["requests"] == 2
    assert stats["requests_by_route"] == {"GET /files/v1/jobs": 1, "GET (no route)": 1}


def test_unknown_routes_answer_the_envelope(client: httpx.Client) -> None:
    resp = client.get("/files/v2/whatever")
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"
    resp = client.put("/files/v1/uri", json={})
    assert resp.status_code == 405 and resp.json()["error_info"]["id"] == "method_not_allowed"


def test_fixture_state_a(client: httpx.Client, doc_server) -> None:
    client.post(
        "/files/v1/jobs", json={"job_id": "leak-check", "files": [{"source_uri": doc_server.url("/a.pdf")}]}
    )
    assert client.get("/files/v1/jobs/leak-check").status_code == 200


def test_fixture_state_b_starts_clean(client: httpx.Client, mathpix_emulator) -> None:
    """Runs after test_fixture_state_a: nothing of it is visible."""
    assert client.get("/files/v1/jobs/leak-check").status_code == 404
    assert client.get("/files/v1/jobs").json()["jobs"] == []
    assert mathpix_emulator.stats()["files_created"] == 0


def test_fixture_restores_default_config_a(mathpix_emulator) -> None:
    mathpix_emulator.configure(time_per_file=99)
    mathpix_emulator.set_faults([{"kind": "500"}])


def test_fixture_restores_default_config_b(client: httpx.Client, mathpix_emulator) -> None:
    config = httpx.get(f"{mathpix_emulator.url}/_emulator/config").json()
    assert config["time_per_file"] == 0.05 and config["faults"] == []
    assert client.get("/files/v1/jobs").status_code == 200


def test_reset_http_twin_and_config_twin(client: httpx.Client, mathpix_emulator, doc_server) -> None:
    client.post("/files/v1/uri", json={"source_uri": doc_server.url("/one-page.pdf")})
    assert httpx.post(f"{mathpix_emulator.url}/_emulator/reset").json() == {"status": "reset"}
    assert mathpix_emulator.stats()["files_created"] == 0
    resp = httpx.put(f"{mathpix_emulator.url}/_emulator/config", json={"format_lag": 1.5})
    assert resp.status_code == 200 and resp.json()["format_lag"] == 1.5
    for bad_body in (
        {"seed": 1},
        {"time_per_file": -1},
        {"time_per_file": "fast"},
        {"page_size_max": 0},
        [1],
    ):
        bad = httpx.put(f"{mathpix_emulator.url}/_emulator/config", json=bad_body)
        assert bad.status_code == 400 and bad.json()["error"] == "bad_request", bad_body


def test_plugin_imports_neither_airflow_nor_the_provider() -> None:
    code = (
        "import sys, airflow_provider_mathpix.testing.pytest_plugin; t='airflow_provider_mathpix.testing';"
        "bad=[m for m in sys.modules if m=='airflow' or m.startswith('airflow.')"
        " or m.startswith('airflow_provider_mathpix.') and not m.startswith(t)];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_emulator_imports_nothing_from_the_provider() -> None:
    code = (
        "import sys; from airflow_provider_mathpix.testing import MathpixEmulator;"
        "e = MathpixEmulator().start(); e.stop();"
        "bad=[m for m in sys.modules if m.startswith('airflow_provider_mathpix.')"
        " and not m.startswith('airflow_provider_mathpix.testing') or m == 'airflow'];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_serves_with_flags() -> None:
    cmd = [sys.executable, "-m", "airflow_provider_mathpix.testing", "--port", "0", "--app-key", "cli-key"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving on http://127.0.0.1:" in line
        url = line.split(" on ", 1)[1].split()[0]
        assert httpx.get(f"{url}/files/v1/jobs", headers={"app_key": "cli-key"}).status_code == 200
        assert httpx.get(f"{url}/files/v1/jobs", headers={"app_key": APP_KEY}).status_code == 401
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def test_cli_rejects_bad_fault_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "airflow_provider_mathpix.testing", "--fault", "{nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--fault" in proc.stderr
