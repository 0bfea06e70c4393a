"""How long each inbound batch holds the events table's lock, and the share of a batch's time that is serialised.

    .venv/bin/python bench/lock_hold.py [--orders 1000] [--batch 500] [--inline yes|no]

Starts its own PostgreSQL, then drains the simulator's traffic (seed 11) through the inbound pipeline (the unit
tests' harness: no Kafka) into it, in this process, with the read models written with the events
(``--inline yes``, as ``orderflow run`` does) or without. Every PostgreSQL event insert takes
``LOCK TABLE <events> IN EXCLUSIVE MODE`` and keeps it until commit, so writers of one store queue for it: the
locked part is timed from the insert's start (the lock is the first statement of its pipeline) to the commit's
return, and set against the whole batch (merge, checks, commands, mapping, insert). ``docs/scaling.md`` reasons
from these figures about several engines on one database. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # bench/profile.py would shadow the standard profile module

import structlog  # noqa: E402

import tests.unit.test_pipeline as tp  # noqa: E402
from devservices.postgres_server import PostgresServer  # noqa: E402
from orderflow import collector  # noqa: E402
from orderflow.application.orders import Orders  # noqa: E402
from orderflow.application.positions import PostgresPositionsRecorder  # noqa: E402
from orderflow.consumers.pipeline import Pipeline  # noqa: E402
from orderflow.db import Database  # noqa: E402
from orderflow.projections.catalog import all_views  # noqa: E402
from orderflow.projections.inline import InlineProjection  # noqa: E402
from orderflow.projections.runner import ProjectionRunner  # noqa: E402
from orderflow.traffic.simulate import traffic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--inline", choices=("yes", "no"), default="yes")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    messages = [e for _, e in traffic(args.orders, seed=11)]
    tp.MESSAGES = messages
    locked: list[float] = []
    steps: list[float] = []
    insert = PostgresPositionsRecorder.insert_events

    def timed_insert(self, stored_events, **kwargs):
        started = time.perf_counter()
        try:
            return insert(self, stored_events, **kwargs)
        finally:
            locked.append(time.perf_counter() - started)

    PostgresPositionsRecorder.insert_events = timed_insert  # type: ignore[method-assign]
    step = Pipeline.step

    def timed_step(self, *a, **k):
        started = time.perf_counter()
        try:
            return step(self, *a, **k)
        finally:
            steps.append(time.perf_counter() - started)

    Pipeline.step = timed_step  # type: ignore[method-assign]
    with PostgresServer() as postgres:
        url = postgres.create_database("lock_hold")
        app, db = Orders(url), Database(url)
        try:
            ProjectionRunner(app, db, all_views(True))  # the tables
            if args.inline == "yes":
                InlineProjection.install(app, db)
            harness = tp.Harness(app, tp.as_records(messages, 4), batch_size=args.batch, partitions=4)
            collector.for_the_engine()
            locked.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            harness.drain(chunk=args.batch)
            while any(not harness.caught_up(p) for p in harness.read):
                harness.drain(chunk=args.batch)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            db.close()
            app.close()
    batches = [s for s in steps if s > 0]
    held, total = sum(locked), sum(batches)
    print(f"{len(messages):,} messages in {len(locked)} event inserts (batch size {args.batch}, inline {args.inline}): "
          f"{1e6 * wall / len(messages):,.0f} µs wall and {1e6 * cpu / len(messages):,.0f} µs CPU of this process "
          f"per message; lock held {1e3 * held / len(locked):,.1f} ms per insert on average "
          f"(max {1e3 * max(locked):,.1f} ms), {1e6 * held / len(messages):,.0f} µs per message; "
          f"serialised share of a batch {held / total:.0%} ({1e3 * total / len(locked):,.1f} ms per batch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
