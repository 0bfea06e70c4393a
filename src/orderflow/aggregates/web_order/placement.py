"""Placement: the storefront places the order (or it is refused with every reason), then adds to it.

After placing, the storefront sends customer comments, payment-gateway events
and prebook line checkouts; they are recorded here too. The ``Placed`` and
``Refused`` events are defined on :class:`WebOrder` with the state they create.

As in every stage module, a command decides (guards raise and record nothing),
then calls a recording method named for its event (``_commented``), which
:class:`WebOrder` binds to the event with ``@event``: calling it triggers the
event, and the event's replay runs it again, so it only records, from its
arguments.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orderflow.aggregates.draft import OrderDraft
from orderflow.aggregates.errors import IllegalTransition, InvalidCommand, InvalidOrder, NotAuthorized, Problem
from orderflow.aggregates.order_taking_setup import OrderTakingSetup, OrderTerms
from orderflow.aggregates.payload_reader import Reader, storable
from orderflow.aggregates.values import (
    Actor,
    AuthorizationResult,
    CheckoutType,
    Comment,
    ConfirmationState,
    CustomerType,
    PaymentEvent,
    PrebookStatus,
    WorkflowStatus,
    choice,
    money,
    stamp,
)
from orderflow.aggregates.web_order.guards import Guards

if TYPE_CHECKING:
    from orderflow.aggregates.web_order import WebOrder

Json = dict[str, Any]


class Handoff(threading.local):
    """The draft and terms :meth:`PlacementStage.place` just wrote into a new ``Placed`` event, as objects.

    The event's ``apply`` takes them instead of reading its own ``draft`` and
    ``terms`` dicts back (issue 10: some 15 µs per order), but only if its dicts
    are the very ones written from these objects; replaying a stored event reads
    its dicts as before. Per thread: replays on other threads never see it.
    """

    entry: tuple[Json, OrderDraft, Json, OrderTerms] | None = None

    def take(self, draft: Json, terms: Json) -> tuple[OrderDraft, OrderTerms] | None:
        entry = self.entry
        if entry is None or entry[0] is not draft or entry[2] is not terms:
            return None
        self.entry = None
        return entry[1], entry[3]


HANDOFF = Handoff()


class PlacementStage(Guards):
    """Placing the order; comments, payment and prebook checkout from the storefront afterwards."""

    @classmethod
    def place(
        cls, storefront_reference: str, web_order_no: str, payload: Any, setup: OrderTakingSetup, actor: Actor, at: datetime
    ) -> WebOrder:
        """Place the order the storefront sent, or record it as refused with every reason.

        The terms of the setup in force for the customer are copied into the order.
        With auto-confirm upon checkout the order is confirmed at once.
        """
        order_id = cls.create_id(storefront_reference)  # type: ignore[attr-defined]
        common = {"storefront_reference": storefront_reference, "web_order_no": web_order_no, **stamp(actor, at)}
        try:
            draft = OrderDraft.from_dict(payload)
        except InvalidOrder as e:
            problems = e.problems
        else:
            terms = setup.terms_for(draft.customer_type, draft.sell_to_customer_no)
            problems = draft.problems() + checkout_problems(draft, terms)
        if problems:
            kept = storable(payload) if isinstance(payload, dict) else {"payload": storable(payload)}
            reasons = [p.to_dict() for p in problems]
            refused: WebOrder = cls._create(cls.Refused, id=order_id, payload=kept, reasons=reasons, **common)  # type: ignore[attr-defined]
            return refused
        confirmation = ConfirmationState.AWAITING_CUSTOMER if terms.customer_confirmation_required else ConfirmationState.AWAITING_SHOP
        draft_data, terms_data = draft.to_dict(), terms.to_dict()
        HANDOFF.entry = (draft_data, draft, terms_data, terms)
        try:
            order: WebOrder = cls._create(  # type: ignore[attr-defined]
                cls.Placed,  # type: ignore[attr-defined]
                id=order_id,
                draft=draft_data,
                terms=terms_data,
                workflow_status=WorkflowStatus.RECEIVED.value,
                confirmation=confirmation.value,
                **common,
            )
        finally:
            HANDOFF.entry = None
        if terms.auto_confirm:
            order._confirmed_by_shop(auto=True, **stamp(actor, at))
        return order

    def add_comment(self, text: str, actor: Actor, at: datetime) -> None:
        """A comment the customer posts after placing the order."""
        self._check_active()
        if actor.is_back_office:
            raise NotAuthorized("customer comments come from the storefront, not the back office")
        if not isinstance(text, str) or not text.strip():
            raise InvalidCommand("a comment needs text")
        self._commented(text=text, **stamp(actor, at))

    def _commented(self, text: str, actor: Json, at: datetime) -> None:
        """Records ``CommentAdded``."""
        self._comments = [*self._comments, Comment(text, at, Actor.from_dict(actor))]

    def record_payment_event(
        self, result: str, transaction_id: str, amount: Decimal, actor: Actor, at: datetime, status_info: str = ""
    ) -> None:
        """What the payment gateway reported: OK sets the transaction's amount paid, FAILURE clears it."""
        self._check_active()
        outcome = choice(AuthorizationResult, result, "authorization result")
        if not isinstance(transaction_id, str):
            raise InvalidCommand(f"a transaction id is a string, not a {type(transaction_id).__name__}")
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
            raise InvalidCommand("a payment amount is a finite, non-negative Decimal")
        self._payment_recorded(
            result=outcome.value, transaction_id=transaction_id, amount=money(amount), status_info=status_info, **stamp(actor, at)
        )

    def _payment_recorded(
        self, result: str, transaction_id: str, amount: Decimal, status_info: str, actor: Json, at: datetime
    ) -> None:
        """Records ``PaymentGatewayEventRecorded``."""
        outcome = AuthorizationResult(result)
        self._payment_events = [*self._payment_events, PaymentEvent(outcome, transaction_id, amount, status_info, at)]
        paid = {k: v for k, v in self._paid.items() if k != transaction_id}
        if outcome is AuthorizationResult.OK and amount:
            paid[transaction_id] = amount
        self._paid = paid

    def check_out_prebook_line(self, line_no: int, actor: Actor, at: datetime) -> None:
        """Check out one prebook line; the prebook is Checked Out once all its lines are."""
        self._check_active()
        prebook = self._prebook_line_nos()
        if line_no not in prebook:
            raise InvalidCommand(f"line {line_no} is not a prebook line of version {self.current_version.number}")
        if line_no in self._checked_out:
            raise IllegalTransition(f"prebook line {line_no} is already checked out")
        done = prebook <= self._checked_out | {line_no}
        status = PrebookStatus.CHECKED_OUT if done else PrebookStatus.DRAFT
        self._prebook_line_checked_out(line_no=line_no, prebook_status=status.value, **stamp(actor, at))

    def _prebook_line_checked_out(self, line_no: int, prebook_status: str, actor: Json, at: datetime) -> None:
        """Records ``PrebookLineCheckedOut``."""
        self._checked_out = self._checked_out | {line_no}


def checkout_problems(draft: OrderDraft, terms: OrderTerms) -> list[Problem]:
    """Why the checkout options refuse this order (a quote request, or an order), if they do."""
    quote = draft.checkout_type is CheckoutType.QUOTE
    if terms.accepts(quote=quote):
        return []
    what = "quote requests" if quote else "orders"
    return [Problem("checkout_option_not_offered", f"{what} are not offered to {draft.customer_type.value} customers")]


def salvage_header(payload: Json) -> tuple[CustomerType | None, str, str, date | None]:
    """What a refused payload says about its customer, as far as it is readable."""
    reader = Reader()
    customer_type = reader.value(payload.get("customer_type"), CustomerType, "", None)
    on = reader.value(payload.get("order_date"), date, "", None) if payload.get("order_date") else None
    text = [v if isinstance(v := payload.get(k), str) else "" for k in ("sell_to_customer_no", "sell_to_customer_name")]
    return customer_type, text[0], text[1], on
