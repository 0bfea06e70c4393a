"""The read API of a web order, used by projections and the CLI (a mixin of :class:`WebOrder`).

Everything here only reads the state the web order's events recorded.
Versions are numbered from 1: ``get_version(1)`` is the Original.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from orderflow.aggregates.draft import OrderDraft, Shipping
from orderflow.aggregates.errors import OrderWasRefused, Problem, UnknownVersion
from orderflow.aggregates.lines import LineChange, Version, diff
from orderflow.aggregates.order_taking_setup import OrderTerms
from orderflow.aggregates.shipments import Shipments
from orderflow.aggregates.values import (
    Actor,
    AmountMismatch,
    Approval,
    Comment,
    ConfirmationState,
    CustomerType,
    PaymentEvent,
    PrebookStatus,
    SalesDocument,
    StatusChange,
    money,
)


class WebOrderReads:
    """Properties and queries over a web order's recorded state."""

    _web_order_no: str
    _storefront_reference: str
    _customer_type: CustomerType | None
    _sell_to_customer_no: str
    _sell_to_customer_name: str
    _order_date: date | None
    _placed_by: Actor
    _draft: OrderDraft | None
    _shipping: Shipping
    _terms: OrderTerms
    _refusal: tuple[Problem, ...]
    _payload: dict[str, Any]
    _versions: list[Version]
    _status: StatusChange | None
    _sales_document: SalesDocument | None
    _released: bool
    _shipments: Shipments
    _approval: Approval
    _quote_approved_version: int | None
    _confirmation: ConfirmationState | None
    _paid: dict[str, Decimal]
    _payment_events: list[PaymentEvent]
    _mismatch: AmountMismatch | None
    _checked_out: frozenset[int]
    _comments: list[Comment]

    @property
    def web_order_no(self) -> str:
        return self._web_order_no

    @property
    def storefront_reference(self) -> str:
        return self._storefront_reference

    @property
    def customer_type(self) -> CustomerType | None:
        """None only for a refused order whose payload had no valid customer type."""
        return self._customer_type

    @property
    def sell_to_customer_no(self) -> str:
        return self._sell_to_customer_no

    @property
    def sell_to_customer_name(self) -> str:
        return self._sell_to_customer_name

    @property
    def order_date(self) -> date | None:
        return self._order_date

    @property
    def placed_by(self) -> Actor:
        return self._placed_by

    @property
    def draft(self) -> OrderDraft | None:
        """The order as placed (header, Original lines, shipping, B2C details, payment); None if refused."""
        return self._draft

    @property
    def terms(self) -> OrderTerms:
        """The order-taking terms the order was placed under."""
        return self._terms

    @property
    def shipping(self) -> Shipping:
        """The current shipping section (a conversion with checkout may have changed it)."""
        return self._shipping

    @property
    def refused(self) -> bool:
        return bool(self._refusal)

    @property
    def refusal_reasons(self) -> tuple[Problem, ...]:
        return self._refusal

    @property
    def refused_payload(self) -> dict[str, Any]:
        """The payload of a refused order, as received."""
        return self._payload

    @property
    def workflow_status(self) -> StatusChange | None:
        """The Workflow Status with the event that caused it; None for a refused order."""
        return self._status

    @property
    def approval(self) -> Approval:
        return self._approval

    @property
    def quote_approved_for_conversion(self) -> bool:
        return self._quote_approved_version is not None

    @property
    def confirmation(self) -> ConfirmationState | None:
        return self._confirmation

    @property
    def sales_document(self) -> SalesDocument | None:
        return self._sales_document

    @property
    def released(self) -> bool:
        """Whether the linked sales order was released to the warehouse."""
        return self._released

    @property
    def shipped_quantities(self) -> dict[int, Decimal]:
        return dict(self._shipments.quantities)

    @property
    def versions(self) -> tuple[Version, ...]:
        """All versions, oldest first: ``versions[0]`` is version 1, the Original."""
        return tuple(self._versions)

    def get_version(self, number: int) -> Version:
        """Version ``number`` (1 is the Original) with its lines and total.

        (Not ``version``: that is the aggregate's event count in ``eventsourcing``.)
        """
        if not 1 <= number <= len(self._versions):
            raise UnknownVersion(number, len(self._versions))
        return self._versions[number - 1]

    @property
    def original_version(self) -> Version:
        return self.get_version(1)

    @property
    def current_version(self) -> Version:
        if not self._versions:
            raise OrderWasRefused(self._web_order_no)
        return self._versions[-1]

    def diff(self, before: int, after: int) -> list[LineChange]:
        """Line-level changes from version ``before`` to version ``after``."""
        return diff(self.get_version(before), self.get_version(after))

    @property
    def current_total(self) -> Decimal:
        return self.current_version.total if self._versions else Decimal("0.00")

    @property
    def amount_paid(self) -> Decimal:
        return money(sum(self._paid.values(), Decimal(0)))

    @property
    def payment_events(self) -> tuple[PaymentEvent, ...]:
        return tuple(self._payment_events)

    @property
    def amount_mismatch(self) -> AmountMismatch | None:
        """Both totals while a released sales document's total differs from the web order's."""
        return self._mismatch

    @property
    def unpaid(self) -> bool:
        """Nothing paid, though the customer must pay by card."""
        return self._terms.require_card_payment and not self.refused and self.amount_paid == 0

    @property
    def underpaid(self) -> bool:
        """Something paid, but less than the current total."""
        return 0 < self.amount_paid < self.current_total

    @property
    def overpaid(self) -> bool:
        """More paid than the current total."""
        return self.amount_paid > self.current_total

    @property
    def prebook_status(self) -> PrebookStatus | None:
        """Draft while a prebook line is not checked out, Checked Out when all are; None without prebook lines."""
        prebook = self._prebook_line_nos() if self._versions else frozenset()
        if not prebook:
            return None
        return PrebookStatus.CHECKED_OUT if prebook <= self._checked_out else PrebookStatus.DRAFT

    @property
    def checked_out_lines(self) -> frozenset[int]:
        return self._checked_out

    @property
    def comments(self) -> tuple[Comment, ...]:
        return tuple(self._comments)

    def _prebook_line_nos(self) -> frozenset[int]:
        return frozenset(line.line_no for line in self.current_version.lines if line.prebook)
