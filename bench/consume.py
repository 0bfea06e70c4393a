"""How fast the inbound consumer records messages, against a bare consumer reading the same records.

    .venv/bin/python bench/consume.py [--orders 600] [--batch-size 500]

Starts its own PostgreSQL and Kafka (``orderflow.devservices``), publishes the
simulator's traffic of ``--orders`` orders (about 8.4 messages each) and times
(1) a bare kafka-python consumer reading every record without applying it and
(2) the engine's ``InboundConsumer`` applying every record to the event store
on PostgreSQL, one transaction per partition batch; prints both rates and
their ratio. The read models are not part of (2): ``bench/rebuild.py`` times
those. A benchmark, never a timed test.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import structlog
from kafka import KafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orderflow.bootstrap import bootstrap  # noqa: E402
from orderflow.devservices import KafkaBroker, PostgresServer  # noqa: E402
from orderflow.settings import Settings  # noqa: E402
from orderflow.simulate import publish_orders  # noqa: E402


def bare_read(settings: Settings, expected: int) -> float:
    """Seconds a plain consumer takes to read ``expected`` inbound records from the beginning."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                             max_poll_records=settings.batch_size)
    try:
        consumer.assign([TopicPartition(t, p) for t in settings.topics.inbound for p in consumer.partitions_for_topic(t)])
        consumer.seek_to_beginning()
        read, started = 0, time.perf_counter()
        while read < expected:
            read += sum(len(records) for records in consumer.poll(timeout_ms=500).values())
        return time.perf_counter() - started
    finally:
        consumer.close()


def engine_consume(settings: Settings, expected: int) -> float:
    """Seconds the engine's inbound consumer takes to apply and record ``expected`` records."""
    engine = bootstrap(settings)
    consumer = engine.inbound_consumer()
    try:
        while not consumer.is_assigned:
            consumer.poll_once(timeout_ms=200)  # join the group; the first poll's records are re-read after the seek
        consumed, started = 0, time.perf_counter()
        while consumed < expected:
            consumed += consumer.poll_once(timeout_ms=500)
        return time.perf_counter() - started
    finally:
        consumer.close()
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with PostgresServer() as postgres, KafkaBroker() as broker:
        settings = replace(Settings(), database_url=postgres.create_database("bench_consume"),
                           kafka_bootstrap=broker.bootstrap_servers, consumer_group="bench-consume",
                           batch_size=args.batch_size)
        engine = bootstrap(settings)
        try:
            engine.ensure_topics()
        finally:
            engine.close()
        messages = publish_orders(settings, count=args.orders, seed=args.seed)
        bare_seconds = bare_read(settings, messages)
        engine_seconds = engine_consume(settings, messages)
    bare_rate, engine_rate = messages / bare_seconds, messages / engine_seconds
    print(f"{messages} messages of {args.orders} orders, batches of up to {args.batch_size}, PostgreSQL event store")
    print(f"bare kafka-python read:       {bare_rate:12,.0f} messages/s")
    print(f"InboundConsumer apply+record: {engine_rate:12,.0f} messages/s")
    print(f"ratio bare / consumer:        {bare_rate / engine_rate:12,.1f} x")


if __name__ == "__main__":
    main()
