"""Faults a production day brings, with real ``orderflow run`` processes, Kafka and PostgreSQL.

The broker stopped and started again twice, PostgreSQL restarted, processes
starting together on a new database, two processes in one group. Each run
must keep its processes alive, consume every message once, and end in the
state a clean run ends in; outbound records are counted by message id. The
counts of a run are printed (``pytest -s``) and kept in docs/reliability.md.

Services that a test stops get their own instance: the session's broker and
server stay up for the other tests.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter

import pytest

from devservices.kafka_broker import KafkaBroker
from devservices.postgres_server import PostgresServer
from orderflow.application.orders import Orders
from orderflow.db import Database
from orderflow.kafka import ensure_topics
from orderflow.traffic.simulate import traffic
from tests.integration.engine import isolated_settings, start_engine
from tests.integration.processes import (
    EngineProcess,
    Outcome,
    end_offsets,
    outcome,
    publish_traffic,
    run_until_consumed,
    wait_until,
    wait_until_recorded,
)
from tests.integration.test_outbound import message_ids, read_all

ORDERS, SEED = 40, 20261111


@pytest.fixture(scope="module")
def messages():
    return traffic(ORDERS, SEED)


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    """Engines started by these tests retry after at most 2 s, so that a recovery shows within the test's time."""
    monkeypatch.setenv("ORDERFLOW_BACKOFF_MAX_SECONDS", "2")


@pytest.fixture(scope="module")
def reference(postgres_server, kafka_broker, messages, tmp_path_factory) -> Outcome:
    """The outcome of one clean run over the traffic, on its own database, topics and group."""
    settings = fresh_settings(postgres_server, kafka_broker)
    logs = tmp_path_factory.mktemp("reference")
    apply_setup(settings, messages, logs)
    publish_traffic(settings, messages[1:])
    run_until_consumed(settings, logs / "run.log")
    return outcome(settings.database_url)


def fresh_settings(postgres: PostgresServer, broker: KafkaBroker, create: bool = True):
    url = postgres.create_database(f"faults_{uuid.uuid4().hex[:12]}")
    settings = isolated_settings(url, broker.bootstrap_servers)
    if create:
        start_engine(settings).close()  # the topics and tables exist before anything is published
    return settings


def apply_setup(settings, messages, logs) -> None:
    assert messages[0][1].message_type == "order_taking_configured"
    publish_traffic(settings, messages[:1])
    run_until_consumed(settings, logs / "setup.log")


def wait_until_published(settings, timeout: float, alive) -> None:
    """Wait until both outbound positions reach the newest event in the store."""
    app, db = Orders(settings.database_url), Database(settings.database_url)

    def caught_up() -> bool:
        head = app.recorder.max_notification_id() or 0
        rows = dict(db.query("SELECT name, position FROM projection_tracking WHERE name IN ('outbound:storefront_sync', 'outbound:notifications')"))
        return len(rows) == 2 and all(position == head for position in rows.values())

    try:
        wait_until(caught_up, timeout, "the outbound topics to catch up", alive=alive)
    finally:
        db.close()
        app.close()


def outbound_counts(settings, reference: Outcome) -> dict[str, int]:
    """Records, distinct ids and doubled ids on the storefront-sync and notifications topics."""
    sync = message_ids(read_all(settings.kafka_bootstrap, settings.topics.storefront_sync))
    notes = message_ids(read_all(settings.kafka_bootstrap, settings.topics.notifications))
    return {
        "sync_expected": sum(reference.event_counts.values()), "sync_records": sum(sync.values()),
        "sync_distinct": len(sync), "sync_doubled": sum(c - 1 for c in sync.values()),
        "notification_records": sum(notes.values()), "notification_distinct": len(notes),
        "notification_doubled": sum(c - 1 for c in notes.values()),
    }


def assert_same_outcome(actual: Outcome, reference: Outcome, messages) -> dict[str, int]:
    doubled = {message_id for message_id, count in actual.receipts.items() if count > 1}
    lost = set(reference.receipts) - set(actual.receipts)
    counts = {"sent": len(messages), "recorded": len(actual.receipts), "lost": len(lost), "doubled": len(doubled),
              "rejected": actual.rejected}
    assert reference.rejected == 0 and len(reference.receipts) == len(messages), "the clean run itself lost messages"
    assert not doubled, f"messages applied more than once: {sorted(doubled)[:5]}"
    assert not lost and set(actual.receipts) == set(reference.receipts)
    assert actual.rejected == 0
    assert actual.event_counts == reference.event_counts
    assert actual.web_orders == reference.web_orders
    assert actual.event_log == reference.event_log, "an order's history differs from the clean run's"
    return counts


def publish_slowly(settings, messages, seconds: float, chunks: int = 10) -> None:
    size = -(-len(messages) // chunks)
    for start in range(0, len(messages), size):
        publish_traffic(settings, messages[start:start + size])
        time.sleep(seconds / chunks)


def streaks(process: EngineProcess) -> Counter:
    """How many streaks of transient failures each component of ``process`` went through."""
    return Counter(entry["component"] for entry in process.events("transient failure, retrying with backoff"))


def stop(*processes: EngineProcess) -> None:
    for process in processes:
        process.signal(signal.SIGTERM)
    for process in processes:
        assert process.wait(30) == 0, f"orderflow run did not stop cleanly; log: {process.log_path}"


def test_the_broker_stopped_and_started_twice_leaves_the_engine_alive_and_publishing(
    postgres_server, messages, reference, tmp_path, monkeypatch
):
    # An outage longer than the outbound send timeout: the batch in hand fails and is published again after it.
    monkeypatch.setenv("ORDERFLOW_SEND_TIMEOUT_SECONDS", "3")
    with KafkaBroker() as broker:
        settings = fresh_settings(postgres_server, broker)
        apply_setup(settings, messages, tmp_path)
        stories = messages[1:]
        thirds = [stories[i * len(stories) // 3:(i + 1) * len(stories) // 3] for i in range(3)]
        process = EngineProcess(settings, tmp_path / "run.log")
        alive = lambda: process.popen.poll() is None  # noqa: E731
        try:
            process.wait_for_log("partition assigned")
            for outage, part in enumerate(thirds[:2]):
                publish_traffic(settings, part)
                time.sleep(0.3)  # the engine is consuming and publishing
                broker.pause()
                time.sleep(6.0)
                assert alive(), f"the engine died during outage {outage + 1}; log: {process.log_path}"
                broker.resume()
            publish_traffic(settings, thirds[2])
            wait_until_recorded(settings, end_offsets(settings), 120, alive=alive)
            wait_until_published(settings, 90, alive=alive)
            stop(process)
        finally:
            process.kill()
        counts = assert_same_outcome(outcome(settings.database_url), reference, messages)
        counts.update(outbound_counts(settings, reference))
    print("broker restarted twice:", counts, "transient streaks:", streaks(process))
    assert counts["sync_distinct"] == counts["sync_expected"], "a storefront-sync message was never published"


def test_a_postgresql_fast_restart_during_a_run_is_survived(kafka_broker, messages, reference, tmp_path):
    with PostgresServer() as server:
        settings = fresh_settings(server, kafka_broker)
        apply_setup(settings, messages, tmp_path)
        process = EngineProcess(settings, tmp_path / "run.log")
        alive = lambda: process.popen.poll() is None  # noqa: E731
        publisher = threading.Thread(target=publish_slowly, args=(settings, messages[1:], 6.0))
        try:
            process.wait_for_log("partition assigned")
            publisher.start()
            process.wait_for_log("batch recorded")
            time.sleep(1.0)
            server.restart("fast")
            publisher.join(60)
            wait_until_recorded(settings, end_offsets(settings), 120, alive=alive)
            wait_until_published(settings, 90, alive=alive)
            stop(process)
        finally:
            process.kill()
        counts = assert_same_outcome(outcome(settings.database_url), reference, messages)
        counts.update(outbound_counts(settings, reference))
    print("postgresql restarted:", counts, "transient streaks:", streaks(process))
    assert counts["sync_distinct"] == counts["sync_expected"]


def test_processes_starting_together_on_a_new_database_all_start(postgres_server, kafka_broker, tmp_path):
    settings = fresh_settings(postgres_server, kafka_broker, create=False)
    ensure_topics(settings)  # only the topics: the database is empty
    processes = [EngineProcess(settings, tmp_path / f"run-{n}.log") for n in range(3)]
    try:
        for process in processes:
            process.wait_for_log("orderflow running")
        stop(*processes)
    finally:
        for process in processes:
            process.kill()
    for process in processes:
        assert not process.events("component failed, restarting with backoff"), process.log_path


def test_two_processes_in_one_group_publish_each_outbound_message_once(
    postgres_server, kafka_broker, messages, reference, tmp_path
):
    settings = fresh_settings(postgres_server, kafka_broker)
    apply_setup(settings, messages, tmp_path)
    first, second = EngineProcess(settings, tmp_path / "first.log"), EngineProcess(settings, tmp_path / "second.log")
    alive = lambda: first.popen.poll() is None and second.popen.poll() is None  # noqa: E731
    try:
        first.wait_for_log("partition assigned")
        second.wait_for_log("partition assigned")
        publish_traffic(settings, messages[1:])
        wait_until_recorded(settings, end_offsets(settings), 120, alive=alive)
        wait_until_published(settings, 90, alive=alive)
        stop(first, second)
    finally:
        first.kill()
        second.kill()
    counts = assert_same_outcome(outcome(settings.database_url), reference, messages)
    counts.update(outbound_counts(settings, reference))
    print("two processes, one group:", counts)
    assert counts["sync_doubled"] == counts["notification_doubled"] == 0
    assert counts["sync_distinct"] == counts["sync_expected"]
    publishers = [p for p in (first, second) if p.events("outbound batch published")]
    assert len(publishers) == 1, "both processes published outbound batches"
    assert all(p.events("batch recorded") for p in (first, second)), "a process got no share of the inbound work"
