"""Confirmation (shops that confirm orders): awaiting customer → awaiting shop → confirmed → realized.

Confirming e-mails the invoice to the customer; a permitted back-office user
may confirm on the customer's behalf. Recording methods are bound to their
events on :class:`WebOrder` (see :mod:`orderflow.aggregates.web_order.placement`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderflow.aggregates.errors import IllegalTransition
from orderflow.aggregates.order_taking_setup import Permission, Permissions, require_back_office
from orderflow.aggregates.values import Actor, ConfirmationState, stamp
from orderflow.aggregates.web_order.guards import Guards

Json = dict[str, Any]


class ConfirmationStage(Guards):
    """Confirmation by the customer, by the shop, and the ERP's realization."""

    def confirm_by_customer(self, actor: Actor, at: datetime, permissions: Permissions) -> None:
        """The customer confirms the order, or a permitted back-office user confirms on their behalf."""
        self._check_active()
        on_behalf = actor.is_back_office
        if on_behalf:
            permissions.check(actor, Permission.CONFIRM)
        self._check_confirmation(ConfirmationState.AWAITING_CUSTOMER)
        self._confirmed_by_customer(on_behalf=on_behalf, **stamp(actor, at))

    def _confirmed_by_customer(self, on_behalf: bool, actor: Json, at: datetime) -> None:
        """Records ``ConfirmedByCustomer``."""
        self._confirmation = ConfirmationState.AWAITING_SHOP

    def confirm_by_shop(self, actor: Actor, at: datetime, permissions: Permissions) -> None:
        """The shop confirms the order; the invoice is e-mailed to the customer."""
        self._check_active()
        permissions.check(actor, Permission.CONFIRM)
        self._check_confirmation(ConfirmationState.AWAITING_SHOP)
        self._confirmed_by_shop(auto=False, **stamp(actor, at))

    def _confirmed_by_shop(self, auto: bool, actor: Json, at: datetime) -> None:
        """Records ``ConfirmedByShop`` (``auto``: upon checkout, see ``place``)."""
        self._confirmation = ConfirmationState.CONFIRMED

    def mark_realized(self, actor: Actor, at: datetime) -> None:
        """The ERP fulfilled (invoiced and issued) the confirmed order."""
        self._check_active()
        require_back_office(actor, "mark realized")
        self._check_confirmation(ConfirmationState.CONFIRMED)
        self._realized(**stamp(actor, at))

    def _realized(self, actor: Json, at: datetime) -> None:
        """Records ``Realized``."""
        self._confirmation = ConfirmationState.REALIZED

    def _check_confirmation(self, expected: ConfirmationState) -> None:
        if self._confirmation is not expected:
            raise IllegalTransition(f"confirmation is {self._confirmation}, not {expected.value}")
