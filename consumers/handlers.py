"""One handler per inbound message type: read the payload, call one command.

A handler raises :class:`CannotApply` (or lets a domain error through, which
the consumer treats the same way) when the message cannot be applied; the
consumer then dead-letters it with the reason and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow.aggregates.errors import WebOrderError
from orderflow.aggregates.values import Actor
from orderflow.application import Orders
from orderflow.wire import Envelope


class CannotApply(Exception):
    """The message is well-formed but orderflow cannot apply it; the text says why."""


Handler = Callable[[Orders, Envelope], None]
HANDLERS: dict[str, Handler] = {}


def handles(message_type: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[message_type] = handler
        return handler

    return register


def apply(app: Orders, envelope: Envelope) -> None:
    """Call the handler of the envelope's type; domain errors become :class:`CannotApply`."""
    handler = HANDLERS.get(envelope.message_type)
    if handler is None:
        raise CannotApply(f"no handler for message type {envelope.message_type!r}")
    try:
        handler(app, envelope)
    except WebOrderError as error:
        raise CannotApply(f"{type(error).__name__}: {error}") from error


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


@handles("order_placed")
def order_placed(app: Orders, envelope: Envelope) -> None:
    draft = {k: v for k, v in envelope.payload.items() if k != "actor"}
    app.place_order(envelope.key, draft, placing_customer(envelope.payload), envelope.occurred_at)
