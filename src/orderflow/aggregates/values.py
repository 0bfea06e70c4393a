"""Value objects and vocabularies shared by the order aggregates.

Enumerations are ``StrEnum`` whose values are the manuals' captions, so that
events can store the plain string and read models can show it as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, TypeVar

from orderflow.aggregates.errors import InvalidCommand

CENT = Decimal("0.01")
E = TypeVar("E", bound=StrEnum)


def money(amount: Decimal) -> Decimal:
    """Round an amount to the currency's 2 decimals, half up (the manual's line amount rule)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def choice(kind: type[E], value: Any, what: str) -> E:
    """``value`` as a member of the enumeration ``kind``; ``InvalidCommand`` naming the choices if it is none."""
    try:
        return kind(value)
    except ValueError:
        raise InvalidCommand(f"unknown {what}; expected one of {[v.value for v in kind]}") from None


def member(kind: type[E], value: Any) -> E:
    """``kind(value)`` by one dict lookup when ``value`` is one of its values (``Enum.__call__`` costs ten times
    that, issue 10); anything else still goes through ``kind(value)``, which raises as it did."""
    try:
        return kind._value2member_map_[value]  # type: ignore[return-value]
    except (KeyError, TypeError):
        return kind(value)


def stamp(actor: Actor, at: datetime) -> dict[str, Any]:
    """The ``actor`` and ``at`` (timezone-aware, stored in UTC) attributes every event carries."""
    if type(at) is datetime and at.tzinfo is UTC and type(actor) is Actor:
        return {"actor": actor.to_dict(), "at": at}  # the common case: what astimezone(utc) gives is ``at`` itself
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise InvalidCommand(f"the time of an action must be a timezone-aware datetime, not a naive one or a {type(at).__name__}")
    if not isinstance(actor, Actor):
        raise InvalidCommand(f"an actor must be an Actor, not a {type(actor).__name__}")
    return {"actor": actor.to_dict(), "at": at.astimezone(UTC)}


class CustomerType(StrEnum):
    """Who placed the order (manual: Web Order field "Type")."""

    B2B = "B2B Customer"
    B2C_REGISTERED = "B2C - Registered"
    B2C_NOT_REGISTERED = "B2C - Not Registered"


class LineType(StrEnum):
    ITEM = "Item"
    RESOURCE = "Resource"


class CheckoutType(StrEnum):
    """What the customer asked for at checkout: an order, or a quote."""

    ORDER = "Order"
    QUOTE = "Quote"


class SalesDocumentType(StrEnum):
    QUOTE = "Quote"
    ORDER = "Order"


class WorkflowStatus(StrEnum):
    """The customer-facing summary of how far the order is (Draft and Sent never reach the engine)."""

    RECEIVED = "Received"
    RESERVATION = "Reservation"
    WAREHOUSE = "Warehouse"
    PARTIALLY_SHIPPED = "Partially Shipped"
    SHIPPED = "Shipped"
    REJECTED = "Rejected"


class ApprovalState(StrEnum):
    """Customer Approval; ``NONE`` is the manual's blank (no approval asked)."""

    NONE = ""
    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class ConfirmationState(StrEnum):
    AWAITING_CUSTOMER = "Awaiting Customer Confirmation"
    AWAITING_SHOP = "Awaiting Shop Confirmation"
    CONFIRMED = "Confirmed"
    REALIZED = "Realized"


class PrebookStatus(StrEnum):
    DRAFT = "Draft"
    CHECKED_OUT = "Checked Out"


class AuthorizationResult(StrEnum):
    OK = "OK"
    FAILURE = "FAILURE"


class UserType(StrEnum):
    WEB_ACCOUNT = "Web Account"
    BACK_OFFICE = "Back Office User"


SALES_AGENT_ROLE = "Sales Agent"


@dataclass(frozen=True)
class Actor:
    """Who acted: a customer's web account or a back-office user, as the event log shows them.

    ``roles`` are a back-office user's roles (checked against the configured
    permissions); a web account with the ``Sales Agent`` role is a sales agent
    acting in the storefront.
    """

    user_type: UserType
    user_no: str
    person_name: str = ""
    company: str = ""
    roles: tuple[str, ...] = field(default=())

    @classmethod
    def web_account(cls, web_account_no: str, person_name: str = "", company: str = "", *roles: str) -> Actor:
        return cls(UserType.WEB_ACCOUNT, web_account_no, person_name, company, tuple(roles))

    @classmethod
    def back_office(cls, user_id: str, person_name: str = "", company: str = "", *roles: str) -> Actor:
        return cls(UserType.BACK_OFFICE, user_id, person_name, company, tuple(roles))

    @property
    def is_back_office(self) -> bool:
        return self.user_type is UserType.BACK_OFFICE

    @property
    def is_customer(self) -> bool:
        """A web account that is not a sales agent: the customer themself."""
        return self.user_type is UserType.WEB_ACCOUNT and SALES_AGENT_ROLE not in self.roles

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_type": self.user_type._value_,  # .value is a descriptor call, and this runs for every event
            "user_no": self.user_no,
            "person_name": self.person_name,
            "company": self.company,
            "roles": list(self.roles),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        """Read ``to_dict``'s form (also the wire form); ``InvalidCommand`` if it is not one."""
        try:
            actor = cls(
                member(UserType, data["user_type"]),
                data["user_no"],
                data.get("person_name", ""),
                data.get("company", ""),
                tuple(data.get("roles", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            # Named by its fields, never its values: an actor holds a person's name.
            raise InvalidCommand(
                "not an actor: needs user_type (Web Account or Back Office User) and user_no, "
                "optionally person_name, company and roles"
            ) from None
        if not isinstance(actor.user_no, str) or not actor.user_no:
            raise InvalidCommand("an actor needs a user no. (user_no, a non-empty string)")
        return actor


@dataclass(frozen=True)
class SalesDocument:
    """The ERP document a web order is linked to; a quote may have an expiration date."""

    type: SalesDocumentType
    no: str
    expires_on: date | None = None

    def expired_at(self, on: date) -> bool:
        """Whether the quote has expired on the given calendar date."""
        return self.expires_on is not None and on > self.expires_on


@dataclass(frozen=True)
class StatusChange:
    """The Workflow Status together with the event that caused it: the status explains itself."""

    status: WorkflowStatus
    caused_by: str
    at: datetime
    by: Actor


@dataclass(frozen=True)
class Approval:
    """Customer Approval: its state, what was asked (quote or order) and which versions.

    ``approved_version`` is the exact version the customer approved; a later
    version is not covered by the approval.
    """

    state: ApprovalState = ApprovalState.NONE
    subject: SalesDocumentType | None = None
    requested_version: int | None = None
    approved_version: int | None = None

    def covers(self, version: int) -> bool:
        return self.state is ApprovalState.APPROVED and self.approved_version == version


@dataclass(frozen=True)
class AmountMismatch:
    """A released sales document's total differs from the web order's."""

    web_order_total: Decimal
    sales_document_total: Decimal

    @property
    def difference(self) -> Decimal:
        return self.sales_document_total - self.web_order_total


@dataclass(frozen=True)
class PaymentEvent:
    """One event reported by the payment gateway."""

    result: AuthorizationResult
    transaction_id: str
    amount: Decimal
    status_info: str
    at: datetime


@dataclass(frozen=True)
class Comment:
    text: str
    at: datetime
    by: Actor
