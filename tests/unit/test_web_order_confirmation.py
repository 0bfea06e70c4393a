"""Confirmation: customer, shop, realized; on the customer's behalf; auto-confirm upon checkout."""

from __future__ import annotations

import pytest

from orderflow.aggregates.errors import IllegalTransition, NotAuthorized
from orderflow.aggregates.values import ConfirmationState
from orderflow.application.orders import Orders
from tests.strategies import CLERK, CUSTOMER, MANAGER, WAREHOUSE, at, b2b_payload, fresh_orders


def placed(**order_taking: object) -> Orders:
    app = fresh_orders()
    if order_taking:
        app.configure_order_taking("B2B Customer", MANAGER, at(0), **order_taking)
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(1))
    return app


def confirmation(app: Orders) -> ConfirmationState | None:
    return app.get_order("SF-1").confirmation


def test_an_order_that_needs_the_customers_confirmation_waits_for_it() -> None:
    app = placed(customer_confirmation_required=True)

    assert confirmation(app) is ConfirmationState.AWAITING_CUSTOMER
    with pytest.raises(IllegalTransition):
        app.confirm_by_shop("SF-1", CLERK, at(2))


def test_the_confirmation_flow_runs_customer_then_shop_then_realized() -> None:
    app = placed(customer_confirmation_required=True)
    app.confirm_by_customer("SF-1", CUSTOMER, at(2))
    assert confirmation(app) is ConfirmationState.AWAITING_SHOP
    app.confirm_by_shop("SF-1", CLERK, at(3))
    assert confirmation(app) is ConfirmationState.CONFIRMED
    app.mark_realized("SF-1", CLERK, at(4))
    assert confirmation(app) is ConfirmationState.REALIZED


def test_a_back_office_user_may_confirm_on_the_customers_behalf() -> None:
    app = placed(customer_confirmation_required=True)
    app.confirm_by_customer("SF-1", CLERK, at(2))

    order = app.get_order("SF-1")
    events = list(app.repository.event_store.get(order.id))
    assert order.confirmation is ConfirmationState.AWAITING_SHOP
    assert events[-1].on_behalf is True


def test_confirming_needs_a_permitted_role() -> None:
    app = placed()

    with pytest.raises(NotAuthorized):
        app.confirm_by_shop("SF-1", WAREHOUSE, at(2))
    with pytest.raises(NotAuthorized):
        app.confirm_by_shop("SF-1", CUSTOMER, at(2))


def test_the_roles_that_may_confirm_come_from_configuration() -> None:
    app = placed()
    app.set_permission("Confirm", ["Warehouse"], MANAGER, at(2))

    with pytest.raises(NotAuthorized):
        app.confirm_by_shop("SF-1", CLERK, at(3))
    app.confirm_by_shop("SF-1", WAREHOUSE, at(3))
    assert confirmation(app) is ConfirmationState.CONFIRMED


def test_without_customer_confirmation_an_order_awaits_the_shop() -> None:
    app = placed()

    assert confirmation(app) is ConfirmationState.AWAITING_SHOP
    with pytest.raises(IllegalTransition):
        app.confirm_by_customer("SF-1", CUSTOMER, at(2))


def test_auto_confirm_upon_checkout_confirms_a_placed_order_at_once() -> None:
    app = placed(auto_confirm=True)

    order = app.get_order("SF-1")
    events = list(app.repository.event_store.get(order.id))
    assert order.confirmation is ConfirmationState.CONFIRMED
    assert [type(e).__name__ for e in events] == ["Placed", "ConfirmedByShop"]
    assert events[-1].auto is True


def test_only_a_confirmed_order_is_realized() -> None:
    app = placed()

    with pytest.raises(IllegalTransition):
        app.mark_realized("SF-1", CLERK, at(2))
    with pytest.raises(NotAuthorized):
        app.mark_realized("SF-1", CUSTOMER, at(2))
