"""One error policy for the whole process, and the workers it keeps running.

Every loop of ``orderflow run`` (the inbound consumer, the projections and
outbound followers, the start-up) hands its errors to one :class:`ErrorPolicy`:

- **transient** (a broker or database unreachable or restarting, a closed
  connection, a timeout): retried with capped exponential backoff and jitter,
  forever; never an exit. Logged once when the streak starts and once when it
  ends, with the count.
- **fatal** (a configuration the process cannot run with: inbound topics not
  co-partitioned, authentication refused, no such database): the process
  exits with code 2 at once; retrying cannot help and an operator must act.
- **failure** (anything else: a bug, a poison event in a follower): the
  worker restarts with backoff and each failure is logged with its
  exception. After :attr:`GiveUp.failures` failures in a row over at least
  :attr:`GiveUp.seconds`, the process exits with code 3, so that an
  orchestrator restarts it.

A bad *message* is not this module's business: the pipeline rejects it to the
dead-letter topic and the partition goes on (docs/reliability.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog
from eventsourcing import persistence as es
from kafka import errors as kafka_errors

log = structlog.get_logger("orderflow.supervision")

TRANSIENT, FATAL, FAILURE = "transient", "fatal", "failure"

#: SQLSTATE classes no retry fixes: 28 authorization, 3D no such database, 42 syntax or undefined object.
FATAL_SQLSTATE_CLASSES = frozenset({"28", "3D", "42"})
#: libpq's own words for the same, when a connection attempt fails before the server gave a SQLSTATE.
FATAL_CONNECT_MESSAGES = ("password authentication failed", "does not exist", "no pg_hba.conf entry")
FATAL_KAFKA = (kafka_errors.AuthorizationError, kafka_errors.SaslAuthenticationFailedError,
               kafka_errors.IncompatibleBrokerVersion)


class GaveUp(RuntimeError):
    """A component failed too often for too long; the process exits for an orchestrator to restart it."""


def _chain(error: BaseException | None) -> list[BaseException]:
    """``error`` and the errors it was raised from (eventsourcing wraps psycopg's), outermost first."""
    seen: list[BaseException] = []
    while error is not None and error not in seen and len(seen) < 10:
        seen.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return seen


@dataclass(frozen=True)
class ErrorPolicy:
    """Sorts an exception into :data:`TRANSIENT`, :data:`FATAL` or :data:`FAILURE`."""

    fatal_types: tuple[type[BaseException], ...] = ()

    def classify(self, error: BaseException) -> str:
        chain = _chain(error)
        for one in chain:
            if isinstance(one, (*self.fatal_types, *FATAL_KAFKA)) or _fatal_database_error(one):
                return FATAL
        for one in chain:
            if _transient(one):
                return TRANSIENT
        return FAILURE

    def is_transient(self, error: BaseException) -> bool:
        return self.classify(error) == TRANSIENT


def _fatal_database_error(error: BaseException) -> bool:
    if not isinstance(error, psycopg.Error):
        return False
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate:
        return sqlstate[:2] in FATAL_SQLSTATE_CLASSES
    return isinstance(error, psycopg.OperationalError) and any(m in str(error) for m in FATAL_CONNECT_MESSAGES)


def _transient(error: BaseException) -> bool:
    if isinstance(error, kafka_errors.KafkaError):
        return bool(getattr(error, "retriable", False))
    # psycopg's OperationalError covers a closed or refused connection, a server shutting down or starting
    # up, a deadlock or serialization failure, and psycopg_pool's PoolTimeout; eventsourcing wraps them.
    return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError, es.OperationalError,
                              es.InterfaceError, ConnectionError, TimeoutError))


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: attempt n waits between half and all of ``initial * 2**(n-1)``."""

    initial: float = 0.5
    maximum: float = 30.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        capped = min(self.maximum, self.initial * 2 ** max(0, attempt - 1))
        return capped * (0.5 + rng() / 2)


@dataclass(frozen=True)
class GiveUp:
    """When a streak of non-transient failures means the process cannot recover on its own."""

    failures: int = 10
    seconds: float = 300.0

    def reached(self, streak: Streak) -> bool:
        return streak.failures >= self.failures and streak.seconds >= self.seconds


@dataclass
class Streak:
    """Consecutive failures of one component, logged once at the start of a transient streak and once at its end."""

    component: str
    clock: Callable[[], float] = time.monotonic
    count: int = 0
    failures: int = 0
    """Of ``count``, the non-transient ones (what :class:`GiveUp` counts)."""
    started: float = 0.0
    last_error: str = ""

    @property
    def seconds(self) -> float:
        return self.clock() - self.started if self.count else 0.0

    def failed(self, error: BaseException, kind: str) -> None:
        self.count += 1
        if self.count == 1:
            self.started = self.clock()
        self.last_error = f"{type(error).__name__}: {error}"[:500]
        if kind == TRANSIENT:
            self.failures = 0
            if self.count == 1:
                log.warning("transient failure, retrying with backoff", component=self.component, error=self.last_error)
        else:
            self.failures += 1
            log.error("component failed, restarting with backoff", component=self.component, failures=self.failures,
                      error=self.last_error, exc_info=error)

    def succeeded(self) -> bool:
        """End the streak; True if there was one."""
        if not self.count:
            return False
        log.info("recovered", component=self.component, failures=self.count, seconds=round(self.seconds, 1),
                 last_error=self.last_error)
        self.count = self.failures = 0
        return True


@dataclass
class ComponentState:
    state: str
    since: float
    failures: int = 0
    last_error: str | None = None


@dataclass
class Health:
    """What an orchestrator's probes would ask: is the process alive, and is it doing its work?

    *Live*: the inbound loop turned within ``stall_after`` seconds and no
    component gave up. *Ready*: partitions assigned with a known group
    coordinator, no transient streak, and every follower running or on standby
    (another process holds its stream). Kept in memory; logged on every change.
    """

    stall_after: float = 60.0
    clock: Callable[[], float] = time.monotonic
    components: dict[str, ComponentState] = field(default_factory=dict)
    last_beat: float | None = None
    on_change: Callable[[str, str, int, str | None], None] | None = None
    """Called with ``(component, state, failures, error)`` on every change (the followers process reports with it)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ready: bool | None = None

    OK_STATES = frozenset({"running", "standby", "caught up"})

    def beat(self) -> None:
        self.last_beat = self.clock()

    def set(self, component: str, state: str, failures: int = 0, error: str | None = None) -> None:
        with self._lock:
            current = self.components.get(component)
            if current is not None and current.state == state and current.failures == failures:
                return
            self.components[component] = ComponentState(state, self.clock(), failures, error)
        log.info("component state", component=component, state=state, failures=failures or None, error=error)
        if self.on_change is not None:
            self.on_change(component, state, failures, error)
        self._note_readiness()

    def live(self) -> bool:
        with self._lock:
            failed = any(c.state == "failed" for c in self.components.values())
        return not failed and self.last_beat is not None and self.clock() - self.last_beat < self.stall_after

    def ready(self) -> bool:
        with self._lock:
            return bool(self.components) and all(c.state in self.OK_STATES for c in self.components.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            components = {name: {"state": c.state, "for_seconds": round(self.clock() - c.since, 1),
                                 "failures": c.failures, "last_error": c.last_error}
                          for name, c in self.components.items()}
        return {"live": self.live(), "ready": self.ready(), "components": components}

    def _note_readiness(self) -> None:
        ready = self.ready()
        if ready != self._ready:
            self._ready = ready
            log.info("readiness", ready=ready, components={n: c.state for n, c in self.components.items()})


STANDBY = None
"""What a worker's step returns when another process holds its stream: nothing to do here."""


@dataclass
class Supervisor:
    """The policy, backoff, give-up rule and health shared by every loop of one process.

    :meth:`failed` is what each loop does with an error: classify it, log it
    (once per transient streak), mark the component's health, and either wait
    the backoff (True: go on) or stop the process (False; :attr:`error` says why).
    """

    stop: threading.Event
    health: Health = field(default_factory=Health)
    policy: ErrorPolicy = ErrorPolicy()
    backoff: Backoff = Backoff()
    give_up: GiveUp = GiveUp()
    error: BaseException | None = None

    def failed(self, component: str, streak: Streak, error: BaseException) -> bool:
        kind = self.policy.classify(error)
        streak.failed(error, kind)
        if kind == FATAL or (kind == FAILURE and self.give_up.reached(streak)):
            if self.error is None:
                self.error = error if kind == FATAL else GaveUp(
                    f"{component}: {streak.failures} failures in a row over {streak.seconds:.0f} s; "
                    f"last: {streak.last_error}")
            self.health.set(component, "failed", streak.count, streak.last_error)
            log.error("component cannot recover: stopping the process", component=component, kind=kind,
                      error=str(self.error))
            self.stop.set()
            return False
        self.health.set(component, "retrying" if kind == TRANSIENT else "restarting", streak.count, streak.last_error)
        self.stop.wait(self.backoff.delay(streak.count))
        return True

    @property
    def exit_code(self) -> int:
        """0 unless a component could not recover: 2 for a fatal (configuration) error, 3 for giving up."""
        if self.error is None:
            return 0
        return 3 if isinstance(self.error, GaveUp) else 2

    def retry(self, component: str, attempt: Callable[[], Any], timeout: float) -> Any:
        """``attempt()`` until it succeeds, retrying transient errors with backoff for up to ``timeout`` seconds.

        For start-up: anything but a transient error, a transient one past the
        timeout, or a stop request is raised (the stop as :class:`Stopped`).
        """
        streak = Streak(component)
        deadline = time.monotonic() + timeout
        while True:
            if self.stop.is_set():
                raise Stopped(component)
            try:
                result = attempt()
            except Exception as error:
                if self.policy.classify(error) != TRANSIENT or time.monotonic() >= deadline:
                    raise
                streak.failed(error, TRANSIENT)
                self.health.set(component, "retrying", streak.count, streak.last_error)
                self.stop.wait(min(self.backoff.delay(streak.count), max(0.0, deadline - time.monotonic())))
                continue
            streak.succeeded()
            return result


class Stopped(Exception):
    """The process was asked to stop while it was still starting."""


BUSY_SECONDS = 1.0
"""For this long after a worker's last non-empty step, it polls every :data:`BUSY_SLEEP` seconds when idle."""
BUSY_SLEEP = 0.01


class Worker:
    """Runs ``step()`` in a thread until ``stop`` is set, and keeps it running through failures.

    ``step`` returns how many items it handled (0: idle) or :data:`STANDBY`. A
    raised error goes to :meth:`Supervisor.failed`: transient ones are retried
    with backoff forever; other failures restart the step with backoff until
    the give-up rule stops the process. ``on_failure`` runs after each failure
    (e.g. to replace a producer).
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], int | None],
        supervisor: Supervisor,
        on_failure: Callable[[], None] | None = None,
        idle_sleep: float = 0.2,
        standby_sleep: float = 1.0,
    ):
        self.name = name
        self.step = step
        self.supervisor = supervisor
        self.on_failure = on_failure
        self.idle_sleep = idle_sleep
        self.standby_sleep = standby_sleep
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.supervisor.health.set(self.name, "starting")
        self.thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        stop, health = self.supervisor.stop, self.supervisor.health
        streak = Streak(self.name)
        busy_at = float("-inf")
        while not stop.is_set():
            try:
                done = self.step()
            except Exception as error:  # noqa: BLE001 - the policy decides; nothing escapes a worker silently
                self._clean_up()
                if not self.supervisor.failed(self.name, streak, error):
                    return
                continue
            streak.succeeded()
            health.set(self.name, "standby" if done is STANDBY else "running")  # a no-op when unchanged
            if done is STANDBY:
                stop.wait(self.standby_sleep)
            elif done == 0:
                # Soon after work, look again soon: the next batch is likely on its way (publish->visible latency).
                recent = time.monotonic() - busy_at < BUSY_SECONDS
                stop.wait(min(BUSY_SLEEP, self.idle_sleep) if recent else self.idle_sleep)
            else:
                busy_at = time.monotonic()

    def _clean_up(self) -> None:
        if self.on_failure is None:
            return
        try:
            self.on_failure()
        except Exception as error:  # noqa: BLE001
            log.warning("cleanup after failure failed", component=self.name, error=repr(error))
