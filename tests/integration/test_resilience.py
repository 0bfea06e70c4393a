"""The consumer's guarantees under failure, with real ``orderflow run`` processes, Kafka and PostgreSQL.

Each scenario consumes the simulator's traffic and must end in exactly the
state a clean, uninterrupted run on a fresh database ends in: every message
recorded once (a Receipt each), every order with the same events, read-model
rows and Web Order No. count. Only what depends on the order in which
partitions happened to be read (Web Order Nos., positions) is left out.

The storefront and ERP messages travel on their two topics; the consumer
merges them by event time, and resumes the merge where the database says, so
every run applies each order's story in the same order, whatever fails. The
order-taking setup is keyed apart from the orders (another partition, which
another member may own), so it is applied, by a run of its own, before the
orders' stories are published.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from dataclasses import replace

import pytest
from kafka import KafkaProducer

from orderflow.application.orders import Orders
from orderflow.consumers.inbound import position_name
from orderflow.contract.envelope import Envelope
from orderflow.traffic.simulate import traffic
from tests.integration.engine import isolated_settings, start_engine
from tests.integration.processes import (
    EngineProcess,
    Outcome,
    assert_read_models_equal_a_rebuild,
    end_offsets,
    hand_over,
    inbound_records,
    outcome,
    publish_traffic,
    run_until_consumed,
    wait_until_recorded,
)
from tests.integration.test_faults import outbound_counts, wait_until_published

SCALE = float(os.environ.get("ORDERFLOW_FAULT_SCALE", "1"))
"""``ORDERFLOW_FAULT_SCALE=10`` runs these tests on ten times the orders and kills (docs/reliability.md)."""
ORDERS, SEED = max(10, round(60 * SCALE)), 20261102
KILLS = 8
STREAM_KILLS = max(20, round(20 * SCALE))
BATCH_SIZE = 20  # records per inbound batch and events per outbound batch of the engines these tests start


@pytest.fixture(scope="module")
def messages():
    return traffic(ORDERS, SEED)


@pytest.fixture(scope="module")
def reference(postgres_server, kafka_broker, messages, tmp_path_factory) -> Outcome:
    """The outcome of one clean run over the traffic, on its own database, topics and group."""
    url = postgres_server.create_database(f"reference_{uuid.uuid4().hex[:12]}")
    settings = isolated_settings(url, kafka_broker.bootstrap_servers)
    start_engine(settings).close()
    logs = tmp_path_factory.mktemp("reference")
    apply_setup(settings, messages, logs)
    publish_traffic(settings, messages[1:])
    run_until_consumed(settings, logs / "run.log")
    return outcome(url)


@pytest.fixture
def settings(database_url, kafka_broker):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    start_engine(settings).close()  # the topics exist before anything is published
    return settings


def apply_setup(settings, messages, logs) -> None:
    """Publish the traffic's setup message and run the engine until it is applied."""
    setup = messages[:1]
    assert setup[0][1].message_type == "order_taking_configured"
    publish_traffic(settings, setup)
    run_until_consumed(settings, logs / "setup.log")


def assert_same_outcome(actual: Outcome, reference: Outcome, messages) -> None:
    doubled = {message_id for message_id, count in actual.receipts.items() if count > 1}
    assert not doubled, f"messages applied more than once: {sorted(doubled)[:5]}"
    assert set(actual.receipts) == set(reference.receipts), "a message was lost (or one never sent was recorded)"
    assert reference.rejected == 0 and len(reference.receipts) == len(messages), "the clean run itself lost messages"
    assert actual.rejected == 0
    assert actual.distinct_web_order_nos == len(actual.web_orders) == ORDERS, "a Web Order No. was issued twice"
    assert actual.event_counts == reference.event_counts
    assert actual.web_orders == reference.web_orders
    assert actual.event_log == reference.event_log


def test_killing_the_engine_mid_batch_again_and_again_loses_and_doubles_no_message(settings, reference, messages, tmp_path):
    apply_setup(settings, messages, tmp_path)
    publish_traffic(settings, messages[1:])
    rng = random.Random(SEED)
    for round_no in range(KILLS):
        process = EngineProcess(settings, tmp_path / f"killed-{round_no}.log")
        try:
            process.wait_for_log("partition assigned")
            time.sleep(rng.uniform(0.05, 1.0))
        finally:
            process.kill()
    run_until_consumed(settings, tmp_path / "final.log")
    assert_same_outcome(outcome(settings.database_url), reference, messages)


def bad_stream_records(settings, messages, n: int) -> list[tuple[str, bytes, bytes, list]]:
    """Two bad records for round ``n``, keyed apart from every order: undecodable bytes, and a placement on the ERP topic."""
    _, first = messages[0]
    placed = next(e for _, e in messages if e.message_type == "order_placed")
    garbled, misrouted = (
        Envelope(key=f"SF-BAD-{n}{tag}", message_id=f"bad-{n}{tag}", message_type="order_placed",
                 occurred_at=first.occurred_at, producer="test", payload=placed.payload)
        for tag in "ab"
    )
    garbage = (settings.topics.storefront, garbled.key.encode(), b"\xc1\xc1 not msgpack", garbled.headers())
    return [garbage, (settings.topics.erp, misrouted.key.encode(), misrouted.value(), misrouted.headers())]


def publish_raw(settings, records) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        for future in [producer.send(topic, key=key, value=value, headers=headers) for topic, key, value, headers in records]:
            future.get(timeout=30)
    finally:
        producer.close()


def test_twenty_sigkills_while_traffic_flows_lose_double_and_reorder_nothing(settings, reference, messages, tmp_path):
    """SIGKILL ``orderflow run`` again and again while both topics receive traffic; restart it each time.

    Each round starts an engine, publishes the next slice of the traffic (and
    two bad records) while it consumes, and kills it a random moment later,
    mid-batch or mid-publish. Most restarts use a new consumer group, which
    is assigned at once (the engine seeks to the positions in the database,
    not to the group's offsets), the database handed over to it as an
    operator renames a group (docs/operations.md); every fifth rejoins the killed process's
    group and waits out its session, as an orchestrator's restart does.
    """
    apply_setup(settings, messages, tmp_path)
    stories = messages[1:]
    slices = [stories[i * len(stories) // STREAM_KILLS:(i + 1) * len(stories) // STREAM_KILLS] for i in range(STREAM_KILLS)]
    rng = random.Random(SEED + 20)
    bad: list[tuple] = []
    group, mid_batch, started = settings.consumer_group, 0, time.monotonic()
    for round_no, part in enumerate(slices):
        if round_no % 5 != 4:
            group = f"{settings.consumer_group}-{round_no}"
            hand_over(settings.database_url, group)  # the killed process is gone: a renamed group takes over
        process = EngineProcess(replace(settings, consumer_group=group), tmp_path / f"killed-{round_no}.log",
                                batch_size=BATCH_SIZE)
        try:
            process.wait_for_log("partition assigned")
            records = bad_stream_records(settings, stories, round_no)
            bad += records
            publisher = threading.Thread(target=lambda part=part, records=records: (publish_traffic(settings, part),
                                                                                 publish_raw(settings, records)))
            publisher.start()
            time.sleep(rng.uniform(0.1, 1.2))
        finally:
            process.kill()
        publisher.join(30)
        assert not publisher.is_alive(), "publishing a slice took too long"
        mid_batch += bool(process.events("batch recorded"))
    hand_over(settings.database_url, settings.consumer_group)
    final = EngineProcess(settings, tmp_path / "final.log", batch_size=BATCH_SIZE)
    alive = lambda: final.popen.poll() is None  # noqa: E731
    try:
        wait_until_recorded(settings, end_offsets(settings), 120, alive=alive)
        wait_until_published(settings, 90, alive=alive)
        final.signal(signal.SIGTERM)
        assert final.wait(15) == 0
    finally:
        final.kill()
    actual = outcome(settings.database_url)
    published = inbound_records(settings)
    counts = {
        "kills": STREAM_KILLS, "rounds that recorded a batch": mid_batch, "seconds": round(time.monotonic() - started),
        "sent": len(messages) + len(bad), "valid": len(messages), "bad": len(bad),
        "recorded": len(actual.receipts), "rejected": actual.rejected,
        "lost": len(published - set(actual.by_record)),
        "doubled": sum(c - 1 for c in actual.by_record.values() if c > 1),
        "reordered": sum(actual.event_log.get(ref) != rows for ref, rows in reference.event_log.items()),
    }
    counts.update(outbound_counts(settings, reference))
    print("SIGKILLs during a stream:", counts)
    assert set(actual.by_record) == published, "an inbound record has no outcome, or an outcome of no record"
    assert counts["doubled"] == 0, "an inbound record has two outcomes"
    assert actual.rejected == len(bad) and set(actual.receipts) == set(reference.receipts), "a valid message rejected"
    assert all(reason.strip() for reason in actual.reasons)
    assert actual.event_counts == reference.event_counts
    assert actual.web_orders == reference.web_orders
    assert counts["reordered"] == 0 and actual.event_log == reference.event_log, "an order's history differs"
    assert counts["sync_distinct"] == counts["sync_expected"], "a storefront-sync message was never published"
    # After a crash at most the batch in flight is published again (docs/outbound.md): one batch per kill.
    assert counts["sync_doubled"] <= STREAM_KILLS * BATCH_SIZE
    assert counts["notification_doubled"] <= STREAM_KILLS * BATCH_SIZE
    assert_read_models_equal_a_rebuild(settings.database_url, actual)


def test_members_joining_and_leaving_the_group_share_the_partitions_and_keep_every_order_in_order(
    settings, reference, messages, tmp_path
):
    apply_setup(settings, messages, tmp_path)
    started: list[EngineProcess] = []

    def member(name: str) -> EngineProcess:
        started.append(EngineProcess(settings, tmp_path / f"{name}.log"))
        return started[-1]

    publisher = threading.Thread(target=lambda: publish_slowly(settings, messages[1:], seconds=6))
    try:
        first, second = member("first"), member("second")
        first.wait_for_log("partition assigned")
        second.wait_for_log("partition assigned")
        publisher.start()
        time.sleep(1.5)
        third = member("third")
        third.wait_for_log("partition assigned")
        first.signal(signal.SIGTERM)
        assert first.wait(15) == 0
        publisher.join(60)
        assert not publisher.is_alive(), "publishing the traffic took too long"
        wait_until_recorded(settings, end_offsets(settings), 120,
                            alive=lambda: second.popen.poll() is None and third.popen.poll() is None)
        for process in (second, third):
            process.signal(signal.SIGTERM)
            assert process.wait(15) == 0
    finally:
        for process in started:
            process.kill()
    for process in started:
        assert process.events("batch recorded"), f"{process.log_path} never recorded a batch: no share of the work"
    assert_same_outcome(outcome(settings.database_url), reference, messages)


def publish_slowly(settings, messages, seconds: float, chunks: int = 12) -> None:
    """Publish in ``chunks`` spread over about ``seconds``, so that members come and go while traffic flows."""
    size = -(-len(messages) // chunks)
    for start in range(0, len(messages), size):
        publish_traffic(settings, messages[start:start + size])
        time.sleep(seconds / chunks)


def test_sigterm_stops_the_engine_within_seconds_with_everything_it_applied_recorded(settings, messages, tmp_path):
    publish_traffic(settings, messages)
    process = EngineProcess(settings, tmp_path / "run.log")
    try:
        process.wait_for_log("batch recorded")
        time.sleep(0.3)
        signalled = time.monotonic()
        process.signal(signal.SIGTERM)
        assert process.wait(10) == 0
        took = time.monotonic() - signalled
    finally:
        process.kill()
    assert took < 10
    logged: dict[str, int] = {}
    for entry in process.events("batch recorded"):
        logged.update(entry["positions"])
    app = Orders(settings.database_url)
    try:
        recorded = {
            position_name(topic, partition): app.position(position_name(topic, partition))
            for topic in set(settings.topics.inbound) for partition in range(4)
        }
    finally:
        app.close()
    assert {name: p for name, p in recorded.items() if p is not None} == logged


def test_stop_when_idle_applies_what_waits_even_when_joining_the_group_outlasts_the_idle_time(settings, messages, tmp_path):
    killed = EngineProcess(settings, tmp_path / "killed.log")
    try:
        killed.wait_for_log("partition assigned")
    finally:
        killed.kill()  # its membership lingers for the session timeout: the next join waits for it
    publish_traffic(settings, messages[:1])
    process = EngineProcess(settings, tmp_path / "run.log", "--stop-when-idle", "2")
    try:
        assert process.wait(60) == 0
    finally:
        process.kill()
    assert process.events("batch recorded"), "it stopped without applying the message waiting for it"
