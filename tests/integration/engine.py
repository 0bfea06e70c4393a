"""Helpers for integration tests: an engine on the real services, with its own topics and group."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, KafkaProducer

from orderflow.bootstrap import Engine, bootstrap
from orderflow.consumers.inbound import InboundConsumer
from orderflow.contract.envelope import Envelope
from orderflow.settings import Settings, Topics

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def isolated_settings(database_url: str, bootstrap_servers: str) -> Settings:
    """Settings whose topics and consumer group no other test uses."""
    tag = uuid.uuid4().hex[:8]
    topics = Topics(**{name: f"{value}.{tag}" for name, value in vars(Topics()).items()})
    return replace(
        Settings(), database_url=database_url, kafka_bootstrap=bootstrap_servers,
        consumer_group=f"orderflow-{tag}", topics=topics, batch_size=50,
    )


def start_engine(settings: Settings) -> Engine:
    engine = bootstrap(settings)
    engine.ensure_topics()
    return engine


def placed(reference: str, n: int = 1, quantity: str = "2") -> Envelope:
    """An ``order_placed`` message for a guest order of ``quantity`` × 10.00."""
    amount = f"{int(quantity) * 10}.00" if quantity.lstrip("-").isdigit() else "0.00"
    return Envelope(
        key=reference,
        message_id=str(uuid.uuid4()),
        message_type="order_placed",
        occurred_at=T0 + timedelta(minutes=n),
        producer="test-storefront",
        payload={
            "customer_type": "B2C - Not Registered",
            "order_date": "2026-11-02",
            "lines": [{"type": "Item", "no": "ITEM-1000", "quantity": quantity, "unit_price": "10.00", "line_amount": amount}],
            "shipping": {"name": "Anna Lind", "address": "Storgatan 4", "post_code": "11122", "city": "Stockholm", "country_region_code": "SE"},
            "b2c_customer": {"name": "Anna Lind", "email": "anna.lind@example.com"},
            "email": "anna.lind@example.com",
        },
    )


def publish(bootstrap_servers: str, topic: str, envelopes: list[Envelope], raw: list[tuple[bytes | None, bytes | None, list]] = ()) -> None:
    """Publish envelopes (and raw records, for bad input) and wait for the broker's acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    try:
        futures = [producer.send(topic, key=e.key.encode(), value=e.value(), headers=e.headers()) for e in envelopes]
        futures += [producer.send(topic, key=k, value=v, headers=h) for k, v, h in raw]
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def consume_until(consumer: InboundConsumer, done: Callable[[], bool], timeout: float = 60) -> None:
    """Poll until ``done()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for the consumer; assignment={consumer.consumer.assignment()}"
        consumer.poll_once(timeout_ms=200)


def read_topic(bootstrap_servers: str, topic: str, expected: int, timeout: float = 30) -> list:
    """Every record of ``topic`` once ``expected`` have arrived (or all there are after ``timeout``)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=2000)
    records, deadline = [], time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def sasl_settings(bootstrap: str, mechanism: str, password: str, tmp_path, **extra: str) -> Settings:
    """Settings that log in as ``alice`` with ``mechanism`` (the password read from a file), on topics of their own."""
    secret = tmp_path / f"sasl-{uuid.uuid4().hex[:6]}"
    secret.write_text(password + "\n")
    suffix = uuid.uuid4().hex[:8]
    return Settings.from_env({
        "ORDERFLOW_KAFKA_BOOTSTRAP": bootstrap,
        "ORDERFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "ORDERFLOW_KAFKA_SASL_MECHANISM": mechanism,
        "ORDERFLOW_KAFKA_SASL_USERNAME": "alice",
        "ORDERFLOW_KAFKA_SASL_PASSWORD_FILE": str(secret),
        "ORDERFLOW_TOPIC_STOREFRONT": f"sf-{suffix}", "ORDERFLOW_TOPIC_ERP": f"erp-{suffix}",
        "ORDERFLOW_TOPIC_STOREFRONT_SYNC": f"sync-{suffix}", "ORDERFLOW_TOPIC_NOTIFICATIONS": f"n-{suffix}",
        "ORDERFLOW_TOPIC_DEAD_LETTERS": f"dlq-{suffix}",
        **extra,
    })
