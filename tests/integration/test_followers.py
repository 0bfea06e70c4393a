"""The followers' own process (src/orderflow/followers.py), with real ``orderflow run`` processes, Kafka and PostgreSQL.

The projections and the outbound publisher run in a child of ``orderflow run``:
it is restarted when it dies, stopped with its parent, and does not outlive a
parent killed without notice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orderflow.application.orders import Orders
from orderflow.db import Database
from orderflow.projections.catalog import all_views
from orderflow.projections.runner import ProjectionRunner
from orderflow.traffic.simulate import traffic
from tests.integration.engine import isolated_settings, start_engine
from tests.integration.processes import EngineProcess, engine_env, outcome, publish_traffic, wait_until
from tests.integration.test_faults import wait_until_published

ORDERS, SEED = 12, 20261130


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    """A restarted followers process comes back within 2 s."""
    monkeypatch.setenv("ORDERFLOW_BACKOFF_MAX_SECONDS", "2")


@pytest.fixture
def settings(database_url, kafka_broker):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    start_engine(settings).close()  # the topics and tables exist before anything is published
    return settings


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def followers_pids(process: EngineProcess) -> list[int]:
    """The pids of the followers processes ``process`` started, in order."""
    return [entry["pid"] for entry in process.events("followers process started")]


def started_followers(settings, log_path: Path) -> tuple[EngineProcess, int]:
    """An ``orderflow run`` whose followers process runs; the process and the followers' pid."""
    process = EngineProcess(settings, log_path)
    wait_until(lambda: any(e.get("process") == "followers" for e in process.events("followers running")), 120,
               "the followers running", alive=lambda: process.popen.poll() is None)
    [pid] = followers_pids(process)
    return process, pid


def wait_until_projected(settings, timeout: float, alive) -> None:
    """Wait until every read model is at the newest event in the store (read from the database, not applied here)."""
    app, db = Orders(settings.database_url), Database(settings.database_url)
    try:
        runner = ProjectionRunner(app, db, all_views(db.is_postgres, app))
        wait_until(lambda: runner.head() > 0 and not any(runner.lag().values()), timeout, "the read models to catch up",
                   alive=alive)
    finally:
        db.close()
        app.close()


def test_the_followers_run_in_another_process_than_the_inbound_loop(settings, tmp_path):
    process, followers = started_followers(settings, tmp_path / "run.log")
    try:
        publish_traffic(settings, traffic(ORDERS, SEED))
        wait_until_projected(settings, 120, alive=lambda: process.popen.poll() is None)
        wait_until_published(settings, 120, alive=lambda: process.popen.poll() is None)
        assert parent_of(followers) == process.popen.pid
        # ORDERFLOW_FOLLOWERS_NICE's default: the inbound loop gets the CPU first.
        assert os.getpriority(os.PRIO_PROCESS, followers) == os.getpriority(os.PRIO_PROCESS, process.popen.pid) + 10
        process.signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    [running] = process.events("orderflow running")
    assert running["pid"] == process.popen.pid and running["followers_pid"] == followers != process.popen.pid
    projected = process.events("projection batch applied")
    published = process.events("outbound batch published")
    assert projected and published
    assert {(e.get("process"), e.get("pid")) for e in projected + published} == {("followers", followers)}
    recorded = process.events("batch recorded")
    assert recorded and all("process" not in e and "pid" not in e for e in recorded), "inbound batches in the child"


def test_a_killed_followers_process_is_restarted_and_the_read_models_catch_up(settings, tmp_path):
    process, first = started_followers(settings, tmp_path / "run.log")
    try:
        os.kill(first, signal.SIGKILL)
        publish_traffic(settings, traffic(ORDERS, SEED))
        wait_until(lambda: len(followers_pids(process)) == 2, 30, "a second followers process",
                   alive=lambda: process.popen.poll() is None)
        wait_until_projected(settings, 120, alive=lambda: process.popen.poll() is None)
        wait_until_published(settings, 120, alive=lambda: process.popen.poll() is None)
        assert process.popen.poll() is None, "orderflow run exited for its followers"
        second = followers_pids(process)[1]
        assert second != first and alive(second) and not alive(first)
        [ended] = process.events("followers process ended: restarting it with backoff")
        assert ended["pid"] == first and "SIGKILL" in ended["reason"]
        process.signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    live = outcome(settings.database_url)
    assert len(live.web_orders) == ORDERS


def test_sigterm_to_the_engine_stops_its_followers_process(settings, tmp_path):
    process, followers = started_followers(settings, tmp_path / "run.log")
    try:
        process.signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    assert not alive(followers), "the followers process outlived orderflow run"
    [stopped] = process.events("followers process stopped")
    assert stopped["pid"] == followers and stopped["exit_code"] == 0


def test_the_followers_process_of_a_killed_engine_exits_on_its_own(settings, tmp_path):
    process, followers = started_followers(settings, tmp_path / "run.log")
    process.kill()  # SIGKILL: no chance to stop its child
    wait_until(lambda: not alive(followers), 10, "the orphaned followers process to exit")


def test_the_followers_process_stops_when_its_parents_pipe_closes(settings, tmp_path):
    # The fallback where the kernel does not kill it with its parent: end of file on stdin, the parent's pipe.
    log_path = tmp_path / "followers.log"
    with open(log_path, "wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "orderflow.followers", "--parent", str(os.getpid())],
                                 env=engine_env(settings), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        try:
            reports = []
            deadline = time.monotonic() + 60
            while not any(b'"running"' in line for line in reports):
                assert time.monotonic() < deadline and child.poll() is None, log_path.read_text()
                reports.append(child.stdout.readline())
            child.stdin.close()
            assert child.wait(30) == 0
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert b"pipe closed (the parent ended): stopping" in log_path.read_bytes()


def test_orderflow_run_refuses_an_in_memory_database(tmp_path):
    for url in ("memory:", "sqlite:///:memory:"):
        done = subprocess.run([sys.executable, "-m", "orderflow.cli", "run"], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "ORDERFLOW_DATABASE_URL": url, "ORDERFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:9"})
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "in-memory database" in done.stderr
