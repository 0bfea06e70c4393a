"""One handler per inbound message type: read the payload, call one command.

Every handler names its order by the envelope's key (the storefront's
reference), its actor by the payload's ``actor`` and its time by the
envelope's ``occurred_at``. A handler raises :class:`CannotApply` (or lets a
domain error through, which :func:`apply` turns into one) when the message
cannot be applied; the consumer then dead-letters it with the reason and goes on.

Each message type belongs to one inbound topic: :data:`TOPIC_OF` says which
(``storefront`` or ``erp``), for the consumer's documentation and for producers
(``orderflow publish``, the simulator).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from orderflow.aggregates.errors import WebOrderError
from orderflow.aggregates.values import Actor
from orderflow.application.orders import Orders
from orderflow.contract.envelope import Envelope
from orderflow.settings import Topics

STOREFRONT = "storefront"
ERP = "erp"
SETUP_KEY = "order-taking-setup"


class CannotApply(Exception):
    """The message is well-formed but orderflow cannot apply it; the text says why."""


Handler = Callable[[Orders, Envelope], None]
HANDLERS: dict[str, Handler] = {}
NOT_ABOUT_AN_ORDER = frozenset({"order_taking_configured"})
"""Message types that change the setup, not a web order: they never wait for an order."""
TOPIC_OF: dict[str, str] = {}


def handles(message_type: str, topic: str) -> Callable[[Handler], Handler]:
    """Register the handler of ``message_type``, a message of the ``storefront`` or ``erp`` topic."""

    def register(handler: Handler) -> Handler:
        HANDLERS[message_type] = handler
        TOPIC_OF[message_type] = topic
        return handler

    return register


def apply(app: Orders, envelope: Envelope) -> None:
    """Call the handler of the envelope's type; domain errors become :class:`CannotApply`."""
    handler = HANDLERS.get(envelope.message_type)
    if handler is None:
        raise CannotApply(f"no handler for message type {envelope.message_type!r}")
    check_key(envelope)
    try:
        handler(app, envelope)
    except WebOrderError as error:
        raise CannotApply(f"{type(error).__name__}: {error}") from error


def check_key(envelope: Envelope) -> None:
    """Only ``order_taking_configured`` may use :data:`SETUP_KEY`: no order can be keyed by it."""
    if envelope.key == SETUP_KEY and envelope.message_type not in NOT_ABOUT_AN_ORDER:
        raise CannotApply(f"the key {SETUP_KEY} is reserved for order_taking_configured; "
                          f"a {envelope.message_type} message is keyed by its order's storefront reference")


def topic_for(message_type: str, topics: Topics) -> str:
    """The name of the topic a message of this type is published to; ``KeyError`` for an unknown type."""
    return topics.storefront if TOPIC_OF[message_type] == STOREFRONT else topics.erp


def actor_of(payload: dict[str, Any]) -> Actor:
    """The ``actor`` object every message carries (schemas make it required where no default exists)."""
    return Actor.from_dict(payload["actor"])


def placing_customer(payload: dict[str, Any]) -> Actor:
    """Who placed an order: the message's ``actor``, else the web account or contact on the order."""
    if "actor" in payload:
        return actor_of(payload)
    b2c = payload.get("b2c_customer") or {}
    user_no = b2c.get("web_account_no") or payload.get("sell_to_contact_no") or "GUEST"
    name = b2c.get("name") or payload.get("sell_to_contact") or payload.get("sell_to_customer_name", "")
    company = payload.get("sell_to_customer_name", "") if payload.get("customer_type") == "B2B Customer" else ""
    return Actor.web_account(user_no, name, company)


# -- storefront topic --------------------------------------------------------------------------


@handles("order_placed", STOREFRONT)
def order_placed(app: Orders, envelope: Envelope) -> None:
    draft = {k: v for k, v in envelope.payload.items() if k != "actor"}
    app.place_order(envelope.key, draft, placing_customer(envelope.payload), envelope.occurred_at)


@handles("customer_comment", STOREFRONT)
def customer_comment(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.add_comment(envelope.key, p["text"], actor_of(p), envelope.occurred_at)


@handles("customer_approval", STOREFRONT)
def customer_approval(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.approve(envelope.key, actor_of(p), envelope.occurred_at, p.get("version"))


@handles("customer_confirmation", STOREFRONT)
def customer_confirmation(app: Orders, envelope: Envelope) -> None:
    app.confirm_by_customer(envelope.key, actor_of(envelope.payload), envelope.occurred_at)


@handles("payment_gateway_event", STOREFRONT)
def payment_gateway_event(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.record_payment_event(
        envelope.key, p["authorization_result"], p["transaction_id"], Decimal(p["amount"]),
        actor_of(p), envelope.occurred_at, p.get("status_info", ""),
    )


@handles("prebook_line_checked_out", STOREFRONT)
def prebook_line_checked_out(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.check_out_prebook_line(envelope.key, p["line_no"], actor_of(p), envelope.occurred_at)


# -- ERP topic ---------------------------------------------------------------------------------


@handles("sales_document_created", ERP)
def sales_document_created(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    expires_on = date.fromisoformat(p["expires_on"]) if p.get("expires_on") else None
    app.link_sales_document(envelope.key, p["document_type"], p["document_no"], actor_of(p), envelope.occurred_at, expires_on)


@handles("quote_made_into_order", ERP)
def quote_made_into_order(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.make_order_from_quote(envelope.key, p["order_no"], actor_of(p), envelope.occurred_at, p.get("shipping"))


@handles("sales_document_released", ERP)
def sales_document_released(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.release_sales_document(envelope.key, Decimal(p["total"]), actor_of(p), envelope.occurred_at)


@handles("shipment_posted", ERP)
def shipment_posted(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    lines = [{"line_no": line["line_no"], "quantity": Decimal(line["quantity"])} for line in p["lines"]]
    app.post_shipment(envelope.key, lines, actor_of(p), envelope.occurred_at, p.get("shipment_no", ""))


@handles("web_order_refreshed", ERP)
def web_order_refreshed(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    # The command reads the lines' wire form itself (decimal strings and all).
    app.refresh_from_sales_document(envelope.key, p["lines"], actor_of(p), envelope.occurred_at, p.get("request_approval", False))


@handles("approval_requested", ERP)
def approval_requested(app: Orders, envelope: Envelope) -> None:
    app.request_approval(envelope.key, actor_of(envelope.payload), envelope.occurred_at)


@handles("workflow_status_changed", ERP)
def workflow_status_changed(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.change_workflow_status(envelope.key, p["status"], actor_of(p), envelope.occurred_at, p.get("comment", ""))


@handles("approval_set", ERP)
def approval_set(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.set_approval(envelope.key, p["state"], actor_of(p), envelope.occurred_at, p.get("comment", ""))


@handles("back_office_comment", ERP)
def back_office_comment(app: Orders, envelope: Envelope) -> None:
    p = envelope.payload
    app.add_back_office_comment(envelope.key, p["text"], actor_of(p), envelope.occurred_at)


@handles("quote_approved_for_conversion", ERP)
def quote_approved_for_conversion(app: Orders, envelope: Envelope) -> None:
    app.approve_quote_for_conversion(envelope.key, actor_of(envelope.payload), envelope.occurred_at)


@handles("order_confirmed_by_shop", ERP)
def order_confirmed_by_shop(app: Orders, envelope: Envelope) -> None:
    app.confirm_by_shop(envelope.key, actor_of(envelope.payload), envelope.occurred_at)


@handles("order_realized", ERP)
def order_realized(app: Orders, envelope: Envelope) -> None:
    app.mark_realized(envelope.key, actor_of(envelope.payload), envelope.occurred_at)


@handles("order_taking_configured", ERP)
def order_taking_configured(app: Orders, envelope: Envelope) -> None:
    """Setup, not an order: the key is :data:`SETUP_KEY` by convention and is not read."""
    p = envelope.payload
    settings = {k: v for k, v in p.items() if k not in ("actor", "customer_type")}
    app.configure_order_taking(p["customer_type"], actor_of(p), envelope.occurred_at, **settings)
