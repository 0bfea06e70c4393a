"""The wheel works on its own: built from the sources, installed with its declared dependencies in a fresh
virtualenv, its ``orderflow`` command runs the engine against the real services, outside the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.integration.engine import isolated_settings
from tests.integration.processes import engine_env

REPO = Path(__file__).resolve().parents[2]
NOT_SHIPPED = (".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis")


def run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run ``command``; its stdout, or a failure showing stdout and stderr."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{' '.join(map(str, command))} exited with {result.returncode}:\n" \
                                   f"{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built (with build isolation, as a fresh clone would) from a copy of the sources."""
    work = tmp_path_factory.mktemp("wheel")
    sources = work / "sources"
    shutil.copytree(REPO, sources, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", work / "dist", sources], cwd=work)
    [built] = (work / "dist").glob("orderflow-*.whl")
    return built


@pytest.fixture(scope="module")
def orderflow_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a new virtualenv holding the wheel and the dependencies it declares (from PyPI or pip's cache)."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", venv], cwd=venv)
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel], cwd=venv)
    return venv / "bin"


def clean_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without what could point Python at the source tree or the outer virtualenv."""
    return {k: v for k, v in env.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}


def test_the_wheel_holds_the_engine_and_the_schemas_and_not_the_dev_services(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"orderflow", "orderflow-0.1.0.dist-info"}
    for module in ("orderflow/outbound/publisher.py", "orderflow/consumers/pipeline.py", "orderflow/cli/__init__.py",
                   "orderflow/contract/schemas.py", "orderflow/schemas/inbound/order_placed.v1.json",
                   "orderflow/schemas/outbound/dead_letter.v1.json"):
        assert module in names
    schemas = {path.relative_to(REPO).as_posix() for path in (REPO / "schemas").glob("*/*.json")}
    assert {name.removeprefix("orderflow/") for name in names if name.endswith(".json")} == schemas


def test_the_installed_command_simulates_runs_and_lists_orders_from_outside_the_source_tree(
        orderflow_bin, database_url, kafka_broker, tmp_path):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    env = clean_env(engine_env(settings))
    where = run([orderflow_bin / "python", "-c",
                 "import importlib.resources, orderflow; print(orderflow.__file__); "
                 "print(importlib.resources.files('orderflow.schemas'))"], cwd=tmp_path, env=env).split()
    assert all(Path(path).is_relative_to(orderflow_bin.parent) for path in where), where

    orderflow = orderflow_bin / "orderflow"
    run([orderflow, "simulate", "--count", "3", "--seed", "7"], cwd=tmp_path, env=env, timeout=120)
    run([orderflow, "run", "--stop-when-idle", "3"], cwd=tmp_path, env=env, timeout=240)
    listed = run([orderflow, "orders"], cwd=tmp_path, env=env, timeout=120)

    references = sorted(word for word in listed.split() if word.startswith("SF-"))
    assert references == ["SF-000001", "SF-000002", "SF-000003"], listed
    assert os.listdir(tmp_path) == [], "nothing written to the working directory (no local SQLite file either)"
