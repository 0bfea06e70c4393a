"""The inbound wire contract: every message type has a schema, a valid example and a handler that does what it says."""

from __future__ import annotations

import copy
import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderflow.aggregates.values import (
    ApprovalState,
    ConfirmationState,
    PrebookStatus,
    SalesDocumentType,
    WorkflowStatus,
)
from orderflow.application.orders import Orders
from orderflow.consumers.handlers import HANDLERS, TOPIC_OF, CannotApply, apply
from orderflow.contract.envelope import JSON, MSGPACK, decode
from orderflow.contract.schemas import SCHEMAS, Contract, ContractViolation
from orderflow.settings import Settings
from tests.messages import BEFORE, EXAMPLES, KEY, apply_before, envelope

CONTRACT = Contract(Settings().schema_dir)


def after(message_type: str):
    """A fresh application with ``message_type``'s example applied after its prerequisites; and the order."""
    app = Orders("memory:")
    minute = apply_before(app, message_type)
    apply(app, envelope(message_type, minute))
    return app, app.get_order(KEY)


# -- the contract is complete ------------------------------------------------------------------


def test_every_inbound_schema_has_a_handler_a_topic_an_example_and_prerequisites():
    schema_types = {f.name.split(".")[0] for f in (SCHEMAS / "inbound").iterdir() if f.name.endswith(".v1.json")}
    assert schema_types == set(HANDLERS) == set(TOPIC_OF) == set(EXAMPLES) == set(BEFORE)


@pytest.mark.parametrize("message_type", sorted(EXAMPLES))
def test_every_example_matches_its_schema(message_type):
    CONTRACT.validate(message_type, 1, EXAMPLES[message_type])


@pytest.mark.parametrize("message_type", sorted(set(EXAMPLES) - {"order_placed"}))
def test_every_message_but_order_placed_requires_an_actor(message_type):
    payload = {k: v for k, v in EXAMPLES[message_type].items() if k != "actor"}
    with pytest.raises(ContractViolation, match="/actor: is required"):
        CONTRACT.validate(message_type, 1, payload)


@pytest.mark.parametrize("message_type", sorted(EXAMPLES))
def test_every_schema_refuses_a_field_it_does_not_define(message_type):
    with pytest.raises(ContractViolation, match="/surprise: is not a field of this message"):
        CONTRACT.validate(message_type, 1, {**EXAMPLES[message_type], "surprise": 1})


def test_the_storefront_sends_customer_actions_and_the_erp_the_back_office_ones():
    storefront = {t for t, topic in TOPIC_OF.items() if topic == "storefront"}
    assert storefront == {
        "order_placed", "customer_comment", "customer_approval", "customer_confirmation",
        "payment_gateway_event", "prebook_line_checked_out",
    }


# -- a payload that breaks its schema names the field ---------------------------------------------


def test_a_shipped_quantity_as_a_float_is_a_violation_naming_the_line():
    payload = copy.deepcopy(EXAMPLES["shipment_posted"])
    payload["lines"][0]["quantity"] = 1.0
    with pytest.raises(ContractViolation, match="/lines/0/quantity: must be of type string"):
        CONTRACT.validate("shipment_posted", 1, payload)


def test_a_release_without_its_total_is_a_violation_naming_the_total():
    payload = {"actor": EXAMPLES["sales_document_released"]["actor"]}
    with pytest.raises(ContractViolation, match="/total: is required"):
        CONTRACT.validate("sales_document_released", 1, payload)


def test_a_sales_order_with_an_expiration_date_is_a_violation():
    payload = {**EXAMPLES["sales_document_created"], "document_type": "Order"}
    with pytest.raises(ContractViolation, match="sales_document_created"):
        CONTRACT.validate("sales_document_created", 1, payload)


def test_an_unknown_workflow_status_is_a_violation_naming_the_status():
    payload = {**EXAMPLES["workflow_status_changed"], "status": "Lost"}
    with pytest.raises(ContractViolation, match="/status: must be one of \"Received\""):
        CONTRACT.validate("workflow_status_changed", 1, payload)


def test_a_refreshed_line_without_its_line_no_is_a_violation():
    payload = copy.deepcopy(EXAMPLES["web_order_refreshed"])
    del payload["lines"][0]["line_no"]
    with pytest.raises(ContractViolation, match="/lines/0/line_no: is required"):
        CONTRACT.validate("web_order_refreshed", 1, payload)


def test_auto_confirm_together_with_customer_confirmation_is_a_violation():
    payload = {**EXAMPLES["order_taking_configured"], "auto_confirm": True}
    with pytest.raises(ContractViolation, match="order_taking_configured"):
        CONTRACT.validate("order_taking_configured", 1, payload)


# -- each message does what its command does -------------------------------------------------------


def test_order_placed_records_the_order_as_the_customer_placed_it():
    _, order = after("order_placed")
    assert not order.refused
    assert order.workflow_status.status is WorkflowStatus.RECEIVED
    assert order.current_total == Decimal("837.99")
    assert order.placed_by.user_no == "WA-00042"


def test_customer_comment_adds_the_customers_text_to_the_order():
    _, order = after("customer_comment")
    assert [(c.text, c.by.user_no) for c in order.comments] == [("Could the frame come in blue instead?", "WA-00042")]


def test_customer_approval_approves_the_pending_request():
    _, order = after("customer_approval")
    assert order.approval.state is ApprovalState.APPROVED
    assert order.approval.covers(1)


def test_customer_confirmation_moves_the_order_on_to_the_shops_confirmation():
    _, order = after("customer_confirmation")
    assert order.confirmation is ConfirmationState.AWAITING_SHOP


def test_payment_gateway_event_sets_the_amount_paid_of_its_transaction():
    _, order = after("payment_gateway_event")
    assert order.amount_paid == Decimal("837.99")
    assert order.payment_events[-1].transaction_id == "TX-000004711"


def test_prebook_line_checked_out_checks_out_the_prebook():
    _, order = after("prebook_line_checked_out")
    assert order.checked_out_lines == {2}
    assert order.prebook_status is PrebookStatus.CHECKED_OUT


def test_sales_document_created_links_the_quote_with_its_expiration_date():
    _, order = after("sales_document_created")
    assert (order.sales_document.type, order.sales_document.no) == (SalesDocumentType.QUOTE, "SQ-1001")
    assert order.sales_document.expires_on.isoformat() == "2026-12-02"
    assert order.workflow_status.status is WorkflowStatus.RECEIVED


def test_approval_requested_makes_the_customer_approval_pending():
    _, order = after("approval_requested")
    assert order.approval.state is ApprovalState.PENDING


def test_quote_approved_for_conversion_lets_the_customer_convert_the_quote():
    _, order = after("quote_approved_for_conversion")
    assert order.quote_approved_for_conversion


def test_quote_made_into_order_moves_the_link_to_the_sales_order():
    _, order = after("quote_made_into_order")
    assert (order.sales_document.type, order.sales_document.no) == (SalesDocumentType.ORDER, "SO-1001")
    assert order.workflow_status.status is WorkflowStatus.RESERVATION


def test_sales_document_released_sends_the_order_to_the_warehouse_and_flags_a_different_total():
    _, order = after("sales_document_released")
    assert order.workflow_status.status is WorkflowStatus.WAREHOUSE
    assert (order.amount_mismatch.web_order_total, order.amount_mismatch.sales_document_total) == (
        Decimal("837.99"), Decimal("847.99"),
    )


def test_web_order_refreshed_adds_a_version_resolves_the_mismatch_and_asks_for_approval():
    _, order = after("web_order_refreshed")
    assert len(order.versions) == 2
    assert order.current_total == Decimal("847.99")
    assert order.amount_mismatch is None
    assert order.approval.state is ApprovalState.PENDING


def test_shipment_posted_ships_the_quantities_of_the_lines():
    _, order = after("shipment_posted")
    assert order.shipped_quantities == {1: Decimal("1")}
    assert order.workflow_status.status is WorkflowStatus.PARTIALLY_SHIPPED


def test_workflow_status_changed_sets_the_status_by_hand():
    _, order = after("workflow_status_changed")
    assert order.workflow_status.status is WorkflowStatus.REJECTED
    assert order.workflow_status.by.user_no == "U-MGR-1"


def test_approval_set_rejects_the_approval_by_hand():
    _, order = after("approval_set")
    assert order.approval.state is ApprovalState.REJECTED


def test_order_confirmed_by_shop_confirms_the_order():
    _, order = after("order_confirmed_by_shop")
    assert order.confirmation is ConfirmationState.CONFIRMED


def test_order_realized_marks_the_confirmed_order_realized():
    _, order = after("order_realized")
    assert order.confirmation is ConfirmationState.REALIZED


def test_order_taking_configured_sets_the_terms_of_later_orders():
    app = Orders("memory:")
    apply(app, envelope("order_taking_configured"))
    apply(app, envelope("order_placed", 1))
    assert app.get_order(KEY).terms.customer_confirmation_required


# -- what cannot be applied is named ---------------------------------------------------------------


def test_a_shipment_before_the_release_cannot_be_applied_and_names_the_domain_error():
    app = Orders("memory:")
    minute = apply_before(app, "sales_document_released")
    with pytest.raises(CannotApply, match="^IllegalTransition: only a released sales order ships"):
        apply(app, envelope("shipment_posted", minute))


def test_a_message_about_an_order_never_placed_cannot_be_applied():
    with pytest.raises(CannotApply, match="^UnknownOrder"):
        apply(Orders("memory:"), envelope("customer_comment"))


def test_a_customer_cannot_reject_the_approval_by_hand():
    app = Orders("memory:")
    minute = apply_before(app, "approval_set")
    payload = {**EXAMPLES["approval_set"], "actor": EXAMPLES["customer_comment"]["actor"]}
    with pytest.raises(CannotApply, match="^NotAuthorized"):
        apply(app, envelope("approval_set", minute, payload))


def test_a_quote_made_into_an_order_after_it_expired_cannot_be_applied():
    app = Orders("memory:")
    apply_before(app, "quote_made_into_order")
    with pytest.raises(CannotApply, match="^QuoteExpired"):
        apply(app, envelope("quote_made_into_order", 60 * 24 * 40))


# -- the wire ---------------------------------------------------------------------------------


@given(
    message_type=st.sampled_from(sorted(EXAMPLES)),
    content_type=st.sampled_from([MSGPACK, JSON]),
    key=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(lambda k: k.strip()),
    minutes=st.integers(min_value=0, max_value=10**6),
)
def test_every_example_survives_either_encoding_and_still_matches_its_schema(message_type, content_type, key, minutes):
    sent = envelope(message_type, minutes, key=key, content_type=content_type)
    received = decode(sent.key.encode(), sent.value(), sent.headers())
    assert received == sent
    CONTRACT.validate(received.message_type, received.schema_version, received.payload)


# -- the docs ---------------------------------------------------------------------------------


def test_docs_messages_md_is_what_the_generator_writes_from_the_schemas_and_examples():
    generator = runpy.run_path(str(Path(__file__).parents[2] / "docs" / "generate_messages.py"))
    assert generator["TARGET"].read_text() == generator["render"](), "run docs/generate_messages.py"
