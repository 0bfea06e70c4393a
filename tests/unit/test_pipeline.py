"""The inbound pipeline without Kafka: same traffic, same history, whatever the timing of arrival.

Records are delivered to :class:`~orderflow.consumers.pipeline.Pipeline` the
way a consumer polls them: partition by partition, in chunks of any size, in
any interleaving, with "caught up" true only once a partition's backlog has
been read. Whatever Hypothesis draws, every order must end with the history
it has when its messages are applied one by one in event-time order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import TopicPartition

from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.consumers.dead_letters import Rejection, Source
from orderflow.consumers.handlers import TOPIC_OF, apply
from orderflow.consumers.pipeline import Pipeline, partition_for, position_name
from orderflow.contract.envelope import Envelope
from orderflow.contract.schemas import Contract
from orderflow.settings import Topics
from orderflow.traffic.simulate import traffic
from tests.messages import KEY, envelope

TOPICS = Topics()
PARTITIONS = 2
CONTRACT = Contract()
MESSAGES = [e for _, e in traffic(8, seed=11)]


def topic_of(message: Envelope) -> str:
    return TOPICS.storefront if TOPIC_OF[message.message_type] == "storefront" else TOPICS.erp


def as_records(messages: list[Envelope], partitions: int = PARTITIONS) -> dict[TopicPartition, list[Source]]:
    """The messages as a Java or kafka-python producer would have put them on the two topics."""
    log: dict[TopicPartition, list[Source]] = defaultdict(list)
    for message in messages:
        tp = TopicPartition(topic_of(message), partition_for(message.key.encode(), partitions))
        log[tp].append(Source(tp.topic, tp.partition, len(log[tp]), message.key.encode(), message.value(), message.headers()))
    return log


class Harness:
    """A pipeline fed like a consumer that owns every partition of both topics."""

    def __init__(self, app: Orders, log: dict[TopicPartition, list[Source]], batch_size: int = 500,
                 park_deadline: timedelta = timedelta(hours=1), partitions: int = PARTITIONS):
        self.app, self.log, self.partitions = app, log, partitions
        self.pipeline = Pipeline(app, CONTRACT, TOPICS, batch_size, grace=timedelta(0), max_idle=timedelta(hours=1),
                                 park_deadline=park_deadline, clock=lambda: MESSAGES[0].occurred_at)
        self.rejections: list[Rejection] = []
        self.start()

    def start(self) -> None:
        """(Re)assign every partition; read on from the positions the database recorded."""
        every = [TopicPartition(t, p) for t in TOPICS.inbound for p in range(self.partitions)]
        recorded = self.pipeline.assign(every, self.partitions, now=0.0)
        self.read = {tp: 0 if recorded[tp] is None else recorded[tp] + 1 for tp in every}

    def deliver(self, tp: TopicPartition, count: int) -> None:
        records = self.log.get(tp, [])[self.read[tp]:self.read[tp] + count]
        self.read[tp] += len(records)
        self.pipeline.add({tp: records}, now=0.0)

    def caught_up(self, tp: TopicPartition) -> bool:
        return self.read[tp] >= len(self.log.get(tp, []))

    def run(self) -> None:
        """Apply whatever the merge releases now."""
        while step := self.pipeline.step(self.caught_up, 0.0, self.rejections.extend):
            assert step.released

    def drain(self, chunk: int = 1000) -> None:
        for tp in list(self.read):
            self.deliver(tp, chunk)
        self.run()


def history(app: Orders, key: str) -> list[tuple[str, dict[str, Any]]]:
    """An order's events, without the wall-clock time the library stamps on each."""
    events = app.repository.event_store.get(WebOrder.create_id(key))
    return [(type(e).__qualname__, {k: v for k, v in vars(e).items() if k != "timestamp"}) for e in events]


@cache
def reference() -> dict[str, list]:
    """Each order's history when every message is applied in event-time order, storefront first on a tie."""
    app = Orders("memory:")
    for message in sorted(MESSAGES, key=lambda m: (m.occurred_at, topic_of(m) != TOPICS.storefront)):
        apply(app, message)
    return {key: history(app, key) for key in {m.key for m in MESSAGES if m.message_type == "order_placed"}}


def histories(app: Orders) -> dict[str, list]:
    return {key: history(app, key) for key in reference()}


deliveries = st.lists(
    st.tuples(st.sampled_from(sorted(as_records(MESSAGES))), st.integers(1, 12)), min_size=0, max_size=60
)


@settings(max_examples=40, deadline=None)
@given(deliveries=deliveries, batch_size=st.integers(1, 40))
def test_any_arrival_of_a_backlog_gives_every_order_the_history_of_event_time_order(deliveries, batch_size):
    app = Orders("memory:")
    harness = Harness(app, as_records(MESSAGES), batch_size)
    for tp, count in deliveries:
        harness.deliver(tp, count)
        harness.run()
    harness.drain()
    assert harness.rejections == []
    assert histories(app) == reference()


@settings(max_examples=25, deadline=None)
@given(deliveries=deliveries, batch_size=st.integers(1, 40), crash_after=st.integers(0, 60))
def test_a_crash_resumes_the_merge_where_the_database_says_and_changes_no_history(deliveries, batch_size, crash_after):
    app = Orders("memory:")
    harness = Harness(app, as_records(MESSAGES), batch_size)
    for n, (tp, count) in enumerate(deliveries):
        if n == crash_after:
            harness = Harness(app, harness.log, batch_size)  # all in memory is lost; the database remains
        harness.deliver(tp, count)
        harness.run()
    harness.drain()
    assert harness.rejections == []
    assert histories(app) == reference()


def test_the_storefront_and_the_erp_backlogs_in_either_order_give_the_same_histories():
    log = as_records(MESSAGES)
    for first in TOPICS.inbound:
        app = Orders("memory:")
        harness = Harness(app, log)
        for tp in [tp for tp in log if tp.topic == first] + [tp for tp in log if tp.topic != first]:
            harness.deliver(tp, 1000)
        harness.run()
        assert harness.rejections == []
        assert histories(app) == reference()


def run_messages(*messages: Envelope, **options: Any) -> tuple[Orders, Harness]:
    app = Orders("memory:")
    harness = Harness(app, as_records(list(messages)), **options)
    harness.drain()
    return app, harness


def test_an_erp_message_stamped_before_its_order_by_a_slower_clock_waits_for_the_order_then_applies():
    app, harness = run_messages(envelope("sales_document_created", 0), envelope("order_placed", 1))
    assert harness.rejections == []
    assert [name for name, _ in history(app, KEY)][-1].endswith("LinkedToSalesDocument")


def test_a_message_whose_order_never_arrives_is_rejected_once_event_time_passes_its_deadline():
    other = envelope("order_placed", 90, key="SF-OTHER")
    app, harness = run_messages(envelope("customer_comment", 0), other, park_deadline=timedelta(minutes=60))
    [rejection] = harness.rejections
    assert rejection.message_type == "customer_comment"
    assert f"order {KEY} never arrived" in rejection.reason
    assert rejection.error == "OrderNeverArrived"


def test_a_parked_message_within_its_deadline_still_waits():
    app, harness = run_messages(envelope("customer_comment", 0), envelope("order_placed", 30, key="SF-OTHER"),
                                park_deadline=timedelta(minutes=60))
    assert harness.rejections == []
    assert [m["message_type"] for lot in harness.pipeline.parking._lots.values() for m in lot.pending.values()] == [
        "customer_comment"]


def test_a_shipment_before_its_release_is_rejected_at_once_and_the_next_valid_message_applies():
    app, harness = run_messages(
        envelope("order_placed", 0), envelope("sales_document_created", 1), envelope("quote_made_into_order", 2),
        envelope("shipment_posted", 3), envelope("customer_comment", 4),
    )
    [rejection] = harness.rejections
    assert rejection.message_type == "shipment_posted"
    assert "IllegalTransition" in rejection.reason or "not released" in rejection.reason
    assert len(app.get_order(KEY).comments) == 1


def test_a_quote_made_into_an_order_after_it_expired_is_rejected_at_once_with_its_reason():
    expired = {**envelope("sales_document_created").payload, "expires_on": "2026-11-02"}
    app, harness = run_messages(
        envelope("order_placed", 0), envelope("sales_document_created", 1, payload=expired),
        envelope("quote_made_into_order", 3 * 24 * 60), envelope("customer_comment", 3 * 24 * 60 + 1),
    )
    [rejection] = harness.rejections
    assert rejection.message_type == "quote_made_into_order"
    assert "QuoteExpired" in rejection.reason
    assert len(app.get_order(KEY).comments) == 1


def test_an_order_placed_on_the_erp_topic_is_refused_naming_the_topic_it_belongs_on():
    placed = envelope("order_placed")
    app = Orders("memory:")
    tp = TopicPartition(TOPICS.erp, partition_for(KEY.encode(), PARTITIONS))
    log = {tp: [Source(tp.topic, tp.partition, 0, KEY.encode(), placed.value(), placed.headers())]}
    harness = Harness(app, log)
    harness.drain()
    [rejection] = harness.rejections
    assert rejection.error == "Misrouted"
    assert f"order_placed belongs on the storefront topic ({TOPICS.storefront}), not on {TOPICS.erp}" in rejection.reason


def test_a_record_on_a_partition_its_key_does_not_hash_to_is_refused_naming_the_producer_setting():
    placed = envelope("order_placed")
    wrong = 1 - partition_for(KEY.encode(), PARTITIONS)
    tp = TopicPartition(TOPICS.storefront, wrong)
    app = Orders("memory:")
    harness = Harness(app, {tp: [Source(tp.topic, wrong, 0, KEY.encode(), placed.value(), placed.headers())]})
    harness.drain()
    [rejection] = harness.rejections
    assert rejection.error == "Misrouted"
    assert "partitioner=murmur2_random" in rejection.reason


def test_the_merge_waits_for_a_partition_that_is_behind_and_goes_on_once_it_is_caught_up():
    placed, linked = envelope("order_placed", 0), envelope("sales_document_created", 1)
    app = Orders("memory:")
    harness = Harness(app, as_records([placed, linked]))
    erp = next(tp for tp in harness.log if tp.topic == TOPICS.erp)
    harness.deliver(erp, 10)
    harness.run()
    assert app.position(position_name(*erp)) is None  # the storefront partition is behind: nothing released
    harness.drain()
    assert app.position(position_name(*erp)) == 0
    assert harness.rejections == []


def test_positions_of_both_topics_are_recorded_with_the_effects():
    app, harness = run_messages(envelope("order_placed", 0), envelope("sales_document_created", 1))
    assert {name: app.position(name) for name in (position_name(*tp) for tp in harness.log)} == {
        position_name(*tp): 0 for tp in harness.log}


def test_orders_kept_in_memory_between_batches_stay_equal_to_the_store_after_a_refused_command():
    app, harness = run_messages(
        envelope("order_placed", 0), envelope("sales_document_created", 1), envelope("quote_made_into_order", 2),
        envelope("shipment_posted", 3), envelope("customer_comment", 4), batch_size=1,
    )
    assert [r.message_type for r in harness.rejections] == ["shipment_posted"]
    assert app.is_cached(WebOrder.create_id(KEY))
    with app.batch():
        in_memory = app.get_order(KEY)
    stored = app.repository.get(WebOrder.create_id(KEY))
    assert (in_memory.version, len(in_memory.comments)) == (stored.version, len(stored.comments)) == (stored.version, 1)
