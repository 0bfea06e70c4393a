"""A storefront order travels Kafka → event store → web_orders, on real Kafka and real PostgreSQL."""

from __future__ import annotations

import pytest

from orderflow.aggregates.inbox import RejectedMessage
from orderflow.consumers.inbound import position_name
from tests.integration.engine import consume_until, isolated_settings, placed, publish, read_topic, start_engine


@pytest.fixture
def settings(database_url, kafka_broker):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    start_engine(settings).close()  # the topics exist before anything is published
    return settings


def orders_listed(engine):
    engine.projections.catch_up()
    return engine.projections.views[0].list_orders(engine.db, limit=1000)


def recorded_positions(engine, topic):
    return {p: engine.app.position(position_name(topic, p)) for p in range(4)}


def test_a_placed_order_is_consumed_recorded_with_its_position_and_listed(settings):
    publish(settings.kafka_bootstrap, settings.topics.storefront, [placed(f"SF-{n}", n) for n in range(1, 6)])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: len(orders_listed(engine)) == 5)
        rows = orders_listed(engine)
        assert sorted(r["storefront_reference"] for r in rows) == [f"SF-{n}" for n in range(1, 6)]
        assert sorted(r["web_order_no"] for r in rows) == [f"WO{n:010d}" for n in range(1, 6)]
        assert {r["workflow_status"] for r in rows} == {"Received"}
        # Each partition's last offset is stored with the events it caused.
        positions = recorded_positions(engine, settings.topics.storefront)
        assert sum(p + 1 for p in positions.values() if p is not None) == 5
    finally:
        consumer.close()
        engine.close()


def test_a_restarted_consumer_re_reads_nothing_and_loses_nothing(settings):
    publish(settings.kafka_bootstrap, settings.topics.storefront, [placed(f"SF-{n}", n) for n in range(1, 4)])
    first = start_engine(settings)
    consumer = first.inbound_consumer()
    consume_until(consumer, lambda: len(orders_listed(first)) == 3)
    consumer.close()
    first.close()

    publish(settings.kafka_bootstrap, settings.topics.storefront, [placed(f"SF-{n}", n) for n in range(4, 6)])
    second = start_engine(settings)
    consumer = second.inbound_consumer()
    try:
        consume_until(consumer, lambda: len(orders_listed(second)) == 5)
        for _ in range(5):  # give a re-read every chance to show up
            consumer.poll_once(timeout_ms=200)
        numbers = [row["web_order_no"] for row in orders_listed(second)]
        assert len(numbers) == len(set(numbers)) == 5, "an order was placed twice, or a number was issued twice"
    finally:
        consumer.close()
        second.close()


def test_a_duplicate_message_changes_nothing_and_bad_messages_go_to_the_dead_letter_topic(settings):
    order = placed("SF-1", 1)
    reused_id = placed("SF-2", 2)
    reused_id = type(reused_id)(**{**vars(reused_id), "message_id": order.message_id})
    bad_schema = placed("SF-3", 3)
    bad_schema.payload["lines"][0]["unit_price"] = 10.0
    raw = [(b"SF-4", b"\xc1 not msgpack", [("message_id", b"m-4"), ("message_type", b"order_placed"),
                                         ("schema_version", b"1"), ("occurred_at", b"2026-11-02T08:00:00Z")])]
    after = placed("SF-5", 5)
    publish(settings.kafka_bootstrap, settings.topics.storefront, [order, order, reused_id, bad_schema], raw)
    publish(settings.kafka_bootstrap, settings.topics.storefront, [after])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: len(orders_listed(engine)) == 2)
        assert sorted(r["storefront_reference"] for r in orders_listed(engine)) == ["SF-1", "SF-5"]
        dead = read_topic(settings.kafka_bootstrap, settings.topics.dead_letters, expected=3)
        reasons = {r.key: dict(r.headers)["dlq_reason"].decode() for r in dead}
        assert set(reasons) == {b"SF-2", b"SF-3", b"SF-4"}
        assert "already used for a different payload" in reasons[b"SF-2"]
        assert "/lines/0/unit_price" in reasons[b"SF-3"]
        assert "undecodable application/msgpack payload" in reasons[b"SF-4"]
        journal = [e for e in engine.app.recorder.select_notifications(start=1, limit=1000)
                   if e.topic.endswith(RejectedMessage.__qualname__ + ".Rejected")]
        assert len(journal) == 3
        originals = {r.key: r.value for r in dead}
        assert originals[b"SF-3"] == bad_schema.value(), "the dead letter must carry the original bytes"
        assert originals[b"SF-4"] == raw[0][1]
    finally:
        consumer.close()
        engine.close()
