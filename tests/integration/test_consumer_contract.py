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


def test_a_parked_message_waits_while_the_other_topic_may_still_rescue_it_then_is_dead_lettered(settings):
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        # A shipment before any release is illegal, unless something older from the storefront is still on its way.
        publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("shipment_posted", 5)])
        publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 0)])
        consume_until(consumer, lambda: has_order(engine) and parked(engine) is not None and len(parked(engine)) == 1)
        for _ in range(3):
            consumer.poll_once(timeout_ms=200)
        assert [m["message_type"] for m in parked(engine)] == ["shipment_posted"]
        # A newer storefront message: nothing older can come from there any more, so the shipment is rejected.
        publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("customer_comment", 6)])
        consume_until(consumer, lambda: parked(engine) == [])
        engine.projections.catch_up()
        [view] = [v for v in engine.projections.views if v.name == "error_journal"]
        [rejected] = view.recent(engine.db)
        assert rejected["message_type"] == "shipment_posted"
        assert "IllegalTransition" in rejected["reason"] or "NotLinked" in rejected["reason"]
        assert len(engine.app.get_order(KEY).comments) == 1
    finally:
        consumer.close()
        engine.close()


def test_a_shop_confirmation_that_overtakes_the_customers_waits_for_it(settings):
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("order_taking_configured", 0)])
        consume_until(consumer, lambda: engine.app.get_setup().version > 1)
        publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("order_placed", 1)])
        consume_until(consumer, lambda: has_order(engine))
        publish(settings.kafka_bootstrap, settings.topics.erp, [envelope("order_confirmed_by_shop", 3)])
        consume_until(consumer, lambda: parked(engine) is not None and len(parked(engine)) == 1)
        publish(settings.kafka_bootstrap, settings.topics.storefront, [envelope("customer_confirmation", 2)])
        consume_until(consumer, lambda: parked(engine) == [])
        assert str(engine.app.get_order(KEY).confirmation) == "Confirmed"
    finally:
        consumer.close()
        engine.close()


def has_order(engine):
    try:
        engine.app.get_order(KEY)
    except Exception:  # noqa: BLE001 - not placed yet
        return False
    return True


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
