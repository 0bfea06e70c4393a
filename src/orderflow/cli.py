"""The ``orderflow`` command: run the engine, look at orders, make traffic."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaTimeoutError

from orderflow import logs
from orderflow.bootstrap import bootstrap, ensure_topics
from orderflow.consumers.inbound import NotCoPartitioned
from orderflow.db import Database
from orderflow.analyst import format_table
from orderflow.analyst import register as register_analyst
from orderflow.publish import register as register_publish
from orderflow.settings import Settings, redact_secrets, redact_url

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

    from orderflow.shredding import UnknownCustomer

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
    engine = bootstrap(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    engine.ensure_topics()
    consumer = engine.inbound_consumer()
    outbound = engine.outbound_publisher()
    followers = [
        threading.Thread(target=engine.projections.run, args=(stop,), name="projections"),
        threading.Thread(target=outbound.run, args=(stop,), name="outbound"),
    ]
    for thread in followers:
        thread.start()
    log.info("orderflow running", database=_redacted(settings.database_url), kafka=settings.kafka_bootstrap)
    last_activity = last_report = time.monotonic()
    try:
        while not stop.is_set():
            if consumer.poll_once(timeout_ms=500):
                last_activity = time.monotonic()
            now = time.monotonic()
            if now - last_report >= 10:
                log.info("lag", **engine.projections.lag(), **outbound.lag())
                last_report = now
            # Idle counts from the later of the last record and the last assignment: joining the
            # group can take longer than the idle time, and records before it were not ours yet.
            idle_since = max(last_activity, consumer.assigned_at or now)
            if (args.stop_when_idle is not None and now - idle_since >= args.stop_when_idle and consumer.is_assigned
                    and not consumer.buffered):
                if not any(engine.projections.lag().values()) and not any(outbound.lag().values()):
                    log.info("idle and caught up: stopping")
                    stop.set()
    finally:
        stop.set()
        consumer.close()
        for thread in followers:
            thread.join()
        engine.close()
    return 0


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
    from orderflow.simulate import publish_orders

    ensure_topics(settings)
    sent = publish_orders(settings, count=args.count, seed=args.seed, rate=args.rate)
    log.info("simulated traffic published", messages=sent, orders=args.count,
             topics=[settings.topics.storefront, settings.topics.erp])
    return 0


def _redacted(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


if __name__ == "__main__":
    sys.exit(main())
