"""Putting right what failed, on the real broker and database: a redrive goes through the engine's inbound path.

The story of docs/operations.md: a storefront team publishes with a librdkafka producer left at its default
partitioner, so the records of some orders land on partitions their keys do not hash to and are refused as
misrouted. The team fixes its producer; the back office redrives the refused records, which land on their
keys' partitions and are applied once, in event time, by the ordinary inbound path.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import msgpack
import pytest
from kafka import KafkaProducer

from orderflow.aggregates.inbox import RejectedMessage
from orderflow.analyst.history import describe, order_as_of
from orderflow.application import repair
from orderflow.application.orders import Orders
from orderflow.consumers.handlers import apply, topic_for
from orderflow.consumers.pipeline import partition_for
from orderflow.projections.parked_messages import ParkedMessagesView
from orderflow.projections.repairs import RepairsView
from orderflow.traffic.simulate import traffic
from tests.integration.engine import consume_until, isolated_settings, read_topic, start_engine
from tests.integration.processes import EngineProcess, end_offsets, wait_until
from tests.messages import KEY, envelope

PARTITIONS = 4


@pytest.fixture
def settings(database_url, kafka_broker):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    start_engine(settings).close()
    return settings


def publish(settings, envelopes, misrouted=frozenset(), raw=()):
    """Publish envelopes to their topics, those of the orders in ``misrouted`` one partition off (as a producer
    hashing keys its own way would); ``raw``: (topic, partition, key, value, headers) as they are."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        futures = []
        for e in envelopes:
            partition = partition_for(e.key.encode(), PARTITIONS)
            if e.key in misrouted:
                partition = (partition + 1) % PARTITIONS
            futures.append(producer.send(topic_for(e.message_type, settings.topics), key=e.key.encode(),
                                         value=e.value(), headers=e.headers(), partition=partition))
        futures += [producer.send(t, partition=p, key=k, value=v, headers=h) for t, p, k, v, h in raw]
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def entries(settings, **filters):
    engine = start_engine(settings)
    try:
        engine.projections.catch_up()
        return repair.failed_entries(engine.db, repair.Filters(**filters))
    finally:
        engine.close()


def story():
    """One order's messages, in event time: placed, a sales document, a comment, approval requested."""
    return [envelope("order_placed", 0), envelope("sales_document_created", 1), envelope("customer_comment", 2),
            envelope("approval_requested", 3)]


def applied_in_event_time(messages):
    """The event names of ``KEY``'s order when ``messages`` are applied once, in event time, with nothing refused."""
    app = Orders()
    for message in sorted(messages, key=lambda m: m.occurred_at):
        apply(app, message)
    return event_names(app)


def event_names(app):
    order = app.get_order(KEY)
    return [type(e).__name__ for e in app.repository.event_store.get(order.id)]


def drain(consumer, settings, done):
    consume_until(consumer, lambda: done(entries(settings)), timeout=90)


def test_a_misrouted_order_redriven_lands_on_its_keys_partition_and_is_applied_once_in_event_time(settings):
    messages = story()
    publish(settings, messages, misrouted={KEY})
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: len(found) == 4)
        groups = {g.group: g for g in repair.failed_groups(engine.db)}
        assert groups["misrouted"].count == 4 and groups["misrouted"].open == 4
        assert "partitioner=murmur2_random" in entries(settings)[0].reason

        outcome = repair.redrive(settings, repair.Scope(group="misrouted"), user="ops-anna")
        assert [s.message_type for s in outcome.sent] == [m.message_type for m in messages]  # in event time
        assert {s.partition for s in outcome.sent} == {partition_for(KEY.encode(), PARTITIONS)}
        drain(consumer, settings, lambda found: all(e.state == "redriven" for e in found))

        assert event_names(engine.app) == applied_in_event_time(messages)
        assert all(e.closed_by == "ops-anna" and e.attempts == 2 for e in entries(settings))

        # The order's event log (orderflow history) says which events a redrive caused; the action is recorded.
        engine.projections.catch_up()
        order, events = order_as_of(engine.app, engine.app.get_order(KEY).id)
        log = describe(order, events, RepairsView(engine.db.is_postgres).redriven(engine.db, KEY))["event_log"]
        assert log and all(e["redrive"].startswith("redriven by ops-anna (entry ") for e in log if e)
        [action] = repair.actions(engine.db)
        assert (action.kind, action.user, action.scope, len(action.detail["sent"])) == (
            "redrive", "ops-anna", {"group": "misrouted"}, 4)
    finally:
        consumer.close()
        engine.close()


def test_redriving_twice_applies_once_and_a_second_redrive_finds_nothing_open(settings):
    messages = story()
    publish(settings, messages, misrouted={KEY})
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: len(found) == 4)
        # Two back-office users at once: both sends are on the topic before the engine reads either.
        first = repair.redrive(settings, repair.Scope(order=KEY), user="ops-anna")
        second = repair.redrive(settings, repair.Scope(order=KEY), user="ops-bob")
        assert len(first.sent) == len(second.sent) == 4
        drain(consumer, settings, lambda found: all(e.state == "redriven" for e in found))
        assert event_names(engine.app) == applied_in_event_time(messages)
        assert {e.attempts for e in entries(settings)} == {2}, "the second copy of each record changed nothing"

        with pytest.raises(repair.RepairRefused, match="no open entry"):
            repair.redrive(settings, repair.Scope(order=KEY), user="ops-anna")
        [one] = [e for e in entries(settings) if e.message_type == "customer_comment"]
        again = repair.redrive(settings, repair.Scope(entry_id=one.id), user="ops-anna")
        assert again.sent == () and again.skipped == (repair.Skipped(one.id, "it is redriven"),)
    finally:
        consumer.close()
        engine.close()


def test_a_redriven_message_whose_order_never_comes_waits_and_expires_as_any_other(settings):
    comment = envelope("customer_comment", 2)  # its order does not exist, and never will: parked, then expired
    publish(settings, [comment], misrouted={KEY})
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: len(found) == 1)
        [entry] = entries(settings)
        repair.redrive(settings, repair.Scope(entry_id=entry.id), user="ops-anna")
        # It reaches its partition now, and waits for its order; a later message past its deadline expires it.
        late = envelope("order_placed", 0, key="SF-OTHER", occurred_at=comment.occurred_at + timedelta(hours=2))
        publish(settings, [late])
        drain(consumer, settings, lambda found: any(e.group == "unknown order past its deadline" for e in found))
        redriven, expired = entries(settings, message_type="customer_comment")
        assert (redriven.state, redriven.closed_reason.split(" from ")[0]) == ("redriven", "redrive parked")
        assert (expired.state, expired.group) == ("open", "unknown order past its deadline")
    finally:
        consumer.close()
        engine.close()


def test_an_undecodable_record_keeps_its_headers_and_fails_again_when_redriven_unchanged(settings):
    good = envelope("order_placed", 0)
    headers = good.headers()
    topic = settings.topics.storefront
    publish(settings, [], raw=[(topic, partition_for(KEY.encode(), PARTITIONS), KEY.encode(), b"\xc1not msgpack",
                                headers)])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: len(found) == 1)
        [entry] = entries(settings)
        assert (entry.message_id, entry.message_type) == (good.message_id, "order_placed")
        repair.redrive(settings, repair.Scope(entry_id=entry.id), user="ops-anna")
        drain(consumer, settings, lambda found: found[0].attempts == 2)
        [entry] = entries(settings)
        assert entry.state == "open" and entry.error == "BadEnvelope"
        assert len(read_topic(settings.kafka_bootstrap, settings.topics.dead_letters, 2)) == 2

        # Edit and redrive: the corrected payload, checked first; the original stays in the journal.
        refused = {name: value for name, value in good.payload.items() if name != "lines"}
        ends = end_offsets(settings)
        with pytest.raises(repair.RepairRefused, match="edited payload is refused: .*/lines: is required"):
            repair.redrive(settings, repair.Scope(entry_id=entry.id), user="ops-anna", payload=refused)
        assert end_offsets(settings) == ends, "nothing was sent"
        assert entries(settings)[0].edits == 0, "nothing was recorded"

        repair.redrive(settings, repair.Scope(entry_id=entry.id), user="ops-anna", payload=good.payload)
        drain(consumer, settings, lambda found: found[0].state == "redriven")
        assert engine.app.get_order(KEY).storefront_reference == KEY
        stored = engine.app.repository.get(RejectedMessage.create_id(topic, entry.partition, entry.offset))
        [edit] = stored.edits
        assert edit["user"] == "ops-anna" and edit["digest_before"] != edit["digest_after"]
        events = list(engine.app.repository.event_store.get(stored.id))
        assert base64.b64decode(events[0].value_b64) == b"\xc1not msgpack", "the original is kept"
        assert msgpack.unpackb(base64.b64decode(stored.value_b64)) == good.payload
    finally:
        consumer.close()
        engine.close()


def test_a_discarded_entry_is_never_applied_even_with_its_redrive_on_the_topic_and_can_be_reopened(settings):
    publish(settings, [envelope("order_placed", 0)], misrouted={KEY})
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: len(found) == 1)
        [entry] = entries(settings)
        repair.redrive(settings, repair.Scope(entry_id=entry.id), user="ops-anna")  # on the topic, not read yet
        with pytest.raises(repair.RepairRefused, match="needs a reason"):
            repair.discard(settings, entry.id, user="ops-bob", reason=" ")
        change = repair.discard(settings, entry.id, user="ops-bob", reason="test order, never meant to be")
        assert change.state == "discarded"
        ends = end_offsets(settings)
        consume_until(consumer, lambda: all(engine.app.position(n) == e - 1 for n, e in ends.items() if e))
        with pytest.raises(Exception, match="no web order"):
            engine.app.get_order(KEY)
        [entry] = entries(settings, state="discarded")
        assert (entry.closed_by, entry.closed_reason) == ("ops-bob", "test order, never meant to be")

        repair.reopen(settings, entry.id, user="ops-bob")
        repair.redrive(settings, repair.Scope(entry_id=entry.id), user="ops-bob")
        drain(consumer, settings, lambda found: found[0].state == "redriven")
        assert engine.app.get_order(KEY).storefront_reference == KEY
    finally:
        consumer.close()
        engine.close()


def test_a_redrive_sent_while_no_engine_runs_is_applied_by_the_next_one(settings):
    messages = story()
    publish(settings, messages, misrouted={KEY})
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: len(found) == 4)
    finally:
        consumer.close()
        engine.close()
    repair.redrive(settings, repair.Scope(order=KEY), user="ops-anna")  # no engine runs
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: all(e.state == "redriven" for e in found))
        assert event_names(engine.app) == applied_in_event_time(messages)
    finally:
        consumer.close()
        engine.close()


def test_a_redrive_of_many_entries_during_a_backlog_with_two_engines_one_sigkilled_applies_each_once(
        settings, tmp_path):
    messages = [e for _, e in traffic(40, seed=5)]
    orders = sorted({e.key for e in messages if e.message_type == "order_placed"})
    misrouted = set(orders[::3])
    setup = [e for e in messages if e.message_type == "order_taking_configured"]
    publish(settings, setup)
    publish(settings, [e for e in messages if e not in setup], misrouted=misrouted)
    refused = sum(e.key in misrouted for e in messages)
    first = EngineProcess(settings, tmp_path / "first.log")
    second = EngineProcess(settings, tmp_path / "second.log")
    try:
        wait_until(lambda: len(entries(settings, group="misrouted")) == refused, 180, "the misrouted entries",
                   alive=lambda: first.popen.poll() is None)
        # More traffic is on the way (a backlog) while the redrive is sent; then one engine dies mid-way.
        more = [replace(e, key=e.key.replace("SF-", "SF-B-")) for _, e in traffic(10, seed=6)
                if e.message_type != "order_taking_configured"]
        publish(settings, more)
        outcome = repair.redrive(settings, repair.Scope(group="misrouted"), user="ops-anna")
        assert len(outcome.sent) == refused
        first.kill()
        third = EngineProcess(settings, tmp_path / "third.log")
        try:
            wait_until(lambda: all(e.state == "redriven" for e in entries(settings, group="misrouted")), 240,
                       "every misrouted entry redriven", alive=lambda: second.popen.poll() is None)
        finally:
            third.kill()
    finally:
        first.kill()
        second.kill()
    app = Orders(settings.database_url)
    try:
        for key in misrouted:
            mine = sorted((e for e in messages if e.key == key), key=lambda e: e.occurred_at)
            clean = Orders()
            for each in setup + mine:
                apply(clean, each)
            assert ([type(e).__name__ for e in app.repository.event_store.get(app.get_order(key).id)]
                    == [type(e).__name__ for e in clean.repository.event_store.get(clean.get_order(key).id)]), key
    finally:
        app.close()


def parked(settings):
    """Every parked message's row: ``(message id, released_at is set, outcome, detail)``."""
    engine = start_engine(settings)
    try:
        engine.projections.catch_up()
        table = ParkedMessagesView(engine.db.is_postgres).table("parked_messages")
        return engine.db.query(f"SELECT message_id, released_at IS NOT NULL, outcome, detail FROM {table}")
    finally:
        engine.close()


def sales_documents(app):
    return event_names(app).count("LinkedToSalesDocument")


def test_a_parked_message_released_once_its_order_exists_is_applied_once_by_the_engine(settings):
    document = envelope("sales_document_created", 1)  # an ERP message before its order: parked
    publish(settings, [document])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: len(parked(settings)) == 1)
        refused = repair.release_parked(settings, document.message_id, user="ops-anna")
        assert refused.sent == () and "is not there yet" in refused.skipped[0].why
    finally:
        consumer.close()
        engine.close()
    app = Orders(settings.database_url)  # the order exists now, and no engine has seen it come
    try:
        apply(app, envelope("order_placed", 0))
    finally:
        app.close()
    released = orderflow(settings, "parked", "release", "--order", KEY, "--json")  # no engine runs
    assert released.returncode == 0, released.stderr
    assert [json.loads(line)["message"] for line in released.stdout.splitlines()] == [document.message_id]
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: parked(settings)[0][1], timeout=90)
        [(_, _, result, detail)] = parked(settings)
        assert result == "applied" and detail.startswith("released by ops-anna (action ")
        assert sales_documents(engine.app) == 1
        engine.projections.catch_up()
        assert [(a.kind, a.user, a.scope) for a in repair.actions(engine.db)][0] == (
            "release", "ops-anna", {"order": KEY})
    finally:
        consumer.close()
        engine.close()


def test_a_rejected_parked_message_is_never_applied_even_when_its_order_arrives(settings):
    document = envelope("sales_document_created", 1)
    publish(settings, [document])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: len(parked(settings)) == 1)
        with pytest.raises(repair.RepairRefused, match="needs a reason"):
            repair.reject_parked(settings, document.message_id, user="ops-bob", reason="")
        repair.reject_parked(settings, document.message_id, user="ops-bob", reason="a test document")
        consume_until(consumer, lambda: parked(settings)[0][1], timeout=90)
        publish(settings, [envelope("order_placed", 0)])
        consume_until(consumer, lambda: engine.app.position(f"{settings.topics.storefront}:"
                                                            f"{partition_for(KEY.encode(), PARTITIONS)}") == 1)
        assert sales_documents(engine.app) == 0 and event_names(engine.app)
        [(_, _, result, detail)] = parked(settings)
        assert result == "rejected" and detail.endswith("): a test document") and "ops-bob" in detail
    finally:
        consumer.close()
        engine.close()


def orderflow(settings, *argv, user="ops-anna"):
    """Run ``orderflow ARGV`` as the back office would, as ``user`` (ORDERFLOW_USER)."""
    env = {**os.environ, **settings.where(), "ORDERFLOW_USER": user}
    return subprocess.run([sys.executable, "-m", "orderflow.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_back_office_puts_the_misrouted_orders_right_with_the_orderflow_errors_command(settings, tmp_path):
    publish(settings, story(), misrouted={KEY})
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: len(found) == 4)
        listed = orderflow(settings, "errors", "--json")
        [group] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert (group["group"], group["count"], group["open"]) == ("misrouted", 4, 4)

        ends = end_offsets(settings)
        dry = orderflow(settings, "errors", "redrive", "--group", "misrouted", "--dry-run", "--json")
        assert dry.returncode == 0 and [json.loads(line)["sent"] for line in dry.stdout.splitlines()] == [
            "would send"] * 4
        assert end_offsets(settings) == ends, "a dry run sends nothing"

        [placed] = entries(settings, message_type="order_placed")
        bad = tmp_path / "payload.json"
        bad.write_text(json.dumps({"customer_type": "B2C - Registered"}))
        refused = orderflow(settings, "errors", "redrive", placed.id, "--payload", str(bad))
        assert refused.returncode == 1 and "edited payload is refused" in refused.stderr
        nobody = orderflow(settings, "errors", "discard", placed.id, "--reason", "x", user="")
        assert nobody.returncode == 1 and "acting back-office user" in nobody.stderr

        sent = orderflow(settings, "errors", "redrive", "--group", "misrouted")
        assert sent.returncode == 0, sent.stderr
        drain(consumer, settings, lambda found: all(e.state == "redriven" for e in found))
        history = json.loads(orderflow(settings, "history", KEY, "--json").stdout)
        assert all(e["redrive"].startswith("redriven by ops-anna") for e in history["event_log"] if e)
        actions = [json.loads(line) for line in orderflow(settings, "errors", "actions", "--json").stdout.splitlines()]
        assert [(a["kind"], a["user"]) for a in actions] == [("redrive", "ops-anna")]
    finally:
        consumer.close()
        engine.close()


def test_a_redrive_command_sigkilled_while_sending_loses_nothing_and_doubles_nothing_when_run_again(settings):
    messages = [e for _, e in traffic(30, seed=8)]
    setup = [e for e in messages if e.message_type == "order_taking_configured"]
    misrouted = {e.key for e in messages if e.message_type == "order_placed"}
    publish(settings, setup)
    publish(settings, [e for e in messages if e not in setup], misrouted=misrouted)
    refused = sum(e.key in misrouted for e in messages)
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        drain(consumer, settings, lambda found: len(found) == refused)
        env = {**os.environ, **settings.where(), "ORDERFLOW_USER": "ops-anna"}
        killed = subprocess.Popen([sys.executable, "-m", "orderflow.cli", "errors", "redrive", "--group", "misrouted"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sent_any = lambda: sum(end_offsets(settings).values()) > len(messages)  # noqa: E731
        wait_until(lambda: sent_any() or killed.poll() is not None, 60, "the redrive to start sending")
        killed.kill()  # SIGKILL: whatever it sent is on the topic, the rest is not
        killed.wait(10)
        ends = end_offsets(settings)
        consume_until(consumer, lambda: all(engine.app.position(n) == e - 1 for n, e in ends.items() if e))
        again = orderflow(settings, "errors", "redrive", "--group", "misrouted")
        assert again.returncode == 0 or "no open entry" in again.stderr
        drain(consumer, settings, lambda found: all(e.state == "redriven" for e in found))
        for key in misrouted:
            clean = Orders()
            for each in setup + sorted((e for e in messages if e.key == key), key=lambda e: e.occurred_at):
                apply(clean, each)
            names = [type(e).__name__ for e in engine.app.repository.event_store.get(engine.app.get_order(key).id)]
            assert names == [type(e).__name__ for e in clean.repository.event_store.get(clean.get_order(key).id)], key
    finally:
        consumer.close()
        engine.close()
