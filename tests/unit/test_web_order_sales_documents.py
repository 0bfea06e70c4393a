"""Sales documents and the Workflow Status they drive: link, make order, release, ship, change by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from orderflow.aggregates.errors import (
    IllegalTransition,
    InvalidCommand,
    NotAuthorized,
    NotLinked,
    OrderRejected,
    OverShipment,
    QuoteConversionDisabled,
    QuoteExpired,
    QuoteNotApproved,
)
from orderflow.aggregates.values import SalesDocument, SalesDocumentType, WorkflowStatus
from orderflow.application.orders import Orders
from tests.strategies import CLERK, CUSTOMER, MANAGER, SALES_AGENT, WAREHOUSE, at, b2b_payload, fresh_orders


@pytest.fixture
def app() -> Orders:
    orders = fresh_orders()
    orders.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    return orders


def status(app: Orders) -> tuple[WorkflowStatus, str]:
    change = app.get_order("SF-1").workflow_status
    return change.status, change.caused_by


def quote_linked(app: Orders, expires_on: date | None = None) -> None:
    app.link_sales_document("SF-1", "Quote", "SQ-1", CLERK, at(1), expires_on)


def released_order(app: Orders) -> None:
    app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(1))
    app.release_sales_document("SF-1", Decimal("35.00"), CLERK, at(2))


def test_a_web_order_linked_to_a_quote_stays_received(app: Orders) -> None:
    quote_linked(app, date(2024, 3, 31))

    assert app.get_order("SF-1").sales_document == SalesDocument(SalesDocumentType.QUOTE, "SQ-1", date(2024, 3, 31))
    assert status(app) == (WorkflowStatus.RECEIVED, "Placed")


def test_a_web_order_linked_to_a_sales_order_is_in_reservation(app: Orders) -> None:
    app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(1))

    assert status(app) == (WorkflowStatus.RESERVATION, "LinkedToSalesDocument")


def test_making_an_order_from_the_linked_quote_moves_the_link_and_reserves(app: Orders) -> None:
    quote_linked(app)
    app.make_order_from_quote("SF-1", "SO-7", CLERK, at(2))

    assert app.get_order("SF-1").sales_document == SalesDocument(SalesDocumentType.ORDER, "SO-7")
    assert status(app) == (WorkflowStatus.RESERVATION, "MadeOrderFromQuote")


def test_an_order_never_goes_back_to_a_quote(app: Orders) -> None:
    app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(1))

    with pytest.raises(IllegalTransition, match="never goes back to a quote"):
        app.link_sales_document("SF-1", "Quote", "SQ-1", CLERK, at(2))
    with pytest.raises(IllegalTransition, match="not to a quote"):
        app.make_order_from_quote("SF-1", "SO-2", CLERK, at(2))


def test_a_linked_web_order_is_not_linked_again(app: Orders) -> None:
    quote_linked(app)

    with pytest.raises(IllegalTransition, match="make an order from the quote"):
        app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(2))


def test_only_a_quote_has_an_expiration_date(app: Orders) -> None:
    with pytest.raises(InvalidCommand):
        app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(1), date(2024, 4, 1))


def test_an_expired_quote_cannot_be_converted(app: Orders) -> None:
    quote_linked(app, expires_on=date(2024, 2, 29))

    with pytest.raises(QuoteExpired):
        app.make_order_from_quote("SF-1", "SO-1", CLERK, at(2))
    with pytest.raises(QuoteExpired):
        app.make_order_from_quote("SF-1", "SO-1", CUSTOMER, at(2))


def test_a_quote_is_convertible_until_the_end_of_its_expiration_date(app: Orders) -> None:
    quote_linked(app, expires_on=date(2024, 3, 1))
    app.make_order_from_quote("SF-1", "SO-1", CUSTOMER, at(2))

    assert app.get_order("SF-1").sales_document.type is SalesDocumentType.ORDER


def test_a_customer_cannot_convert_a_quote_when_conversion_is_disabled() -> None:
    app = fresh_orders()
    app.configure_order_taking("B2B Customer", MANAGER, at(0), quote_conversion="Disabled")
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    quote_linked(app)

    with pytest.raises(QuoteConversionDisabled):
        app.make_order_from_quote("SF-1", "SO-1", CUSTOMER, at(2))
    app.make_order_from_quote("SF-1", "SO-1", CLERK, at(2))  # the back office's Make Order still works


def test_a_quote_not_promotable_by_default_converts_only_after_a_sales_manager_approved_it() -> None:
    app = fresh_orders()
    app.configure_order_taking("B2B Customer", MANAGER, at(0), quote_promotable_by_default=False)
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    quote_linked(app)

    with pytest.raises(QuoteNotApproved):
        app.make_order_from_quote("SF-1", "SO-1", CUSTOMER, at(2))
    with pytest.raises(NotAuthorized):
        app.approve_quote_for_conversion("SF-1", WAREHOUSE, at(3))
    app.approve_quote_for_conversion("SF-1", MANAGER, at(3))
    app.make_order_from_quote("SF-1", "SO-1", CUSTOMER, at(4))

    assert status(app) == (WorkflowStatus.RESERVATION, "MadeOrderFromQuote")


def test_conversion_with_checkout_may_change_the_shipping_address(app: Orders) -> None:
    quote_linked(app)
    app.make_order_from_quote("SF-1", "SO-1", CUSTOMER, at(2), {"name": "Acme", "address": "2 New Rd", "city": "Shelbyville"})

    order = app.get_order("SF-1")
    assert order.shipping.address == "2 New Rd"
    assert order.draft.shipping.address == "1 Main St"


def test_unattended_conversion_keeps_the_preselected_shipping_address() -> None:
    app = fresh_orders()
    app.configure_order_taking("B2B Customer", MANAGER, at(0), quote_conversion="Unattended")
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    quote_linked(app)

    with pytest.raises(IllegalTransition, match="preselected"):
        app.make_order_from_quote("SF-1", "SO-1", CUSTOMER, at(2), {"address": "2 New Rd"})
    app.make_order_from_quote("SF-1", "SO-1", CUSTOMER, at(2))


def test_a_sales_agent_converts_like_the_customer(app: Orders) -> None:
    quote_linked(app)
    app.make_order_from_quote("SF-1", "SO-1", SALES_AGENT, at(2))

    assert app.get_order("SF-1").sales_document.no == "SO-1"


def test_releasing_the_sales_order_moves_the_order_to_the_warehouse(app: Orders) -> None:
    released_order(app)

    assert status(app) == (WorkflowStatus.WAREHOUSE, "SalesDocumentReleased")


def test_releasing_a_quote_leaves_the_order_received(app: Orders) -> None:
    quote_linked(app)
    app.release_sales_document("SF-1", Decimal("35.00"), CLERK, at(2))

    assert status(app) == (WorkflowStatus.RECEIVED, "Placed")


def test_nothing_is_released_before_a_sales_document_is_linked(app: Orders) -> None:
    with pytest.raises(NotLinked):
        app.release_sales_document("SF-1", Decimal("35.00"), CLERK, at(2))


def test_the_erp_actions_come_from_the_back_office(app: Orders) -> None:
    with pytest.raises(NotAuthorized):
        app.link_sales_document("SF-1", "Order", "SO-1", CUSTOMER, at(1))


def test_an_order_is_partially_shipped_until_every_quantity_is_shipped(app: Orders) -> None:
    released_order(app)
    app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(2)}], CLERK, at(3), "SH-1")
    assert status(app) == (WorkflowStatus.PARTIALLY_SHIPPED, "ShipmentPosted")

    app.post_shipment("SF-1", [{"line_no": 2, "quantity": Decimal(1)}], CLERK, at(4), "SH-2")
    assert status(app)[0] is WorkflowStatus.PARTIALLY_SHIPPED

    app.post_shipment("SF-1", [{"line_no": 2, "quantity": Decimal(2)}], CLERK, at(5), "SH-3")
    assert status(app) == (WorkflowStatus.SHIPPED, "ShipmentPosted")
    assert app.get_order("SF-1").shipped_quantities == {1: Decimal(2), 2: Decimal(3)}


def test_a_shipment_in_one_go_ships_the_order(app: Orders) -> None:
    released_order(app)
    app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(2)}, {"line_no": 2, "quantity": Decimal(3)}], CLERK, at(3))

    assert status(app)[0] is WorkflowStatus.SHIPPED


def test_no_line_ships_more_than_its_remaining_quantity(app: Orders) -> None:
    released_order(app)

    with pytest.raises(OverShipment):
        app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(3)}], CLERK, at(3))
    with pytest.raises(OverShipment):
        app.post_shipment("SF-1", [{"line_no": 9, "quantity": Decimal(1)}], CLERK, at(3))


def test_only_a_released_sales_order_ships(app: Orders) -> None:
    app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(1))

    with pytest.raises(IllegalTransition, match="released"):
        app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(1)}], CLERK, at(3))


def test_the_back_office_may_change_the_workflow_status_by_hand_and_it_is_logged(app: Orders) -> None:
    app.change_workflow_status("SF-1", "Rejected", MANAGER, at(1), "customer unknown")

    change = app.get_order("SF-1").workflow_status
    assert (change.status, change.caused_by, change.by) == (WorkflowStatus.REJECTED, "WorkflowStatusChanged", MANAGER)


def test_changing_the_workflow_status_by_hand_needs_a_permitted_role(app: Orders) -> None:
    with pytest.raises(NotAuthorized):
        app.change_workflow_status("SF-1", "Rejected", CLERK, at(1))
    with pytest.raises(NotAuthorized):
        app.change_workflow_status("SF-1", "Rejected", CUSTOMER, at(1))


def test_storefront_only_statuses_cannot_be_set(app: Orders) -> None:
    with pytest.raises(InvalidCommand):
        app.change_workflow_status("SF-1", "Draft", MANAGER, at(1))


def test_a_rejected_order_does_not_progress_until_changed_by_hand(app: Orders) -> None:
    app.change_workflow_status("SF-1", "Rejected", MANAGER, at(1))

    with pytest.raises(OrderRejected):
        app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(2))
    app.change_workflow_status("SF-1", "Received", MANAGER, at(3), "reopened")
    app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(4))
    assert status(app)[0] is WorkflowStatus.RESERVATION


def test_a_command_that_breaks_a_rule_raises_a_named_error_and_records_nothing(app: Orders) -> None:
    order_id = app.get_order("SF-1").id
    recorded = list(app.repository.event_store.get(order_id))

    with pytest.raises(NotLinked):
        app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(1)}], CLERK, at(1))
    with pytest.raises(NotAuthorized):
        app.change_workflow_status("SF-1", "Shipped", CUSTOMER, at(1))
    assert list(app.repository.event_store.get(order_id)) == recorded
