"""The outbound topics on a real broker and PostgreSQL: one message per change, across restarts and re-publishing."""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict

import pytest
from kafka import KafkaConsumer, TopicPartition

from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.contract.envelope import decode
from orderflow.db import Database
from orderflow.outbound import OutboundPublisher, outbound_producer
from orderflow.outbound.messages import sync_message_id
from orderflow.settings import Topics
from tests.strategies import CLERK, CUSTOMER, at, b2b_payload
from tests.unit.test_outbound import all_messages, drive_realistic_history, followed


class Crash(Exception):
    """Stands for the process dying after the broker acknowledged a batch, before its position was committed."""


class CrashingAfterPublish(OutboundPublisher):
    def _record_position(self, cursor, view, position) -> None:
        super()._record_position(cursor, view, position)
        raise Crash(view.name)


@pytest.fixture
def outbound(database_url, kafka_broker):
    tag = uuid.uuid4().hex[:8]
    topics = Topics(storefront_sync=f"sync.{tag}", notifications=f"notifications.{tag}")
    kafka_broker.create_topics([topics.storefront_sync, topics.notifications], partitions=3)
    app, db = Orders(database_url), Database(database_url)
    producers = []

    def publisher(kind: type[OutboundPublisher] = OutboundPublisher, batch_size: int = 7) -> OutboundPublisher:
        """A new publisher with its own producer, as a restarted process would have."""
        producers.append(outbound_producer(kafka_broker.bootstrap_servers))
        return kind(app, db, producers[-1], topics, batch_size=batch_size)

    yield app, topics, publisher, kafka_broker.bootstrap_servers
    for producer in producers:
        producer.close(timeout=10)
    db.close()
    app.close()


def read_all(bootstrap_servers: str, topic: str, timeout: float = 30) -> list:
    """Every record of ``topic`` up to its end offsets, partition by partition in offset order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records, deadline = [], time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"timed out reading {topic}"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def message_ids(records: list) -> Counter:
    return Counter(decode(r.key, r.value, r.headers).message_id for r in records)


def expected_ids(app: Orders, message_type: str) -> Counter:
    """One id per cause: a sync message per web order event, a notification per notification cause."""
    return Counter(m.message_id for m in all_messages(followed(app)) if m.message_type == message_type)


def test_each_change_is_published_exactly_once_across_a_restart_of_the_publisher(outbound) -> None:
    app, topics, publisher, servers = outbound
    drive_realistic_history(app)
    first = publisher()
    first.run_once()
    first.run_once()
    assert 0 < first.lag()["outbound:storefront_sync"] < first.head()
    app.place_order("SF-5", b2b_payload(), CUSTOMER, at(30))
    app.link_sales_document("SF-5", "Order", "SO-5", CLERK, at(31))

    publisher().catch_up()

    sync, notifications = read_all(servers, topics.storefront_sync), read_all(servers, topics.notifications)
    web_order_events = len(followed(app))
    assert message_ids(sync) == expected_ids(app, "web_order_synced")
    assert len(sync) == sum(message_ids(sync).values()) == web_order_events
    assert message_ids(notifications) == expected_ids(app, "notification")
    assert len(notifications) == 14 + 2  # the realistic history's causes, then SF-5's placement and status change


def test_each_order_arrives_on_one_partition_in_version_order(outbound) -> None:
    app, topics, publisher, servers = outbound
    drive_realistic_history(app)
    publisher(batch_size=4).catch_up()

    partitions, versions = defaultdict(set), defaultdict(list)
    for record in read_all(servers, topics.storefront_sync):
        envelope = decode(record.key, record.value, record.headers)
        partitions[envelope.key].add(record.partition)
        versions[envelope.key].append(envelope.payload["version"])
    assert all(len(found) == 1 for found in partitions.values())
    assert all(found == list(range(1, len(found) + 1)) for found in versions.values())


def test_a_crash_after_the_broker_acknowledged_resends_only_that_batch_with_the_same_ids(outbound) -> None:
    app, topics, publisher, servers = outbound
    drive_realistic_history(app)
    with pytest.raises(Crash):
        publisher(CrashingAfterPublish, batch_size=5).run_once()

    publisher().catch_up()

    records = read_all(servers, topics.storefront_sync)
    counts = message_ids(records)
    resent = {message_id for message_id, n in counts.items() if n > 1}
    first_batch = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=5)]
    assert resent == {sync_message_id(e.originator_id, e.originator_version) for e in first_batch if isinstance(e, WebOrder.Event)}
    assert resent
    assert set(counts) == set(expected_ids(app, "web_order_synced"))
    assert max(counts.values()) == 2
    payloads = defaultdict(set)
    for record in records:
        payloads[decode(record.key, record.value, record.headers).message_id].add(record.value)
    assert all(len(values) == 1 for values in payloads.values())


def test_republishing_from_position_zero_gives_the_same_message_ids_and_payloads(outbound) -> None:
    app, topics, publisher, servers = outbound
    drive_realistic_history(app)
    first = publisher()
    first.catch_up()
    before = {t: read_all(servers, t) for t in (topics.storefront_sync, topics.notifications)}

    first.rewind(0)
    publisher().catch_up()

    for topic, old in before.items():
        new = read_all(servers, topic)
        assert set(message_ids(new).values()) == {2}
        by_id = defaultdict(set)
        for record in new:
            by_id[decode(record.key, record.value, record.headers).message_id].add((record.key, record.value))
        assert all(len(copies) == 1 for copies in by_id.values())
        assert set(by_id) == set(message_ids(old))
