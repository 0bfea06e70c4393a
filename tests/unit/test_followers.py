"""How ``orderflow run`` tends its followers process (orderflow.followers.FollowersProcess), with small real processes."""

from __future__ import annotations

import sys
import threading
import time

from orderflow.followers import FollowersFailed, FollowersProcess
from orderflow.supervision import Backoff, GaveUp, Supervisor

QUICK = Backoff(initial=0.01, maximum=0.02)


def child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def report(component: str, state: str) -> str:
    return f"print('{{\"component\": \"{component}\", \"state\": \"{state}\"}}', flush=True)"


def tend_until(followers: FollowersProcess, done, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, followers.supervisor.health.snapshot()
        followers.tend()
        time.sleep(0.01)


def test_the_followers_health_reports_become_the_parents_health():
    supervisor = Supervisor(threading.Event())
    followers = FollowersProcess(supervisor, QUICK, child(
        f"{report('projections', 'running')}; {report('outbound', 'standby')}; import time; time.sleep(60)"))
    try:
        assert not supervisor.health.ready()
        tend_until(followers, supervisor.health.ready)
        states = {n: c["state"] for n, c in supervisor.health.snapshot()["components"].items()}
        assert states == {"projections": "running", "outbound": "standby"}
    finally:
        followers.stop()


def test_a_followers_process_that_dies_is_started_again_and_readiness_drops_meanwhile():
    supervisor = Supervisor(threading.Event())
    followers = FollowersProcess(supervisor, QUICK, child(f"{report('projections', 'running')}; import os; os._exit(1)"))
    started: set[int] = set()

    def restarted_twice() -> bool:
        if followers.pid is not None:
            started.add(followers.pid)
        return len(started) >= 3

    tend_until(followers, restarted_twice)
    followers.stop()
    assert not supervisor.stop.is_set() and supervisor.error is None
    assert supervisor.health.components["outbound"].state in ("starting", "restarting")


def test_a_followers_process_that_gave_up_stops_the_engine_with_its_exit_code():
    supervisor = Supervisor(threading.Event())
    followers = FollowersProcess(supervisor, QUICK, child("import sys; sys.exit(3)"))
    tend_until(followers, supervisor.stop.is_set)
    assert isinstance(supervisor.error, GaveUp) and supervisor.exit_code == 3
    assert supervisor.health.components["projections"].state == "failed"


def test_a_fatal_error_in_the_followers_process_stops_the_engine_with_code_2():
    supervisor = Supervisor(threading.Event())
    followers = FollowersProcess(supervisor, QUICK, child("import sys; sys.exit(2)"))
    tend_until(followers, supervisor.stop.is_set)
    assert isinstance(supervisor.error, FollowersFailed) and supervisor.exit_code == 2


def test_stop_kills_a_followers_process_that_ignores_sigterm(tmp_path):
    supervisor = Supervisor(threading.Event())
    ignoring = tmp_path / "ignoring"
    followers = FollowersProcess(supervisor, QUICK, child(
        f"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open({str(ignoring)!r}, 'w').close(); "
        "time.sleep(60)"), stop_timeout=0.5)
    followers.tend()
    popen = followers.popen
    tend_until(followers, ignoring.exists)
    began = time.monotonic()
    followers.stop()
    assert popen.returncode == -9 and time.monotonic() - began < 10


def test_a_stop_sent_while_the_followers_process_starts_waits_until_it_can_stop_cleanly():
    """SIGTERM before the child handles it must not kill it half started: it starts with the stop signals
    blocked and unblocks them once its handlers are in place (here: after a second of start-up)."""
    supervisor = Supervisor(threading.Event())
    followers = FollowersProcess(supervisor, QUICK, child(
        "import signal, sys, time; time.sleep(1); "
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT}); time.sleep(60)"))
    followers.tend()
    popen = followers.popen
    time.sleep(0.2)  # the child is still starting
    followers.stop()
    assert popen.returncode == 0, "killed by the SIGTERM it could not handle yet"


def test_the_followers_process_is_asked_to_stop_once():
    """orderflow run asks its child to stop when its loop ends and again when it waits for it: a second
    SIGTERM reaching a child that is already exiting (its handlers gone) would kill it."""
    supervisor = Supervisor(threading.Event())
    followers = FollowersProcess(supervisor, QUICK, child(
        "import signal, sys, time\n"
        "def finish(*_):\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_DFL); time.sleep(1); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, finish)\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT}); time.sleep(60)"))
    followers.tend()
    popen = followers.popen
    time.sleep(1)
    followers.terminate()
    time.sleep(0.2)
    followers.stop()
    assert popen.returncode == 0, "a second SIGTERM killed the exiting child"
