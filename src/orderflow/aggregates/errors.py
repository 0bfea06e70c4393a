"""The domain's named errors: a command that breaks a rule raises one and records nothing."""

from __future__ import annotations

from dataclasses import dataclass


class WebOrderError(Exception):
    """Base of every rule a command on a web order (or on the order-taking setup) can break."""


class UnknownOrder(WebOrderError):
    def __init__(self, storefront_reference: str):
        super().__init__(f"no web order with storefront reference {storefront_reference!r}")
        self.storefront_reference = storefront_reference


class DuplicateOrder(WebOrderError):
    def __init__(self, storefront_reference: str):
        super().__init__(f"a web order with storefront reference {storefront_reference!r} was already placed")
        self.storefront_reference = storefront_reference


class InvalidCommand(WebOrderError):
    """An argument of a command is malformed (unknown status, negative amount, ...)."""


class InvalidOrder(WebOrderError):
    """A placement payload (or refreshed lines) breaks validation; ``problems`` names every reason."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Problem:
    """One named validation reason: a stable ``code`` and a human ``detail``."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


class OrderWasRefused(WebOrderError):
    def __init__(self, web_order_no: str):
        super().__init__(f"web order {web_order_no} was refused at placement; it accepts no further actions")


class NotAuthorized(WebOrderError):
    """The acting party may not do this (wrong user type, or no role with the permission)."""


class IllegalTransition(WebOrderError):
    """The order is not in a state that allows this action."""


class OrderRejected(IllegalTransition):
    def __init__(self, web_order_no: str):
        super().__init__(f"web order {web_order_no} is Rejected; change its workflow status by hand first")


class NotLinked(IllegalTransition):
    def __init__(self, web_order_no: str):
        super().__init__(f"web order {web_order_no} is not linked to a sales document")


class ApprovalNotPending(IllegalTransition):
    def __init__(self, state: str):
        super().__init__(f"the customer can only approve a pending request; approval is {state or 'blank'}")


class VersionNotCurrent(IllegalTransition):
    def __init__(self, given: int, current: int):
        super().__init__(f"version {given} is not the current version {current}")


class QuoteExpired(IllegalTransition):
    def __init__(self, quote_no: str, expires_on: object):
        super().__init__(f"quote {quote_no} expired on {expires_on}; it cannot be converted")


class QuoteConversionDisabled(IllegalTransition):
    def __init__(self, customer_type: str):
        super().__init__(f"quote-to-order conversion is disabled for {customer_type} customers")


class QuoteNotApproved(IllegalTransition):
    def __init__(self, quote_no: str):
        super().__init__(f"quote {quote_no} is not promotable by default and its current version is not approved")


class OverShipment(IllegalTransition):
    """A shipment would ship more than a line's remaining quantity, or names no such line."""


class UnknownVersion(WebOrderError):
    def __init__(self, number: int, count: int):
        super().__init__(f"no version {number}: versions run from 1 (Original) to {count}")


class ConflictingSetup(WebOrderError):
    """An order-taking setup that contradicts itself."""
