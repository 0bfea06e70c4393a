"""Order-taking setup: how orders are taken per customer type, who must pay by card, who may do what.

One :class:`OrderTakingSetup` aggregate holds the whole configuration. A web
order copies the :class:`OrderTerms` in force for its customer when it is
placed, so a later change of the setup never rewrites an order's history.

This module was ``orderflow.aggregates.setup``; the setup's events stored
before the rename name that module in their topics, and still load (see
:data:`FORMER_TOPIC`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, Self, get_type_hints
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from orderflow.aggregates.errors import ConflictingSetup, InvalidCommand, NotAuthorized
from orderflow.aggregates.payload_reader import field_name
from orderflow.aggregates.values import Actor, CustomerType, choice, stamp

SETUP_ID = uuid5(NAMESPACE_URL, "orderflow:order-taking-setup")


class Intake(StrEnum):
    MANUAL = "Manual"
    TO_QUOTE = "Automatic to Sales Quote"
    TO_ORDER = "Automatic to Sales Order"


class CheckoutOptions(StrEnum):
    ORDERS = "Place orders"
    QUOTES = "Request quotes"
    BOTH = "Place orders and request quotes"


class QuoteConversion(StrEnum):
    DISABLED = "Disabled"
    WITH_CHECKOUT = "With checkout"
    UNATTENDED = "Unattended"


class Permission(StrEnum):
    """Back-office actions that only some roles may do."""

    CONFIRM = "Confirm"
    CHANGE_WORKFLOW_STATUS = "Change Workflow Status"
    SET_APPROVAL = "Set Approval by Hand"
    APPROVE_QUOTE = "Approve Quote for Conversion"


DEFAULT_ROLES: dict[Permission, frozenset[str]] = {
    Permission.CONFIRM: frozenset({"Admin", "Sales", "Cashier", "Sales Allocation", "Sales Manager"}),
    Permission.CHANGE_WORKFLOW_STATUS: frozenset({"Admin", "Sales Manager"}),
    Permission.SET_APPROVAL: frozenset({"Admin", "Sales Manager"}),
    Permission.APPROVE_QUOTE: frozenset({"Admin", "Sales Manager"}),
}


@dataclass(frozen=True)
class OrderTaking:
    """The order-taking settings of one customer type."""

    intake: Intake = Intake.MANUAL
    checkout_options: CheckoutOptions = CheckoutOptions.BOTH
    quote_conversion: QuoteConversion = QuoteConversion.WITH_CHECKOUT
    quote_promotable_by_default: bool = True
    auto_confirm: bool = False
    customer_confirmation_required: bool = False

    def __post_init__(self) -> None:
        if self.auto_confirm and self.customer_confirmation_required:
            raise ConflictingSetup("auto-confirm upon checkout contradicts customer confirmation required")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Read settings by name (values as ``to_dict`` writes them); missing ones take their defaults."""
        hints = _setting_kinds(cls)  # type: ignore[arg-type]  # a class is hashable; mypy checks its instances
        unknown = sorted(field_name(key) for key in set(data) - hints.keys())
        if unknown:
            raise InvalidCommand(f"unknown order-taking settings {unknown}; known are {sorted(hints)}")
        return cls(**{name: _setting(name, hints[name], value) for name, value in data.items()})

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which deep-copies: this runs for every placed order.
        values = ((name, getattr(self, name)) for name in _setting_kinds(type(self)))  # type: ignore[arg-type]  # a class is hashable; mypy checks its instances
        return {name: (value.value if isinstance(value, StrEnum) else value) for name, value in values}


@dataclass(frozen=True)
class OrderTerms(OrderTaking):
    """The settings one order is taken under: its customer type's, plus its customer's card rule."""

    require_card_payment: bool = False

    def accepts(self, quote: bool) -> bool:
        """Whether checkout options allow this kind of request (a quote, or an order)."""
        wanted = CheckoutOptions.QUOTES if quote else CheckoutOptions.ORDERS
        return self.checkout_options in (wanted, CheckoutOptions.BOTH)


@dataclass(frozen=True)
class Permissions:
    """Which back-office roles may do which :class:`Permission`."""

    roles: dict[Permission, frozenset[str]] = field(default_factory=lambda: dict(DEFAULT_ROLES))

    def check(self, actor: Actor, permission: Permission) -> None:
        """Raise ``NotAuthorized`` unless ``actor`` is a back-office user with a permitted role."""
        if not actor.is_back_office:
            raise NotAuthorized(f"{permission.value}: only the back office may do this")
        allowed = self.roles.get(permission, frozenset())
        if not allowed.intersection(actor.roles):
            raise NotAuthorized(
                f"{permission.value}: user {actor.user_no} has roles {sorted(actor.roles)}, needs one of {sorted(allowed)}"
            )


def require_back_office(actor: Actor, action: str) -> None:
    """Raise ``NotAuthorized`` unless a back-office user acts."""
    if not actor.is_back_office:
        raise NotAuthorized(f"{action}: only the back office may do this, not {actor.user_type.value} {actor.user_no}")


class OrderTakingSetup(Aggregate):
    """The system's one order-taking configuration (defaults until configured)."""

    @staticmethod
    def create_id() -> UUID:
        return SETUP_ID

    @event("Started")
    def __init__(self) -> None:
        self.order_taking: dict[CustomerType, OrderTaking] = {}
        self.card_payment_customers: frozenset[str] = frozenset()
        self.permissions = Permissions()

    def terms_for(self, customer_type: CustomerType, customer_no: str) -> OrderTerms:
        """The terms a new order of this customer type and customer no. is taken under."""
        taking = self.order_taking.get(customer_type, OrderTaking())
        settings = {name: getattr(taking, name) for name in _setting_kinds(OrderTaking)}
        return OrderTerms(**settings, require_card_payment=customer_no in self.card_payment_customers)

    def configure(self, customer_type: str, settings: dict[str, Any], actor: Actor, at: datetime) -> None:
        """Set the order-taking settings of one customer type (missing settings take their defaults)."""
        require_back_office(actor, "configure order taking")
        kind = choice(CustomerType, customer_type, "customer type")
        taking = OrderTaking.from_dict(settings)
        self._configured(customer_type=kind.value, settings=taking.to_dict(), **stamp(actor, at))

    @event("OrderTakingConfigured")
    def _configured(self, customer_type: str, settings: dict[str, Any], actor: dict[str, Any], at: datetime) -> None:
        self.order_taking = {**self.order_taking, CustomerType(customer_type): OrderTaking.from_dict(settings)}

    def require_card_payment(self, customer_no: str, required: bool, actor: Actor, at: datetime) -> None:
        """Whether the customer must pay by card (their unpaid orders are flagged)."""
        require_back_office(actor, "require card payment")
        if not customer_no:
            raise InvalidCommand("a customer no. is required")
        self._card_payment_set(customer_no=customer_no, required=required, **stamp(actor, at))

    @event("CardPaymentRequirementSet")
    def _card_payment_set(self, customer_no: str, required: bool, actor: dict[str, Any], at: datetime) -> None:
        others = self.card_payment_customers - {customer_no}
        self.card_payment_customers = others | {customer_no} if required else others

    def set_permission(self, permission: str, roles: list[str], actor: Actor, at: datetime) -> None:
        """Let exactly these roles do ``permission`` from now on."""
        require_back_office(actor, "set permissions")
        name = choice(Permission, permission, "permission").value
        if not isinstance(roles, list) or not all(isinstance(role, str) and role for role in roles):
            raise InvalidCommand("roles are a list of role names")
        self._permission_set(permission=name, roles=sorted(set(roles)), **stamp(actor, at))

    @event("PermissionSet")
    def _permission_set(self, permission: str, roles: list[str], actor: dict[str, Any], at: datetime) -> None:
        self.permissions = Permissions({**self.permissions.roles, Permission(permission): frozenset(roles)})


FORMER_TOPIC = "orderflow.aggregates.setup:OrderTakingSetup"
"""The setup's topic before this module was renamed: its stored events are ``FORMER_TOPIC.<Event>``."""
register_topic(FORMER_TOPIC, OrderTakingSetup)


@cache
def _setting_kinds(cls: type) -> dict[str, type]:
    """Each setting's type, read from the class's hints once (not each time an order's terms are read)."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _setting(name: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise InvalidCommand(f"{name} must be true or false, not a {type(value).__name__}")
        return value
    return choice(kind, value, name)
