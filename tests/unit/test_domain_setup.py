"""Order-taking setup per customer type, card payment per customer, and roles."""

from __future__ import annotations

import pytest

from orderflow.aggregates.errors import ConflictingSetup, InvalidCommand, NotAuthorized
from orderflow.aggregates.order_taking_setup import (
    CheckoutOptions,
    Intake,
    OrderTaking,
    OrderTerms,
    Permission,
    QuoteConversion,
)
from orderflow.aggregates.values import CustomerType
from tests.strategies import CUSTOMER, MANAGER, at, b2b_payload, fresh_orders, guest_payload


def test_order_taking_defaults_until_configured() -> None:
    setup = fresh_orders().get_setup()

    assert setup.terms_for(CustomerType.B2B, "C-1") == OrderTerms()
    assert OrderTerms().intake is Intake.MANUAL
    assert OrderTerms().checkout_options is CheckoutOptions.BOTH


def test_order_taking_is_configured_per_customer_type() -> None:
    app = fresh_orders()
    app.configure_order_taking(
        "B2C - Not Registered",
        MANAGER,
        at(0),
        intake="Automatic to Sales Order",
        checkout_options="Place orders",
        quote_conversion="Unattended",
        quote_promotable_by_default=False,
        auto_confirm=True,
    )

    setup = app.get_setup()
    guest = setup.terms_for(CustomerType.B2C_NOT_REGISTERED, "B2C")
    assert (guest.intake, guest.checkout_options, guest.quote_conversion) == (
        Intake.TO_ORDER,
        CheckoutOptions.ORDERS,
        QuoteConversion.UNATTENDED,
    )
    assert (guest.quote_promotable_by_default, guest.auto_confirm) == (False, True)
    assert setup.terms_for(CustomerType.B2B, "C-1") == OrderTerms()


def test_a_placed_order_keeps_the_terms_it_was_placed_under() -> None:
    app = fresh_orders()
    app.configure_order_taking("B2B Customer", MANAGER, at(0), intake="Automatic to Sales Quote")
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(1))
    app.configure_order_taking("B2B Customer", MANAGER, at(2), intake="Manual")

    assert app.get_order("SF-1").terms.intake is Intake.TO_QUOTE


def test_a_request_the_checkout_options_do_not_offer_is_refused() -> None:
    app = fresh_orders()
    app.configure_order_taking("B2C - Not Registered", MANAGER, at(0), checkout_options="Place orders")
    app.place_order("SF-1", guest_payload(checkout_type="Quote"), CUSTOMER, at(1))

    assert [r.code for r in app.get_order("SF-1").refusal_reasons] == ["checkout_option_not_offered"]


def test_auto_confirm_and_customer_confirmation_exclude_each_other() -> None:
    with pytest.raises(ConflictingSetup):
        OrderTaking(auto_confirm=True, customer_confirmation_required=True)


def test_unknown_settings_and_values_are_refused() -> None:
    app = fresh_orders()

    with pytest.raises(InvalidCommand):
        app.configure_order_taking("B2B Customer", MANAGER, at(0), intake="Sometimes")
    with pytest.raises(InvalidCommand):
        app.configure_order_taking("B2B Customer", MANAGER, at(0), colour="red")
    with pytest.raises(InvalidCommand):
        app.configure_order_taking("B2B Customer", MANAGER, at(0), auto_confirm="yes")
    with pytest.raises(InvalidCommand):
        app.configure_order_taking("Retail", MANAGER, at(0))


def test_card_payment_is_required_per_customer() -> None:
    app = fresh_orders()
    app.require_card_payment("C-1", True, MANAGER, at(0))
    app.require_card_payment("C-2", True, MANAGER, at(0))
    app.require_card_payment("C-2", False, MANAGER, at(1))

    setup = app.get_setup()
    assert setup.terms_for(CustomerType.B2B, "C-1").require_card_payment
    assert not setup.terms_for(CustomerType.B2B, "C-2").require_card_payment


def test_the_roles_allowed_each_back_office_action_are_configured() -> None:
    app = fresh_orders()
    app.set_permission("Change Workflow Status", ["Admin", "Sales"], MANAGER, at(0))

    roles = app.get_setup().permissions.roles
    assert roles[Permission.CHANGE_WORKFLOW_STATUS] == {"Admin", "Sales"}
    assert roles[Permission.CONFIRM] >= {"Admin", "Sales", "Cashier", "Sales Allocation", "Sales Manager"}
    with pytest.raises(InvalidCommand):
        app.set_permission("Fly", ["Admin"], MANAGER, at(0))


def test_only_the_back_office_configures() -> None:
    with pytest.raises(NotAuthorized):
        fresh_orders().configure_order_taking("B2B Customer", CUSTOMER, at(0), intake="Manual")
