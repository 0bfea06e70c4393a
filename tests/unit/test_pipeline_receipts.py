"""Deduplication by receipt rows (``message_receipts``), in memory and on SQLite.

A message published again (a producer's retry: the same message id at a later
offset) changes nothing; a batch that is not recorded leaves no receipt, so
its messages apply when the consumer starts over; a store whose receipts are
still ``Receipt`` aggregates (written before receipts were rows) is honoured.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.aggregates.inbox import Receipt
from orderflow.application.orders import Orders
from orderflow.application.positions import RECEIPTS
from orderflow.consumers.pipeline import payload_digest
from tests.messages import KEY, envelope
from tests.unit.test_pipeline import MESSAGES, Harness, as_records, histories, reference

BACKENDS = ["memory", "sqlite"]


def store(kind: str, tmp_path) -> Orders:
    return Orders("memory:" if kind == "memory" else f"sqlite:///{tmp_path}/orders-{random.random()}.db")


def receipt_count(app: Orders) -> int:
    recorder = app.recorder
    if not hasattr(recorder, "datastore"):
        return len(recorder.tables.get(RECEIPTS, {}))
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT count(*) AS n FROM {RECEIPTS}")
        return cursor.fetchall()[0]["n"]


def with_duplicates(picks: list[int]) -> list:
    """The traffic with the picked messages published again after the rest (same key, so same partition)."""
    return MESSAGES + [MESSAGES[i % len(MESSAGES)] for i in picks]


@pytest.mark.parametrize("kind", BACKENDS)
@settings(max_examples=15, deadline=None)
@given(picks=st.lists(st.integers(0, 10_000), max_size=20), batch_size=st.integers(1, 40),
       crash_after=st.integers(0, 30))
def test_messages_published_again_change_nothing_whatever_the_batches_and_a_crash(kind, tmp_path_factory, picks,
                                                                                    batch_size, crash_after):
    app = store(kind, tmp_path_factory.mktemp("db"))
    log = as_records(with_duplicates(picks))
    harness = Harness(app, log, batch_size)
    for n, tp in enumerate(sorted(log) * 8):
        if n == crash_after:
            harness = Harness(app, log, batch_size)  # all in memory is lost; the database remains
        harness.deliver(tp, 7)
        harness.run()
    harness.drain()
    assert harness.rejections == []
    assert histories(app) == reference()
    assert receipt_count(app) == len(MESSAGES)


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_batch_that_is_not_recorded_leaves_no_receipt_and_applies_when_the_consumer_starts_over(kind, tmp_path):
    app = store(kind, tmp_path)
    messages = [envelope("order_placed", 0), envelope("sales_document_created", 1), envelope("quote_made_into_order", 2),
                envelope("shipment_posted", 3), envelope("customer_comment", 4)]  # the shipment is refused at once
    log = as_records(messages)
    harness = Harness(app, log)
    for tp in log:
        harness.deliver(tp, 1000)

    def dead_letter_topic_down(_rejections) -> None:
        raise RuntimeError("the dead-letter topic is down")

    with pytest.raises(RuntimeError):
        harness.pipeline.step(harness.caught_up, 0.0, dead_letter_topic_down)
    assert receipt_count(app) == 0 and all(app.position(f"{tp.topic}:{tp.partition}") is None for tp in log)
    harness = Harness(app, log)  # start over from the database
    harness.drain()
    assert [r.message_type for r in harness.rejections] == ["shipment_posted"]
    assert receipt_count(app) == 4
    assert len(app.get_order(KEY).comments) == 1


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_second_receipt_for_one_message_is_a_conflict_and_records_nothing(kind, tmp_path):
    app = store(kind, tmp_path)
    at = datetime.now(UTC)
    with app.batch():
        app.receipt("m-1", "order_placed", "d", "t:0@0", at)
    with pytest.raises(IntegrityError):
        with app.batch():
            app.receipt("m-2", "order_placed", "d", "t:0@1", at)
            app.receipt("m-1", "order_placed", "d", "t:0@2", at)
    assert receipt_count(app) == 1
    assert app.receipts(["m-1", "m-2"]) == {"m-1": ("d", "t:0@0")}


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_message_id_used_again_for_another_payload_is_rejected_naming_where_it_was_first_seen(kind, tmp_path):
    app = store(kind, tmp_path)
    placed = envelope("order_placed", 0)
    other = envelope("customer_comment", 1, message_id=placed.message_id)
    harness = Harness(app, as_records([placed, other]))
    harness.drain()
    assert [r.message_type for r in harness.rejections] == ["customer_comment"]
    assert "already used for a different payload" in harness.rejections[0].reason


def test_a_receipt_recorded_as_an_aggregate_by_an_older_version_still_makes_the_message_a_duplicate(tmp_path):
    url = f"sqlite:///{tmp_path}/legacy.db"
    placed = envelope("order_placed", 0)
    old = Orders(url)
    old.save(Receipt(placed.message_id, placed.message_type, payload_digest(placed), topic="t", partition=0, offset=0,
                     at=placed.occurred_at))
    app = Orders(url)
    assert app.legacy_receipts
    harness = Harness(app, as_records([placed]))
    harness.drain()
    assert harness.rejections == []
    with pytest.raises(Exception):  # noqa: B017 - not placed: the message was applied before, by the old version
        app.get_order(KEY)
    assert receipt_count(app) == 0



def test_the_receipts_of_buffered_records_stay_known_however_many_messages_pass(monkeypatch, tmp_path):
    """No query per message: every record's receipt is looked up with its poll, and the bounded memory of
    receipts drops the oldest, never those of records still buffered (before: all were dropped at 20,000,
    and each buffered record then cost a transaction of its own)."""
    import orderflow.consumers.pipeline as pipeline_module
    from orderflow.traffic.simulate import traffic

    monkeypatch.setattr(pipeline_module, "CACHED_RECEIPTS", 100)
    messages = [e for _, e in traffic(120, seed=5)]
    app = Orders(f"sqlite:///{tmp_path / 'store.db'}")
    asked = []
    real = app.receipts
    monkeypatch.setattr(app, "receipts", lambda ids: asked.append(ids) or real(ids))
    harness = Harness(app, as_records(messages), batch_size=50)
    for tp in list(harness.read):  # the whole backlog buffered before anything is released
        harness.deliver(tp, 10_000)
    harness.run()
    assert harness.rejections == [] and not len(harness.pipeline.merge)
    assert asked == [], f"{len(asked)} receipts asked for one by one"
    for tp in list(harness.read):  # and the memory of receipts is bounded again by the next poll
        harness.deliver(tp, 1)
    assert len(harness.pipeline._receipts) <= 100
