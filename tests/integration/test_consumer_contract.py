"""The inbound consumer's promises beyond the happy path, on real Kafka and real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest
from kafka import KafkaAdminClient

from orderflow.aggregates.inbox import ParkingLot
from orderflow.bootstrap import bootstrap
from orderflow.consumers.inbound import NotCoPartitioned
from orderflow.consumers.pipeline import partition_for
from orderflow.kafka import ensure_topics
from tests.integration.engine import consume_until, isolated_settings, publish, read_topic, start_engine
from tests.messages import KEY, envelope


@pytest.fixture
def settings(database_url, kafka_broker):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    start_engine(settings).close()
    return settings


def parked(engine) -> list[str]:
    """The message types parked in the event store, as the consumer keeps them."""
    lot_id = ParkingLot.create_id(engine.settings.topics.storefront, partition_for(KEY.encode(), 4))
    try:
        lot = engine.app.repository.get(lot_id)
    except Exception:  # noqa: BLE001 - nothing parked yet
        return []
    return [m["message_type"] for m in lot.pending.values()]


def waiting(engine):
    """What the back office sees waiting, in the parked_messages read model."""
    engine.projections.catch_up()
    [view] = [v for v in engine.projections.views if v.name == "parked_messages"]
    return view.waiting(engine.db)


def rejected(engine):
    engine.projections.catch_up()
    [view] = [v for v in engine.projections.views if v.name == "error_journal"]
    return view.recent(engine.db)


def has_order(engine):
    try:
        engine.app.get_order(KEY)
    except Exception:  # noqa: BLE001 - not placed yet
        return False
    return True


def test_erp_messages_for_an_order_not_seen_yet_are_parked_with_a_reason_and_a_deadline_then_applied(settings):
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        publish(settings.kafka_bootstrap, settings.topics.erp,
                [envelope("sales_document_created", 1), envelope("quote_made_into_order", 2)])
        consume_until(consumer, lambda: len(parked(engine)) == 2)
        rows = waiting(engine)
        assert [r["message_type"] for r in rows] == ["sales_document_created", "quote_made_into_order"]
        assert all(f"order {KEY} not seen yet" in r["reason"] and r["deadline"] for r in rows)

        publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 0)])
        consume_until(consumer, lambda: parked(engine) == [])
        assert waiting(engine) == []
        order = engine.app.get_order(KEY)
        assert (str(order.sales_document.type), order.sales_document.no) == ("Order", "SO-1001")
        assert str(order.workflow_status.status) == "Reservation"
    finally:
        consumer.close()
        engine.close()


def test_a_shipment_before_its_release_is_rejected_at_once_and_the_orders_next_message_applies(settings):
    publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 0)])
    publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("shipment_posted", 5)])
    publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("customer_comment", 6)])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: has_order(engine) and len(engine.app.get_order(KEY).comments) == 1)
        [row] = rejected(engine)
        assert row["message_type"] == "shipment_posted"
        assert parked(engine) == []
        [dead] = read_topic(settings.kafka_bootstrap, settings.topics.dead_letters, expected=1)
        assert dict(dead.headers)["dlq_reason"].decode() == row["reason"]
    finally:
        consumer.close()
        engine.close()


def test_a_shop_confirmation_published_before_the_customers_earlier_one_is_applied_after_it(settings):
    # The ERP's backlog is there first; the storefront's messages happened earlier.
    publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("order_taking_configured", 0),
                                                            envelope("order_confirmed_by_shop", 3)])
    publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 1),
                                                                   envelope("customer_confirmation", 2)])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: has_order(engine) and str(engine.app.get_order(KEY).confirmation) == "Confirmed")
        assert rejected(engine) == []
    finally:
        consumer.close()
        engine.close()


def test_a_parked_message_past_its_deadline_is_rejected_as_never_arrived(settings):
    settings = replace(settings, park_deadline_seconds=600)
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("sales_document_created", 1)])
        consume_until(consumer, lambda: parked(engine) == ["sales_document_created"])
        # Another order, eleven minutes of event time later: the parked message's ten minutes are over.
        publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 12, key="SF-OTHER")])
        consume_until(consumer, lambda: parked(engine) == [])
        [row] = rejected(engine)
        assert row["message_type"] == "sales_document_created"
        assert f"order {KEY} never arrived" in row["reason"]
    finally:
        consumer.close()
        engine.close()


def test_parked_messages_survive_a_crash_and_apply_when_their_order_arrives(settings):
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("sales_document_created", 1)])
    consume_until(consumer, lambda: parked(engine) == ["sales_document_created"])
    consumer.consumer.close(autocommit=False)  # gone without a word: only the database remembers
    engine.close()

    publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 0)])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: has_order(engine) and engine.app.get_order(KEY).sales_document is not None)
        assert parked(engine) == []
        assert rejected(engine) == []
    finally:
        consumer.close()
        engine.close()


def test_an_order_placed_on_the_erp_topic_is_dead_lettered_naming_the_topic_it_belongs_on(settings):
    publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("order_placed", 0)])
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        consume_until(consumer, lambda: bool(rejected(engine)))
        [row] = rejected(engine)
        assert f"belongs on the storefront topic ({settings.topics.storefront})" in row["reason"]
    finally:
        consumer.close()
        engine.close()


def test_a_setup_message_is_applied_at_once_not_parked_as_if_it_waited_for_an_order(settings):
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("order_taking_configured", 0)])
        consume_until(consumer, lambda: engine.app.get_setup().version > 1)
        assert waiting(engine) == []
    finally:
        consumer.close()
        engine.close()


def test_inbound_topics_with_different_partition_counts_are_refused_saying_what_differs(database_url, kafka_broker):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.create_topics({settings.topics.storefront: {"num_partitions": 4, "replication_factor": 1},
                             settings.topics.erp: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
    finally:
        admin.close()
    differs = f"{settings.topics.storefront} has 4, {settings.topics.erp} has 3"
    with pytest.raises(NotCoPartitioned, match=differs):
        ensure_topics(settings)  # at start, as `orderflow run` checks the topics
    engine = bootstrap(settings)
    try:
        with pytest.raises(NotCoPartitioned, match=differs):
            engine.inbound_consumer()  # and the consumer again, before it joins the group
    finally:
        engine.close()
