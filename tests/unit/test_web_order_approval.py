"""Customer Approval and the sales manager's approval of a quote for conversion."""

from __future__ import annotations

import pytest

from orderflow.aggregates.errors import (
    ApprovalNotPending,
    IllegalTransition,
    NotAuthorized,
    NotLinked,
    VersionNotCurrent,
)
from orderflow.aggregates.values import Approval, ApprovalState, SalesDocumentType
from orderflow.application.orders import Orders
from tests.strategies import CLERK, CUSTOMER, MANAGER, SALES_AGENT, WAREHOUSE, at, b2b_payload, fresh_orders, line

NEW_LINES = [line("1000", "2", "10.00"), line("2000", "3", "4.00")]


def placed(document_type: str = "Quote", **order_taking: object) -> Orders:
    app = fresh_orders()
    if order_taking:
        app.configure_order_taking("B2B Customer", MANAGER, at(0), **order_taking)
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    app.link_sales_document("SF-1", document_type, "DOC-1", CLERK, at(1))
    return app


def approval(app: Orders) -> Approval:
    return app.get_order("SF-1").approval


def test_approval_is_blank_until_asked() -> None:
    assert approval(placed()) == Approval()
    assert approval(placed()).state is ApprovalState.NONE


def test_approval_is_requested_from_a_quote_to_place_the_order() -> None:
    app = placed("Quote")
    app.request_approval("SF-1", CLERK, at(2))

    assert approval(app) == Approval(ApprovalState.PENDING, SalesDocumentType.QUOTE, requested_version=1)


def test_approval_is_requested_from_an_order_to_accept_its_changes() -> None:
    app = placed("Order")
    app.refresh_from_sales_document("SF-1", NEW_LINES, CLERK, at(2), request_approval=True)

    assert approval(app) == Approval(ApprovalState.PENDING, SalesDocumentType.ORDER, requested_version=2)


def test_approval_needs_a_linked_sales_document() -> None:
    app = fresh_orders()
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))

    with pytest.raises(NotLinked):
        app.request_approval("SF-1", CLERK, at(1))


def test_the_customer_approves_a_pending_request_for_the_version_they_saw() -> None:
    app = placed()
    app.request_approval("SF-1", CLERK, at(2))
    app.approve("SF-1", CUSTOMER, at(3), version=1)

    assert approval(app).state is ApprovalState.APPROVED
    assert approval(app).approved_version == 1
    assert approval(app).covers(1)


def test_the_customer_may_only_approve_a_pending_request() -> None:
    app = placed()

    with pytest.raises(ApprovalNotPending):
        app.approve("SF-1", CUSTOMER, at(2))
    app.request_approval("SF-1", CLERK, at(2))
    app.approve("SF-1", CUSTOMER, at(3))
    with pytest.raises(ApprovalNotPending):
        app.approve("SF-1", CUSTOMER, at(4))


def test_the_customer_cannot_approve_a_version_that_is_no_longer_current() -> None:
    app = placed()
    app.request_approval("SF-1", CLERK, at(2))
    app.refresh_from_sales_document("SF-1", NEW_LINES, CLERK, at(3))

    with pytest.raises(VersionNotCurrent):
        app.approve("SF-1", CUSTOMER, at(4), version=1)


def test_the_customer_comments_while_approval_stays_pending() -> None:
    app = placed()
    app.request_approval("SF-1", CLERK, at(2))
    app.add_comment("SF-1", "Can you do 5% off?", CUSTOMER, at(3))

    assert approval(app).state is ApprovalState.PENDING
    assert app.get_order("SF-1").comments[-1].text == "Can you do 5% off?"


def test_the_customer_cannot_reject_only_the_back_office_does() -> None:
    app = placed()
    app.request_approval("SF-1", CLERK, at(2))

    with pytest.raises(NotAuthorized):
        app.set_approval("SF-1", "Rejected", CUSTOMER, at(3))
    app.set_approval("SF-1", "Rejected", MANAGER, at(3), "customer declined by phone")
    assert approval(app).state is ApprovalState.REJECTED


def test_setting_approval_by_hand_needs_a_permitted_role() -> None:
    app = placed()

    with pytest.raises(NotAuthorized):
        app.set_approval("SF-1", "Approved", CLERK, at(3))


def test_the_back_office_may_set_any_state_by_hand() -> None:
    app = placed()
    for state in ("Approved", "Pending", "", "Rejected"):
        app.set_approval("SF-1", state, MANAGER, at(3))
        assert approval(app).state == state


def test_setting_the_state_approval_already_has_is_refused() -> None:
    app = placed()

    with pytest.raises(IllegalTransition):
        app.set_approval("SF-1", "", MANAGER, at(3))


def test_the_back_office_approves_by_hand_not_as_the_customer() -> None:
    app = placed()
    app.request_approval("SF-1", CLERK, at(2))

    with pytest.raises(NotAuthorized):
        app.approve("SF-1", MANAGER, at(3))


def test_an_approval_does_not_cover_a_later_version() -> None:
    app = placed()
    app.request_approval("SF-1", CLERK, at(2))
    app.approve("SF-1", CUSTOMER, at(3))
    app.refresh_from_sales_document("SF-1", NEW_LINES, CLERK, at(4))

    order = app.get_order("SF-1")
    assert order.approval.covers(1)
    assert not order.approval.covers(order.current_version.number)


def test_a_customer_edit_to_an_approved_quote_voids_its_approval_for_conversion() -> None:
    app = placed(quote_promotable_by_default=False)
    app.approve_quote_for_conversion("SF-1", MANAGER, at(2))
    app.refresh_from_sales_document("SF-1", NEW_LINES, CUSTOMER, at(3))

    assert not app.get_order("SF-1").quote_approved_for_conversion


def test_an_edit_by_a_sales_agent_keeps_the_quote_approved() -> None:
    app = placed(quote_promotable_by_default=False)
    app.approve_quote_for_conversion("SF-1", MANAGER, at(2))
    app.refresh_from_sales_document("SF-1", NEW_LINES, SALES_AGENT, at(3))
    app.refresh_from_sales_document("SF-1", NEW_LINES, CLERK, at(4))

    assert app.get_order("SF-1").quote_approved_for_conversion


def test_an_edit_to_a_quote_promotable_by_default_voids_nothing() -> None:
    app = placed(quote_promotable_by_default=True)
    app.approve_quote_for_conversion("SF-1", MANAGER, at(2))
    app.refresh_from_sales_document("SF-1", NEW_LINES, CUSTOMER, at(3))

    assert app.get_order("SF-1").quote_approved_for_conversion


def test_only_permitted_roles_approve_a_quote_for_conversion() -> None:
    app = placed()

    with pytest.raises(NotAuthorized):
        app.approve_quote_for_conversion("SF-1", WAREHOUSE, at(2))
    with pytest.raises(NotAuthorized):
        app.approve_quote_for_conversion("SF-1", CUSTOMER, at(2))
