"""The ``orderflow`` command: run the engine, look at orders, make traffic."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaTimeoutError

from orderflow import logs
from orderflow.bootstrap import Engine, bootstrap, ensure_topics
from orderflow.consumers.inbound import InboundConsumer, NotCoPartitioned
from orderflow.db import Database
from orderflow.analyst import format_table
from orderflow.analyst import register as register_analyst
from orderflow.traffic.publish import register as register_publish
from orderflow.outbound import OutboundPublisher
from orderflow.settings import Settings, redact_secrets, redact_url
from orderflow.supervision import TRANSIENT, Backoff, ErrorPolicy, GiveUp, Stopped, Streak, Supervisor, Worker

log = structlog.get_logger("orderflow")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orderflow", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="consume the storefront and ERP topics and keep the read models current")
    run.add_argument("--stop-when-idle", type=float, metavar="SECONDS",
                     help="exit once nothing arrived for SECONDS and every read model is caught up")
    run.set_defaults(func=cmd_run)

    orders = commands.add_parser("orders", help="list web orders (the Web Orders read model)")
    orders.add_argument("--status", help="only orders with this workflow status")
    orders.add_argument("--limit", type=int, default=50)
    orders.set_defaults(func=cmd_orders)

    errors = commands.add_parser("errors", help="the error journal: messages that could not be applied, and why")
    errors.add_argument("--limit", type=int, default=50)
    errors.set_defaults(func=lambda settings, args: _show(settings, "error_journal", lambda v, db: v.recent(db, args.limit)))

    parked = commands.add_parser("parked", help="messages waiting for their order to arrive")
    parked.add_argument("--limit", type=int, default=100)
    parked.set_defaults(func=lambda settings, args: _show(settings, "parked_messages", lambda v, db: v.waiting(db, args.limit)))

    simulate = commands.add_parser("simulate", help="publish realistic storefront and ERP traffic: whole order stories")
    simulate.add_argument("--count", type=int, default=10, help="how many orders")
    simulate.add_argument("--seed", type=int, default=1, help="same seed, same traffic")
    simulate.add_argument("--rate", type=float, default=0, help="messages per second (0: as fast as possible)")
    simulate.set_defaults(func=cmd_simulate)

    forget = commands.add_parser("forget", help="forget a customer: delete their key; their personal fields read as <forgotten>")
    forget.add_argument("customer", help="web account no., B2B sell-to customer no., e-mail address (guests) or kind:id")
    forget.add_argument("--requested-by", default="cli", help="who asked (recorded in the CustomerForgotten event)")
    forget.set_defaults(func=cmd_forget)

    register_publish(commands)
    register_analyst(commands)

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    logs.configure(settings.log_format)
    try:
        return args.func(settings, args) or 0
    except KafkaTimeoutError:
        print(f"orderflow {args.command}: no Kafka broker answers at {settings.kafka_bootstrap}; "
              "set ORDERFLOW_KAFKA_BOOTSTRAP (or start a local one with `make services-up`)", file=sys.stderr)
        return 2
    except NotCoPartitioned as error:
        print(f"orderflow {args.command}: {error}", file=sys.stderr)
        return 2
    except (psycopg.Error, PersistenceError) as error:  # never the URL or the password, even if the driver's text holds them
        print(f"orderflow {args.command}: database {redact_url(settings.database_url)}: "
              f"{redact_secrets(str(error), settings)}", file=sys.stderr)
        return 2


def cmd_forget(settings: Settings, args: argparse.Namespace) -> int:
    """Forget a customer (docs/security.md); then `orderflow projections rebuild` rewrites the read models."""
    from datetime import datetime, timezone

    from orderflow.application.shredding import UnknownCustomer

    engine = bootstrap(settings)
    try:
        done = engine.app.forget_customer(args.customer, args.requested_by, datetime.now(timezone.utc))
    except UnknownCustomer as error:
        print(f"orderflow forget: {error}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    for forgetting in done:
        print(f"forgotten: {forgetting.kind} (subject {forgetting.subject}), {forgetting.orders} order(s); "
              "run `orderflow projections rebuild` to rewrite the read models")
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The engine: the inbound loop in this thread, the followers supervised in theirs (docs/reliability.md)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    supervisor = Supervisor(
        stop,
        policy=ErrorPolicy(fatal_types=(NotCoPartitioned,)),
        backoff=Backoff(maximum=settings.backoff_max_seconds),
        give_up=GiveUp(settings.max_failures, settings.failure_window_seconds),
    )
    try:
        engine, consumer, outbound = supervisor.retry(
            "startup", lambda: _start(settings), timeout=settings.startup_timeout_seconds)
    except Stopped:
        return 0
    health = supervisor.health
    health.set("inbound", "starting")
    workers = [
        Worker("projections", engine.projections.step, supervisor),
        Worker("outbound", outbound.step, supervisor, on_failure=outbound.reset_producer),
    ]
    for worker in workers:
        worker.start()
    log.info("orderflow running", database=redact_url(settings.database_url), kafka=settings.kafka_bootstrap)
    last_activity = last_report = time.monotonic()
    streak, starting_over = Streak("inbound"), False
    try:
        while not stop.is_set():
            health.beat()
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
        with suppress(Exception):
            consumer.close()
        for worker in workers:
            worker.join()
        engine.close()
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


def cmd_orders(settings: Settings, args: argparse.Namespace) -> int:
    return _show(settings, "web_orders", lambda view, db: view.list_orders(db, status=args.status, limit=args.limit))


def _show(settings: Settings, view_name: str, read: Callable[[Any, Database], list[dict]]) -> int:
    """Print rows of one read model, after catching it up with the event store."""
    engine = bootstrap(settings)
    try:
        engine.projections.catch_up()
        [view] = [v for v in engine.projections.views if v.name == view_name]
        rows = read(view, engine.db)
    finally:
        engine.close()
    print(format_table(rows))
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from orderflow.traffic.simulate import publish_orders

    ensure_topics(settings)
    sent = publish_orders(settings, count=args.count, seed=args.seed, rate=args.rate)
    log.info("simulated traffic published", messages=sent, orders=args.count,
             topics=[settings.topics.storefront, settings.topics.erp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
