"""``orderflow run``: the engine, until stopped (or idle and caught up)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from contextlib import suppress
from typing import Any

import structlog

from orderflow import collector
from orderflow.bootstrap import Engine, bootstrap
from orderflow.consumers.inbound import InboundConsumer
from orderflow.followers import FollowersProcess
from orderflow.health import HealthServer
from orderflow.kafka import MissingTopics, NotCoPartitioned
from orderflow.outbound import OutboundPublisher
from orderflow.ownership import ForeignPositions
from orderflow.settings import Settings, in_memory, redact_url
from orderflow.supervision import TRANSIENT, Backoff, ErrorPolicy, GiveUp, Stopped, Streak, Supervisor

log = structlog.get_logger("orderflow")


def register(subparsers: Any) -> None:
    """Add ``run`` to the ``orderflow`` command."""
    run = subparsers.add_parser("run", help="consume the storefront and ERP topics and keep the read models current")
    run.add_argument("--stop-when-idle", type=float, metavar="SECONDS",
                     help="exit once nothing arrived for SECONDS and every read model is caught up")
    run.set_defaults(func=cmd_run)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The engine: the inbound loop in this process, the followers in a process of their own (docs/reliability.md)."""
    if in_memory(settings.database_url):
        print("orderflow run: the followers run in a process of their own and cannot see an in-memory database: "
              "set ORDERFLOW_DATABASE_URL to sqlite:///FILE or postgresql://", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    supervisor = Supervisor(
        stop,
        policy=ErrorPolicy(fatal_types=(NotCoPartitioned, MissingTopics, ForeignPositions)),
        backoff=Backoff(maximum=settings.backoff_max_seconds),
        give_up=GiveUp(settings.max_failures, settings.failure_window_seconds),
    )
    health = supervisor.health
    health.stall_after = settings.live_timeout_seconds
    # First of all, so that a port in use or an address that does not resolve is refused at once (BadSetting).
    server = None if settings.metrics_port is None else HealthServer(health, settings.metrics_port,
                                                                      settings.metrics_address)
    try:
        engine, consumer, outbound = supervisor.retry(
            "startup", lambda: _start(settings), timeout=settings.startup_timeout_seconds)
    except BaseException as error:
        if server is not None:
            server.close()
        if isinstance(error, Stopped):
            return 0
        raise
    health.set("inbound", "starting")
    # The projections and outbound followers: a child process, started and restarted from this thread's loop.
    followers = FollowersProcess(supervisor, supervisor.backoff)
    workers = engine.monitoring(consumer, outbound, supervisor)  # ORDERFLOW_METRICS_PORT: the lag gauges
    for worker in workers:
        worker.start()
    followers.tend()
    collector.for_the_engine()
    log.info("orderflow running", database=redact_url(settings.database_url), kafka=settings.kafka_bootstrap,
             pid=os.getpid(), followers_pid=followers.pid)
    last_activity = last_report = time.monotonic()
    streak, starting_over = Streak("inbound"), False
    try:
        while not stop.is_set():
            health.beat()
            followers.tend()
            try:
                if starting_over:
                    consumer.start_over()  # re-reads every partition's position from the database
                    starting_over = False
                if consumer.poll_once(timeout_ms=500):
                    last_activity = time.monotonic()
            except Exception as error:  # noqa: BLE001 - the policy decides
                if not supervisor.failed("inbound", streak, error):
                    break
                starting_over = True  # what was polled or buffered may be ahead of the database
                continue
            streak.succeeded()
            health.set("inbound", "running" if consumer.is_assigned and _coordinator_known(consumer) else "starting")
            now = time.monotonic()
            if now - last_report >= 10:
                last_report = now
                if (lag := _lag(engine, outbound, supervisor)) is not None:
                    log.info("lag", **lag, ready=health.ready())
            # Idle counts from the later of the last record and the last assignment: joining the
            # group can take longer than the idle time, and records before it were not ours yet.
            idle_since = max(last_activity, consumer.assigned_at or now)
            if (args.stop_when_idle is not None and now - idle_since >= args.stop_when_idle and consumer.is_assigned
                    and not consumer.buffered):
                lag = _lag(engine, outbound, supervisor)
                if lag is not None and not any(lag.values()):
                    log.info("idle and caught up: stopping")
                    stop.set()
    finally:
        stop.set()
        followers.terminate()  # it stops while this process closes its consumer
        with suppress(Exception):
            consumer.close()
        for worker in workers:
            worker.join()
        followers.stop()
        engine.close()
        if server is not None:
            server.close()
    if supervisor.error is not None:
        log.error("orderflow run exits: a component cannot recover", exit_code=supervisor.exit_code,
                  error=str(supervisor.error), health=health.snapshot())
    return supervisor.exit_code


def _start(settings: Settings) -> tuple[Engine, InboundConsumer, OutboundPublisher]:
    """Build the engine and its Kafka clients; nothing is left open if a step fails (start-up retries it)."""
    engine = bootstrap(settings)
    try:
        engine.ensure_topics()
        return engine, engine.inbound_consumer(), engine.outbound_publisher()
    except BaseException:
        with suppress(Exception):
            engine.close()
        raise


def _lag(engine: Engine, outbound: OutboundPublisher, supervisor: Supervisor) -> dict[str, int] | None:
    """Every follower's lag, or None while the database cannot tell (a transient error, already retried elsewhere)."""
    try:
        return {**engine.projections.lag(), **outbound.lag()}
    except Exception as error:
        if supervisor.policy.classify(error) != TRANSIENT:
            raise
        return None


def _coordinator_known(consumer: InboundConsumer) -> bool:
    """Whether the consumer knows its group coordinator (not during a broker outage); True if it cannot tell."""
    coordinator = getattr(consumer.consumer, "_coordinator", None)
    return getattr(coordinator, "coordinator_id", 0) is not None
