"""The one error policy, the backoff, and supervised workers: no I/O."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from eventsourcing import persistence as es
from kafka import errors as kafka_errors
from psycopg_pool import PoolTimeout
from structlog.testing import capture_logs

from orderflow.consumers.inbound import NotCoPartitioned
from orderflow.db import StreamLock
from orderflow.supervision import (
    FAILURE,
    FATAL,
    STANDBY,
    TRANSIENT,
    Backoff,
    ErrorPolicy,
    GiveUp,
    Health,
    Stopped,
    Streak,
    Supervisor,
    Worker,
)

POLICY = ErrorPolicy(fatal_types=(NotCoPartitioned,))


def wrapped(outer: type[Exception], inner: Exception) -> Exception:
    """``outer`` raised from ``inner``, as eventsourcing wraps psycopg's errors."""
    try:
        try:
            raise inner
        except Exception as error:
            raise outer(str(error)) from error
    except Exception as error:
        return error


@pytest.mark.parametrize("error", [
    kafka_errors.KafkaTimeoutError("flush"),
    kafka_errors.KafkaConnectionError("refused"),
    kafka_errors.NodeNotReadyError(1),
    kafka_errors.RequestTimedOutError(),
    kafka_errors.CoordinatorNotAvailableError(),
    psycopg.OperationalError("server closed the connection unexpectedly"),
    psycopg.InterfaceError("the connection is closed"),
    PoolTimeout("couldn't get a connection after 10.00 sec"),
    es.OperationalError("consuming input failed"),
    es.InterfaceError("the connection is closed"),
    ConnectionRefusedError(111, "refused"),
    TimeoutError(),
])
def test_unreachable_services_closed_connections_and_timeouts_are_transient(error) -> None:
    assert POLICY.classify(error) == TRANSIENT


def test_an_error_wrapping_a_transient_one_is_transient() -> None:
    assert POLICY.classify(wrapped(RuntimeError, psycopg.OperationalError("terminating connection"))) == TRANSIENT


@pytest.mark.parametrize("error", [
    NotCoPartitioned("storefront has 4, erp has 3"),
    kafka_errors.TopicAuthorizationFailedError(),
    psycopg.OperationalError('connection failed: FATAL:  password authentication failed for user "x"'),
    psycopg.OperationalError('connection failed: FATAL:  database "nope" does not exist'),
    wrapped(es.OperationalError, psycopg.OperationalError("FATAL:  password authentication failed")),
])
def test_configuration_errors_are_fatal(error) -> None:
    assert POLICY.classify(error) == FATAL


@pytest.mark.parametrize("error", [
    ValueError("a bug"), KeyError("x"), es.IntegrityError("duplicate"), kafka_errors.MessageSizeTooLargeError(),
    psycopg.DataError("invalid byte sequence"),
])
def test_anything_else_is_a_failure_that_restarts_the_component(error) -> None:
    assert POLICY.classify(error) == FAILURE


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=8)
    assert [backoff.delay(n, rng=lambda: 1.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert [backoff.delay(n, rng=lambda: 0.0) for n in (1, 5, 9)] == [0.25, 4, 4]


def test_a_transient_streak_is_logged_once_when_it_starts_and_once_when_it_ends_with_its_count() -> None:
    streak = Streak("inbound")
    with capture_logs() as logs:
        for _ in range(5):
            streak.failed(kafka_errors.KafkaConnectionError("down"), TRANSIENT)
        streak.succeeded()
        streak.succeeded()
    assert [entry["event"] for entry in logs] == ["transient failure, retrying with backoff", "recovered"]
    assert logs[1]["failures"] == 5


def test_give_up_needs_both_the_count_and_the_duration() -> None:
    now = [0.0]
    streak = Streak("projections", clock=lambda: now[0])
    rule = GiveUp(failures=3, seconds=60)
    for _ in range(5):
        streak.failed(ValueError("bug"), FAILURE)
    assert not rule.reached(streak)  # many, but quick
    now[0] = 61
    assert rule.reached(streak)


def settled(supervisor) -> bool:
    state = supervisor.health.components.get("outbound")
    return state is not None and state.state in {"running", "standby", "failed"}


DEFAULT_GIVE_UP = GiveUp()


def run_worker(steps, give_up=DEFAULT_GIVE_UP, on_failure=None, until=settled, timeout=5.0):
    """Run a worker whose step raises or returns the items of ``steps`` in turn, then idles."""
    stop = threading.Event()
    supervisor = Supervisor(stop, policy=POLICY, backoff=Backoff(initial=0.001, maximum=0.002), give_up=give_up)
    queue = list(steps)

    def step():
        if not queue:
            return 0
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    worker = Worker("outbound", step, supervisor, on_failure=on_failure, idle_sleep=0.001, standby_sleep=0.001)
    worker.start()
    deadline = time.monotonic() + timeout
    while (queue or not until(supervisor)) and not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.005)
    stop.set()
    worker.join(5)
    return supervisor


def test_a_worker_restarts_after_each_failure_and_reports_running_again() -> None:
    cleaned = []
    with capture_logs() as logs:
        supervisor = run_worker([ValueError("bug"), kafka_errors.KafkaTimeoutError("flush"), 3],
                                on_failure=lambda: cleaned.append(1))
    assert supervisor.error is None and supervisor.exit_code == 0
    assert len(cleaned) == 2
    failures = [e for e in logs if e["event"] == "component failed, restarting with backoff"]
    assert len(failures) == 1 and failures[0]["exc_info"].__class__ is ValueError
    states = [e["state"] for e in logs if e["event"] == "component state"]
    assert states[:4] == ["starting", "restarting", "retrying", "running"]


def test_a_worker_on_standby_is_healthy() -> None:
    with capture_logs() as logs:
        supervisor = run_worker([STANDBY, STANDBY])
    assert supervisor.error is None
    assert "standby" in [e["state"] for e in logs if e["event"] == "component state"]


def test_a_fatal_error_stops_the_process_with_exit_code_2() -> None:
    supervisor = run_worker([NotCoPartitioned("differ")])
    assert supervisor.stop.is_set() and supervisor.exit_code == 2
    assert supervisor.health.components["outbound"].state == "failed"


def test_failures_past_the_give_up_rule_stop_the_process_with_exit_code_3() -> None:
    supervisor = run_worker([ValueError("bug")] * 4, give_up=GiveUp(failures=3, seconds=0))
    assert supervisor.exit_code == 3 and not supervisor.health.live()


def test_transient_failures_never_stop_the_process() -> None:
    supervisor = run_worker([kafka_errors.KafkaConnectionError("down")] * 20, give_up=GiveUp(failures=3, seconds=0))
    assert supervisor.error is None


def test_readiness_needs_every_component_running_or_on_standby_and_liveness_a_turning_loop() -> None:
    now = [0.0]
    health = Health(stall_after=30, clock=lambda: now[0])
    assert not health.live() and not health.ready()
    health.beat()
    health.set("inbound", "running")
    health.set("outbound", "standby")
    assert health.live() and health.ready()
    health.set("projections", "retrying", 2, "OperationalError")
    assert health.live() and not health.ready()
    assert health.snapshot()["components"]["projections"]["failures"] == 2
    now[0] = 31
    assert not health.live()


def test_start_up_retries_transient_errors_until_it_succeeds() -> None:
    attempts = []

    def attempt():
        attempts.append(1)
        if len(attempts) < 3:
            raise kafka_errors.KafkaTimeoutError("Unable to bootstrap")
        return "engine"

    supervisor = Supervisor(threading.Event(), backoff=Backoff(initial=0.001, maximum=0.002))
    assert supervisor.retry("startup", attempt, timeout=5) == "engine" and len(attempts) == 3


def test_start_up_raises_a_non_transient_error_at_once_and_a_stop_as_stopped() -> None:
    supervisor = Supervisor(threading.Event())
    with pytest.raises(ValueError):
        supervisor.retry("startup", lambda: (_ for _ in ()).throw(ValueError("bad setting")), timeout=5)
    supervisor.stop.set()
    with pytest.raises(Stopped):
        supervisor.retry("startup", lambda: "never", timeout=5)


def test_without_postgresql_the_stream_lock_is_always_held() -> None:
    lock = StreamLock(None, "outbound")
    assert lock.held() and lock.acquire() and lock.held()


def test_a_worker_polls_again_soon_after_work_and_slowly_once_idle_for_a_while() -> None:
    """Latency: right after a batch the next one is likely coming, so an idle worker looks again within
    BUSY_SLEEP instead of its idle_sleep; a worker that never had work sleeps its idle_sleep."""
    from orderflow.supervision import BUSY_SLEEP

    def idle_steps(first: int) -> int:
        stop = threading.Event()
        supervisor = Supervisor(stop, policy=POLICY, backoff=Backoff(), give_up=GiveUp())
        calls = []

        def step():
            calls.append(time.monotonic())
            return first if len(calls) == 1 else 0

        worker = Worker("projections", step, supervisor, idle_sleep=30.0)
        worker.start()
        time.sleep(0.5)
        stop.set()
        worker.join(5)
        return len(calls) - 1

    assert BUSY_SLEEP <= 0.05
    assert idle_steps(first=5) >= 5, "after work it looks again every BUSY_SLEEP, not every idle_sleep"
    assert idle_steps(first=0) == 0, "never busy: the first idle wait is the whole idle_sleep"
