"""The inbound consumer's promises beyond the happy path, on real Kafka and real PostgreSQL."""

from __future__ import annotations

import pytest

from orderflow.aggregates.inbox import ParkedMessages
from tests.integration.engine import consume_until, isolated_settings, publish, start_engine
from tests.messages import KEY, envelope


@pytest.fixture
def settings(database_url, kafka_broker):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    start_engine(settings).close()
    return settings


def parked(engine):
    try:
        return engine.app.repository.get(ParkedMessages.create_id(KEY)).pending
    except Exception:  # noqa: BLE001 - not parked yet
        return None


def waiting(engine):
    """What the back office sees waiting, in the parked_messages read model."""
    engine.projections.catch_up()
    [view] = [v for v in engine.projections.views if v.name == "parked_messages"]
    return view.waiting(engine.db)


def test_an_erp_message_that_overtakes_its_order_is_parked_and_applied_when_the_order_arrives(settings):
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        publish(settings.kafka_bootstrap, settings.topics.erp,
                [envelope("sales_document_created", 1), envelope("quote_made_into_order", 2)])
        consume_until(consumer, lambda: parked(engine) is not None and len(parked(engine)) == 2)
        assert [m["message_type"] for m in parked(engine)] == ["sales_document_created", "quote_made_into_order"]
        assert [r["message_type"] for r in waiting(engine)] == ["sales_document_created", "quote_made_into_order"]

        publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 0)])
        consume_until(consumer, lambda: parked(engine) == [])
        assert waiting(engine) == []
        order = engine.app.get_order(KEY)
        assert (str(order.sales_document.type), order.sales_document.no) == ("Order", "SO-1001")
        assert str(order.workflow_status.status) == "Reservation"
    finally:
        consumer.close()
        engine.close()


def test_a_parked_message_that_cannot_be_applied_once_its_order_arrives_is_dead_lettered_not_lost(settings):
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        # A shipment before any release is illegal: parked first, then rejected with its reason.
        publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("shipment_posted", 1)])
        consume_until(consumer, lambda: parked(engine) is not None and len(parked(engine)) == 1)
        publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 0)])
        consume_until(consumer, lambda: parked(engine) == [])
        journal = [n for n in engine.app.recorder.select_notifications(start=1, limit=1000) if n.topic.endswith("RejectedMessage.Rejected")]
        assert len(journal) == 1
        assert b"IllegalTransition" in journal[0].state or b"NotLinked" in journal[0].state
    finally:
        consumer.close()
        engine.close()
