"""The Airflow version matrix: the built wheel, installed fresh beside each supported Airflow.

For every release line the provider supports, a virtual environment under
``.tools/compat/<version>/`` (made with uv) holds that Airflow and the provider's BUILT
wheel with its ``amazon`` and ``testing`` extras, and ``smoke.py`` runs there. Environments
are cached: one is rebuilt only when its Airflow version, its date pin or the provider's
declared dependencies change; otherwise only the freshly built wheel is reinstalled.

Pins: where today's newest dependencies break an older Airflow (it predates them), that
environment resolves as of a date just after the Airflow release (``--exclude-newer``),
as a deployment installed then would have. ``common-compat`` is exempt: the provider
needs a recent one, and a deployment upgrading the provider upgrades it too.

Usage: ``python tests/compat/matrix.py [--only 3.0,3.1] [--jobs N]`` (``make compat``).
Exits 1 if any version fails; prints a table of version, result and times.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]
#: Where the environments live (MATHPIX_COMPAT_DIR moves them, e.g. to time a cold start).
TOOLS = Path(os.environ.get("MATHPIX_COMPAT_DIR") or REPO / ".tools" / "compat")
EXTRAS = "amazon,testing"
#: Installed beside the wheel so the smoke set covers the OpenLineage path too.
ALSO = ("apache-airflow-providers-openlineage",)
#: Packages resolved at their newest even in a date-pinned environment (see the module doc).
UNPINNED = ("apache-airflow-providers-common-compat",)


@dataclass(frozen=True)
class Target:
    airflow: str
    #: Resolve as of this date (ISO) because newer dependencies break this release; None: today.
    exclude_newer: str | None = None
    why: str = ""


TARGETS: dict[str, Target] = {
    "2.11": Target("2.11.2"),
    "3.0": Target(
        "3.0.6",
        "2025-09-05",
        "fastapi/pydantic of 2026 reject the execution API bodies of 3.0 (every task: validation error)",
    ),
    "3.1": Target("3.1.8"),
    "3.2": Target("3.2.2", "2026-06-01", "pydantic 2.14 rejects 3.2's TITerminalStatePayload discriminator"),
    "3.3": Target("3.3.2"),
}


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        raise SystemExit("uv not found: run `make setup` (it installs uv into .venv)")
    return found


def dependency_hash() -> str:
    """What decides an environment's contents besides the Airflow version: the declared deps."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies"),
        "optional": project.get("optional-dependencies"),
        "python": sys.version_info[:2],
        "also": ALSO,
    }
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()[:16]


def build_wheel() -> Path:
    dist = TOOLS / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    subprocess.run([uv(), "build", "--wheel", "-q", "-o", str(dist), str(REPO)], check=True)
    [wheel] = dist.glob("*.whl")
    return wheel


def run_logged(cmd: list[str], log: Path, **kwargs: object) -> int:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs).returncode  # type: ignore[call-overload]


def prepare(name: str, target: Target, wheel: Path, key: str, log: Path) -> tuple[bool, str]:
    """Create (or reuse) the environment and install the wheel; returns (ok, 'fresh'|'cached')."""
    env = TOOLS / name
    key_file = env / ".matrix-key"
    wanted = f"{target.airflow}|{target.exclude_newer}|{key}"
    python = env / "bin" / "python"
    pins: list[str] = []
    if target.exclude_newer:
        pins = ["--exclude-newer", target.exclude_newer]
        pins += [arg for pkg in UNPINNED for arg in ("--exclude-newer-package", f"{pkg}=2100-01-01")]
    if python.exists() and key_file.exists() and key_file.read_text() == wanted:
        cmd = [uv(), "pip", "install", "-q", "--python", str(python), "--reinstall-package",
               "airflow-provider-mathpix", "--no-deps", str(wheel)]  # fmt: skip
        return run_logged(cmd, log) == 0, "cached"
    shutil.rmtree(env, ignore_errors=True)
    if run_logged([uv(), "venv", "-q", "--python", sys.executable, str(env)], log) != 0:
        return False, "fresh"
    cmd = [uv(), "pip", "install", "-q", "--python", str(python), *pins,
           f"apache-airflow=={target.airflow}", f"{wheel}[{EXTRAS}]", *ALSO]  # fmt: skip
    if run_logged(cmd, log) != 0:
        return False, "fresh"
    key_file.write_text(wanted)
    return True, "fresh"


@dataclass
class Outcome:
    name: str
    airflow: str
    ok: bool
    env: str
    setup_s: float
    smoke_s: float
    summary: str
    log: Path


def run_one(name: str, wheel: Path, key: str) -> Outcome:
    target = TARGETS[name]
    TOOLS.mkdir(parents=True, exist_ok=True)
    log = TOOLS / f"{name}.log"
    log.write_text("")
    started = time.monotonic()
    ok, env_state = prepare(name, target, wheel, key, log)
    setup_s = time.monotonic() - started
    if not ok:
        return Outcome(name, target.airflow, False, env_state, setup_s, 0.0, "install failed", log)
    started = time.monotonic()
    python = TOOLS / name / "bin" / "python"
    smoke = [str(python), str(REPO / "tests" / "compat" / "smoke.py")]  # the wheel's example DAGs
    # Run outside the source tree, so the wheel (not the checkout) is what imports.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHON"))}
    code = run_logged(smoke, log, cwd=str(TOOLS), env=env, timeout=1200)
    smoke_s = time.monotonic() - started
    lines = [line for line in log.read_text().splitlines() if line.startswith("SMOKE ")]
    summary = lines[-1][len("SMOKE ") :] if lines else f"smoke exited {code}"
    return Outcome(name, target.airflow, code == 0, env_state, setup_s, smoke_s, summary, log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated release lines, e.g. 2.11,3.0 (default: all)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MATHPIX_COMPAT_JOBS", "2")))
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown release line(s) {unknown}; known: {sorted(TARGETS)}")

    started = time.monotonic()
    print(f"compat: building the wheel and testing it on Airflow {', '.join(names)} ...", flush=True)
    wheel = build_wheel()
    key = dependency_hash()
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_one, name, wheel, key): name for name in names}
        for future in concurrent.futures.as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            mark = "ok  " if outcome.ok else "FAIL"
            times = f"env {outcome.env} {outcome.setup_s:.0f}s, smoke {outcome.smoke_s:.0f}s"
            print(f"  {mark} Airflow {outcome.airflow:<7} {outcome.summary} ({times})", flush=True)

    outcomes.sort(key=lambda o: list(TARGETS).index(o.name))
    print("\n| Airflow | result | env | setup | smoke |\n|---|---|---|---|---|")
    for o in outcomes:
        result = "pass" if o.ok else "FAIL"
        print(f"| {o.airflow} | {result}: {o.summary} | {o.env} | {o.setup_s:.0f} s | {o.smoke_s:.0f} s |")
    print(f"\nwall time {time.monotonic() - started:.0f} s; logs: {TOOLS}/<version>.log")
    for o in outcomes:
        if not o.ok:
            tail = o.log.read_text().splitlines()[-40:]
            print(f"\n--- Airflow {o.airflow}: last lines of {o.log}\n" + "\n".join(tail))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
