"""Amount mismatch, payment-gateway events and the paid / unpaid flags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow.aggregates.errors import InvalidCommand
from orderflow.aggregates.values import AmountMismatch, AuthorizationResult
from orderflow.application.orders import Orders
from tests.strategies import CLERK, CUSTOMER, MANAGER, at, b2b_payload, fresh_orders, guest_payload, line


@pytest.fixture
def app() -> Orders:
    orders = fresh_orders()
    orders.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    orders.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(1))
    return orders


def event_names(app: Orders) -> list[str]:
    order = app.get_order("SF-1")
    return [type(e).__name__ for e in app.repository.event_store.get(order.id)]


def test_a_released_order_whose_total_differs_is_flagged_with_both_amounts(app: Orders) -> None:
    app.release_sales_document("SF-1", Decimal("36.50"), CLERK, at(2))

    mismatch = app.get_order("SF-1").amount_mismatch
    assert mismatch == AmountMismatch(web_order_total=Decimal("35.00"), sales_document_total=Decimal("36.50"))
    assert mismatch.difference == Decimal("1.50")
    assert event_names(app)[-1] == "AmountMismatchFlagged"


def test_a_released_quote_is_checked_too() -> None:
    app = fresh_orders()
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    app.link_sales_document("SF-1", "Quote", "SQ-1", CLERK, at(1))
    app.release_sales_document("SF-1", Decimal("30.00"), CLERK, at(2))

    assert app.get_order("SF-1").amount_mismatch is not None


def test_a_matching_release_flags_nothing(app: Orders) -> None:
    app.release_sales_document("SF-1", Decimal("35.00"), CLERK, at(2))

    assert app.get_order("SF-1").amount_mismatch is None


def test_a_mismatch_is_resolved_by_a_matching_sales_document(app: Orders) -> None:
    app.release_sales_document("SF-1", Decimal("36.50"), CLERK, at(2))
    app.release_sales_document("SF-1", Decimal("35.00"), CLERK, at(3))

    assert app.get_order("SF-1").amount_mismatch is None
    assert event_names(app)[-1] == "AmountMismatchResolved"


def test_a_mismatch_is_resolved_by_refreshing_the_web_order(app: Orders) -> None:
    app.release_sales_document("SF-1", Decimal("36.50"), CLERK, at(2))
    app.refresh_from_sales_document("SF-1", [line("1000", "2", "10.00"), line("2000", "3", "5.50")], CLERK, at(3))

    order = app.get_order("SF-1")
    assert order.amount_mismatch is None
    assert order.current_total == Decimal("36.50")


def test_a_refresh_may_also_ask_the_customer_to_approve(app: Orders) -> None:
    app.release_sales_document("SF-1", Decimal("36.50"), CLERK, at(2))
    app.refresh_from_sales_document("SF-1", [line("1000", "2", "10.00"), line("2000", "3", "5.50")], CLERK, at(3), True)

    assert event_names(app)[-3:] == ["RefreshedFromSalesDocument", "AmountMismatchResolved", "ApprovalRequested"]


def test_a_payment_gateway_event_is_recorded_with_its_transaction_and_amount(app: Orders) -> None:
    app.record_payment_event("SF-1", "OK", "TX-9", Decimal("35.00"), CUSTOMER, at(2), "captured")

    order = app.get_order("SF-1")
    event = order.payment_events[-1]
    assert (event.result, event.transaction_id, event.amount, event.status_info) == (
        AuthorizationResult.OK,
        "TX-9",
        Decimal("35.00"),
        "captured",
    )
    assert order.amount_paid == Decimal("35.00")


def test_a_failed_authorization_pays_nothing(app: Orders) -> None:
    app.record_payment_event("SF-1", "FAILURE", "TX-9", Decimal("35.00"), CUSTOMER, at(2), "card declined")

    order = app.get_order("SF-1")
    assert order.payment_events[-1].result is AuthorizationResult.FAILURE
    assert order.amount_paid == Decimal("0.00")


def test_a_later_event_of_the_same_transaction_replaces_its_amount(app: Orders) -> None:
    app.record_payment_event("SF-1", "OK", "TX-9", Decimal("35.00"), CUSTOMER, at(2))
    app.record_payment_event("SF-1", "OK", "TX-9", Decimal("20.00"), CUSTOMER, at(3))
    app.record_payment_event("SF-1", "OK", "TX-10", Decimal("15.00"), CUSTOMER, at(4))
    assert app.get_order("SF-1").amount_paid == Decimal("35.00")

    app.record_payment_event("SF-1", "FAILURE", "TX-10", Decimal("15.00"), CUSTOMER, at(5))
    assert app.get_order("SF-1").amount_paid == Decimal("20.00")


def test_a_payment_amount_is_a_non_negative_decimal(app: Orders) -> None:
    with pytest.raises(InvalidCommand):
        app.record_payment_event("SF-1", "OK", "TX-9", Decimal("-1"), CUSTOMER, at(2))
    with pytest.raises(InvalidCommand):
        app.record_payment_event("SF-1", "OK", "TX-9", 35.0, CUSTOMER, at(2))  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand):
        app.record_payment_event("SF-1", "MAYBE", "TX-9", Decimal("1"), CUSTOMER, at(2))


def test_paying_less_than_the_current_total_is_underpaid(app: Orders) -> None:
    app.record_payment_event("SF-1", "OK", "TX-9", Decimal("30.00"), CUSTOMER, at(2))

    order = app.get_order("SF-1")
    assert (order.underpaid, order.overpaid) == (True, False)


def test_the_amount_paid_is_checked_again_after_a_refresh(app: Orders) -> None:
    app.record_payment_event("SF-1", "OK", "TX-9", Decimal("35.00"), CUSTOMER, at(2))
    assert not app.get_order("SF-1").overpaid

    app.refresh_from_sales_document("SF-1", [line("1000", "2", "10.00")], CLERK, at(3))
    order = app.get_order("SF-1")
    assert (order.underpaid, order.overpaid) == (False, True)


def test_a_placed_order_counts_the_amount_paid_at_checkout() -> None:
    app = fresh_orders()
    app.place_order("SF-1", guest_payload(), CUSTOMER, at(0))

    order = app.get_order("SF-1")
    assert order.amount_paid == Decimal("35.00")
    assert not (order.underpaid or order.overpaid or order.unpaid)


def test_unpaid_orders_of_customers_who_must_pay_by_card_are_flagged() -> None:
    app = fresh_orders()
    app.require_card_payment("C-100", True, MANAGER, at(0))
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(1))
    app.place_order("SF-2", b2b_payload(sell_to_customer_no="C-200"), CUSTOMER, at(1))

    assert app.get_order("SF-1").unpaid
    assert not app.get_order("SF-2").unpaid
    app.record_payment_event("SF-1", "OK", "TX-1", Decimal("35.00"), CUSTOMER, at(2))
    assert not app.get_order("SF-1").unpaid
