"""Same traffic, same history? The backlog run of issue 9, repeated on fresh databases and topics.

    .venv/bin/python bench/backlog.py [--runs 4] [--orders 1000] [--seed 11]

Starts its own PostgreSQL and Kafka. Each run publishes ``orderflow simulate
--count ORDERS --seed SEED --rate 0`` to fresh topics (both topics
backlogged), then runs ``orderflow run --stop-when-idle 2`` with the default
settings on a fresh database, and prints how many valid messages were
dead-lettered and how many were left parked. A run whose result depends on
timing shows different counts from run to run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import engine_env  # noqa: E402
from devservices.kafka_broker import KafkaBroker  # noqa: E402
from devservices.postgres_server import PostgresServer  # noqa: E402
from orderflow.db import Database  # noqa: E402
from orderflow.settings import Settings, Topics  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    orderflow = [sys.executable, "-m", "orderflow.cli"]
    with KafkaBroker() as kafka, PostgresServer() as postgres:
        for run in range(1, args.runs + 1):
            tag = uuid.uuid4().hex[:8]
            topics = Topics(**{name: f"{value}.{tag}" for name, value in vars(Topics()).items()})
            settings = replace(Settings(), database_url=postgres.create_database(f"backlog_{tag}"),
                               kafka_bootstrap=kafka.bootstrap_servers, consumer_group=f"backlog-{tag}", topics=topics)
            env = engine_env(settings)
            subprocess.run([*orderflow, "simulate", "--count", str(args.orders), "--seed", str(args.seed), "--rate", "0"],
                           env=env, check=True, capture_output=True)
            started = time.monotonic()
            subprocess.run([*orderflow, "run", "--stop-when-idle", "2"], env=env, check=True, capture_output=True)
            took = time.monotonic() - started
            db = Database(settings.database_url)
            try:
                rejected = db.query("SELECT count(*) FROM error_journal")[0][0]
                parked = db.query("SELECT count(*) FROM parked_messages WHERE released_at IS NULL")[0][0]
                ever = db.query("SELECT count(*) FROM parked_messages")[0][0]
                orders = db.query("SELECT count(*) FROM web_orders")[0][0]
            finally:
                db.close()
            print(f"run {run}: {orders} orders, {rejected} dead-lettered, {parked} left parked "
                  f"({ever} parked at some point), {took:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
