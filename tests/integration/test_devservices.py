"""The dev services are real servers: data survives a round trip through each."""

from __future__ import annotations

import time
import uuid

import psycopg
from kafka import KafkaConsumer, KafkaProducer

from devservices.kafka_broker import KafkaBroker


def test_postgres_sql_round_trip(database_url: str) -> None:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE orders (id integer PRIMARY KEY, sku text NOT NULL)")
        conn.execute("INSERT INTO orders VALUES (1, 'SKU-1'), (2, 'SKU-2')")
        rows = conn.execute("SELECT id, sku FROM orders ORDER BY id").fetchall()
    assert rows == [(1, "SKU-1"), (2, "SKU-2")]


def test_kafka_produce_consume_round_trip(kafka_broker: KafkaBroker) -> None:
    topic = f"devservices-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topics([topic])
    sent = [f"order-{i}".encode() for i in range(3)]

    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers, max_block_ms=10_000)
    try:
        for value in sent:
            producer.send(topic, value).get(timeout=10)
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_broker.bootstrap_servers,
                             group_id=f"devservices-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest")
    received: list[bytes] = []
    deadline = time.monotonic() + 30
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                received.extend(record.value for record in records)
    finally:
        consumer.close()
    assert sorted(received) == sent
