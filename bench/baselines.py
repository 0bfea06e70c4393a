"""The two consumers orderflow is measured against, reading the same inbound records.

1. The ceiling: kafka-python reading every record, doing nothing with it.
2. The consumer a user might write instead of running orderflow: kafka-python
   and psycopg, one row (the record's offset as its key, so a replay changes
   nothing) and one commit per message, on the same PostgreSQL server.
"""

from __future__ import annotations

import statistics
import time

import psycopg
from kafka import KafkaConsumer, TopicPartition

from orderflow.settings import Settings


def _assigned_consumer(settings: Settings) -> KafkaConsumer:
    """A group-less consumer of every inbound partition, at the beginning (kafka-python's defaults otherwise)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    consumer.assign([TopicPartition(t, p) for t in settings.topics.inbound for p in consumer.partitions_for_topic(t)])
    consumer.seek_to_beginning()
    return consumer


def raw_consume(settings: Settings, expected: int, repeat: int = 3) -> float:
    """Messages per second kafka-python reads, doing nothing else (the median of ``repeat`` reads)."""
    rates = []
    for _ in range(repeat):
        consumer = _assigned_consumer(settings)
        try:
            read, started = 0, time.perf_counter()
            while read < expected:
                read += sum(len(records) for records in consumer.poll(timeout_ms=500).values())
            rates.append(expected / (time.perf_counter() - started))
        finally:
            consumer.close()
    return statistics.median(rates)


NAIVE_DDL = """CREATE TABLE IF NOT EXISTS inbox (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" BIGINT NOT NULL,
    key TEXT, message_id TEXT, message_type TEXT, value BYTEA,
    PRIMARY KEY (topic, partition, "offset"))"""


def naive_consume(settings: Settings, database_url: str, expected: int) -> float:
    """Messages per second of a hand-written consumer: one row and one commit per message."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(NAIVE_DDL)
    conn = psycopg.connect(database_url)
    consumer = _assigned_consumer(settings)
    try:
        done, started = 0, time.perf_counter()
        while done < expected:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    headers = {name: value.decode() for name, value in record.headers or []}
                    conn.execute(
                        'INSERT INTO inbox (topic, partition, "offset", key, message_id, message_type, value) '
                        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (record.topic, record.partition, record.offset, record.key.decode() if record.key else None,
                         headers.get("message_id"), headers.get("message_type"), record.value),
                    )
                    conn.commit()
                    done += 1
        return expected / (time.perf_counter() - started)
    finally:
        consumer.close()
        conn.close()
