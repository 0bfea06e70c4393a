"""Placing web orders through the application: numbering, references, refusal."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from decimal import Decimal

import pytest

from orderflow.aggregates.errors import DuplicateOrder, InvalidCommand, UnknownOrder
from orderflow.aggregates.values import ConfirmationState, CustomerType, WorkflowStatus
from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from tests.strategies import CUSTOMER, at, b2b_payload, fresh_orders, line


@pytest.fixture
def app() -> Orders:
    return fresh_orders()


def test_a_placed_order_gets_the_next_web_order_no_and_keeps_the_storefront_reference(app: Orders) -> None:
    first = app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    app.place_order("SF-2", b2b_payload(), CUSTOMER, at(1))

    order = app.get_order("SF-1")
    assert order.id == first == WebOrder.create_id("SF-1")
    assert order.web_order_no == "WO0000000001"
    assert app.get_order("SF-2").web_order_no == "WO0000000002"
    assert order.storefront_reference == "SF-1"


def test_a_placed_order_keeps_every_field_the_customer_sent(app: Orders) -> None:
    app.place_order("SF-1", b2b_payload(customer_comment="ring twice"), CUSTOMER, at(0))

    order = app.get_order("SF-1")
    assert order.customer_type is CustomerType.B2B
    assert (order.sell_to_customer_no, order.sell_to_customer_name) == ("C-100", "Acme Ltd")
    assert order.order_date.isoformat() == "2024-03-01"
    assert order.draft.customer_comment == "ring twice"
    assert order.shipping.ship_to_code == "MAIN"
    assert order.shipping.requested_delivery_date.isoformat() == "2024-03-08"
    assert [(l.no, l.quantity, l.line_amount) for l in order.original_version.lines] == [
        ("1000", Decimal("2"), Decimal("20.00")),
        ("2000", Decimal("3"), Decimal("15.00")),
    ]
    assert order.current_total == Decimal("35.00")


def test_a_placed_order_is_received_and_awaits_the_shops_confirmation(app: Orders) -> None:
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))

    order = app.get_order("SF-1")
    assert order.workflow_status.status is WorkflowStatus.RECEIVED
    assert order.workflow_status.caused_by == "Placed"
    assert order.confirmation is ConfirmationState.AWAITING_SHOP
    assert not order.refused


def test_an_invalid_order_is_recorded_as_refused_with_its_reasons_not_dropped(app: Orders) -> None:
    bad_line = line(quantity="-1")
    order_id = app.place_order("SF-1", b2b_payload(bad_line), CUSTOMER, at(0))

    order = app.get_order("SF-1")
    assert order.id == order_id
    assert order.refused
    assert order.web_order_no == "WO0000000001"
    assert [r.code for r in order.refusal_reasons] == ["quantity_not_positive"]
    assert order.sell_to_customer_no == "C-100"
    assert order.refused_payload["lines"][0]["quantity"] == "-1"
    assert order.workflow_status is None


def test_a_payload_that_is_not_an_object_is_refused_too(app: Orders) -> None:
    app.place_order("SF-1", ["not", "an", "order"], CUSTOMER, at(0))  # type: ignore[arg-type]

    order = app.get_order("SF-1")
    assert [r.code for r in order.refusal_reasons] == ["not_object"]
    assert order.refused_payload == {"payload": ["not", "an", "order"]}


def test_a_storefront_reference_is_placed_only_once(app: Orders) -> None:
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))

    with pytest.raises(DuplicateOrder):
        app.place_order("SF-1", b2b_payload(), CUSTOMER, at(1))
    assert app.place_order("SF-2", b2b_payload(), CUSTOMER, at(2))
    assert app.get_order("SF-2").web_order_no == "WO0000000002"


def test_an_order_needs_a_storefront_reference(app: Orders) -> None:
    with pytest.raises(InvalidCommand):
        app.place_order("  ", b2b_payload(), CUSTOMER, at(0))


def test_getting_an_unknown_order_raises_unknown_order(app: Orders) -> None:
    with pytest.raises(UnknownOrder, match="SF-404"):
        app.get_order("SF-404")


def test_commands_on_an_unknown_order_raise_unknown_order(app: Orders) -> None:
    with pytest.raises(UnknownOrder):
        app.add_comment("SF-404", "hello", CUSTOMER, at(0))


def test_the_time_of_an_action_must_be_timezone_aware(app: Orders) -> None:
    with pytest.raises(InvalidCommand, match="timezone-aware"):
        app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0).replace(tzinfo=None))


def test_replaying_the_stored_events_rebuilds_an_equal_order(app: Orders) -> None:
    order_id = app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))

    assert app.repository.get(order_id) == app.get_order("SF-1")


def test_the_time_of_an_action_is_recorded_in_utc(app: Orders) -> None:
    local = at(0).astimezone(timezone(timedelta(hours=2)))
    app.place_order("SF-1", b2b_payload(), CUSTOMER, local)

    assert app.get_order("SF-1").workflow_status.at.tzinfo == UTC
    assert app.get_order("SF-1").workflow_status.at == at(0)
