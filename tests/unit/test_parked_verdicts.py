"""``orderflow parked release|reject``, as the pipeline takes it: a verdict record through the inbound path.

The records are the ones :mod:`orderflow.application.repair` builds; the pipeline is fed as in test_pipeline.
"""

from __future__ import annotations

from uuid import uuid4

from kafka import TopicPartition

from orderflow.aggregates.inbox import ParkingLot
from orderflow.application.orders import Orders
from orderflow.application.repair import _verdict_record
from orderflow.consumers.dead_letters import Source
from orderflow.consumers.handlers import apply
from tests.messages import KEY, envelope
from tests.unit.test_pipeline import PARTITIONS, TOPICS, Harness, as_records, history

DOCUMENT = envelope("sales_document_created", 1)  # an ERP message: the kind that is parked
PLACED = envelope("order_placed", 0)


def parked(harness: Harness) -> dict[str, dict]:
    return {message_id: message for lot in harness.pipeline.parking._lots.values()
            for message_id, message in lot.pending.items()}


def send_verdict(harness: Harness, reason: str | None = None, user: str = "ops-anna") -> None:
    """Put the verdict on DOCUMENT (release, or reject with ``reason``) on the storefront topic, as repair does."""
    lot = harness.app.repository.get(ParkingLot.create_id(TOPICS.storefront, DOCUMENT_PARTITION))
    record = Source.from_dict(lot.pending[DOCUMENT.message_id])
    sent, key, value, headers = _verdict_record(DOCUMENT.message_id, record, TOPICS, lambda topic: range(PARTITIONS),
                                                uuid4(), user, reason)
    tp = TopicPartition(sent.topic, sent.partition)
    harness.log.setdefault(tp, []).append(Source(tp.topic, tp.partition, len(harness.log.get(tp, [])), key, value,
                                                 headers))


DOCUMENT_PARTITION = next(iter(as_records([DOCUMENT]))).partition


def documents(app: Orders) -> int:
    return sum(name.endswith("LinkedToSalesDocument") for name, _ in history(app, KEY))


def parked_document() -> Harness:
    app = Orders("memory:")
    harness = Harness(app, as_records([DOCUMENT]))
    harness.drain()
    assert list(parked(harness)) == [DOCUMENT.message_id]
    return harness


def released_detail(app: Orders) -> list[tuple[str, str]]:
    lot = app.repository.get(ParkingLot.create_id(TOPICS.storefront, DOCUMENT_PARTITION))
    return [(e.outcome, e.detail) for e in app.repository.event_store.get(lot.id) if hasattr(e, "outcome")]


def test_a_released_message_whose_order_now_exists_is_applied_once_and_records_who_released_it():
    harness = parked_document()
    apply(harness.app, PLACED)  # the order exists now; the engine that parked the document is gone
    send_verdict(harness)
    harness = Harness(harness.app, harness.log)  # the next engine: the document is due, and the release too
    harness.drain()
    assert harness.rejections == [] and parked(harness) == {}
    assert documents(harness.app) == 1
    [(outcome, detail)] = released_detail(harness.app)
    assert outcome == "applied" and detail.startswith("released by ops-anna (action ")


def test_a_released_message_whose_order_is_still_unknown_keeps_waiting():
    harness = parked_document()
    send_verdict(harness)
    harness.drain()
    assert list(parked(harness)) == [DOCUMENT.message_id] and harness.rejections == []


def test_a_rejected_message_is_never_applied_even_when_its_order_arrives_afterwards():
    harness = parked_document()
    send_verdict(harness, reason="sent by mistake")
    harness.drain()
    assert parked(harness) == {}
    tp = next(iter(as_records([PLACED])))
    harness.log.setdefault(tp, []).append(Source(tp.topic, tp.partition, len(harness.log.get(tp, [])),
                                                 PLACED.key.encode(), PLACED.value(), PLACED.headers()))
    harness.drain()
    assert documents(harness.app) == 0 and harness.app.get_order(KEY)
    [(outcome, detail)] = released_detail(harness.app)
    assert outcome == "rejected" and detail.endswith(": sent by mistake") and "ops-anna" in detail


def test_a_verdict_on_a_message_no_longer_parked_changes_nothing():
    harness = parked_document()
    send_verdict(harness, reason="first")
    send_verdict(harness)  # a release after the rejection, both on the topic
    harness.drain()
    assert [outcome for outcome, _ in released_detail(harness.app)] == ["rejected"]
    assert harness.rejections == []
