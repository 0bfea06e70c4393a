"""Same traffic, same history: the order of arrival across the two inbound topics changes nothing.

The simulator's traffic is applied by real ``orderflow run`` processes on real
Kafka and PostgreSQL (a) paced, while the engine runs, (b) as one backlog of
both topics, (c) with the ERP's backlog published before the storefront's and
(d) the other way round. Every run must give every order the same event
history, the same read-model rows, no rejection and nothing left parked.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid

import pytest

from orderflow.traffic.simulate import traffic
from tests.integration.engine import isolated_settings, start_engine
from tests.integration.processes import (
    EngineProcess,
    end_offsets,
    outcome,
    publish_traffic,
    run_until_consumed,
    wait_until_recorded,
)

ORDERS, SEED = 60, 11


@pytest.fixture(scope="module")
def messages():
    return traffic(ORDERS, SEED)


def fresh_settings(postgres_server, kafka_broker):
    url = postgres_server.create_database(f"ordering_{uuid.uuid4().hex[:12]}")
    settings = isolated_settings(url, kafka_broker.bootstrap_servers)
    start_engine(settings).close()  # the topics exist before anything is published
    return settings


def parked_count(settings) -> int:
    from orderflow.db import Database

    db = Database(settings.database_url)
    try:
        return db.query("SELECT count(*) FROM parked_messages WHERE released_at IS NULL")[0][0]
    finally:
        db.close()


def backlog_run(settings, batches, tmp_path, name):
    for batch in batches:
        publish_traffic(settings, batch)
    run_until_consumed(settings, tmp_path / f"{name}.log")
    return outcome(settings.database_url)


def paced_run(settings, messages, tmp_path, rate: float = 400):
    process = EngineProcess(settings, tmp_path / "paced.log")
    try:
        process.wait_for_log("partition assigned")
        publisher = threading.Thread(target=lambda: [
            (publish_traffic(settings, messages[n:n + 8]), time.sleep(8 / rate)) for n in range(0, len(messages), 8)])
        publisher.start()
        publisher.join(120)
        wait_until_recorded(settings, end_offsets(settings), 120, alive=lambda: process.popen.poll() is None)
        process.signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        process.kill()
    return outcome(settings.database_url)


def on_topic(messages, kind):
    return [m for m in messages if m[0] == kind]


@pytest.fixture(scope="module")
def backlog(postgres_server, kafka_broker, messages, tmp_path_factory):
    """(b): both topics' backlog, in the order the traffic happened."""
    settings = fresh_settings(postgres_server, kafka_broker)
    result = backlog_run(settings, [messages], tmp_path_factory.mktemp("backlog"), "backlog")
    assert parked_count(settings) == 0
    return result


def assert_same_histories(actual, expected, messages):
    assert actual.rejected == 0, "a valid message was rejected"
    assert len(actual.receipts) == len(messages) and set(actual.receipts) == set(expected.receipts)
    assert actual.event_counts == expected.event_counts
    assert actual.web_orders == expected.web_orders
    assert actual.event_log == expected.event_log


def test_one_backlog_of_both_topics_applies_every_message_without_a_rejection(backlog, messages):
    assert backlog.rejected == 0
    assert len(backlog.receipts) == len(messages)
    assert len(backlog.web_orders) == ORDERS


@pytest.mark.parametrize("first", ["erp", "storefront"])
def test_one_topics_backlog_published_before_the_others_gives_the_same_histories(
    first, backlog, messages, postgres_server, kafka_broker, tmp_path
):
    settings = fresh_settings(postgres_server, kafka_broker)
    second = "storefront" if first == "erp" else "erp"
    result = backlog_run(settings, [on_topic(messages, first), on_topic(messages, second)], tmp_path, first)
    assert parked_count(settings) == 0
    assert_same_histories(result, backlog, messages)


def test_paced_traffic_while_the_engine_runs_gives_the_same_histories(backlog, messages, postgres_server, kafka_broker,
                                                                      tmp_path):
    settings = fresh_settings(postgres_server, kafka_broker)
    result = paced_run(settings, messages, tmp_path)
    assert parked_count(settings) == 0
    assert_same_histories(result, backlog, messages)
