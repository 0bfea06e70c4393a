"""Approval: the Customer Approval of a linked quote (to place the order) or order (its changes).

The back office asks; only the customer moves ``Pending`` to ``Approved``;
only the back office sets ``Rejected``, or any state, by hand. (A quote's
approval for conversion by a sales manager is part of the sales documents.)
Recording methods are bound to their events on :class:`WebOrder` (see
:mod:`orderflow.aggregates.web_order.placement`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderflow.aggregates.errors import ApprovalNotPending, IllegalTransition, NotAuthorized, VersionNotCurrent
from orderflow.aggregates.order_taking_setup import Permission, Permissions, require_back_office
from orderflow.aggregates.values import Actor, Approval, ApprovalState, SalesDocumentType, choice, stamp
from orderflow.aggregates.web_order.guards import Guards

Json = dict[str, Any]


class ApprovalStage(Guards):
    """Requesting, giving and setting the Customer Approval."""

    def request_approval(self, actor: Actor, at: datetime) -> None:
        """Ask the customer to approve the current version of the linked quote (to place it) or order (its changes)."""
        self._check_active()
        require_back_office(actor, "request approval")
        document = self._linked()
        version = self.current_version.number
        if self._approval.state is ApprovalState.PENDING and self._approval.requested_version == version:
            raise IllegalTransition(f"approval of version {version} is already pending")
        self._approval_requested(subject=document.type.value, version=version, **stamp(actor, at))

    def _approval_requested(self, subject: str, version: int, actor: Json, at: datetime) -> None:
        """Records ``ApprovalRequested``."""
        self._approval = Approval(ApprovalState.PENDING, SalesDocumentType(subject), version)

    def approve(self, actor: Actor, at: datetime, version: int | None = None) -> None:
        """The customer approves the pending request, for the current version (or the one given, if current)."""
        self._check_active()
        if actor.is_back_office:
            raise NotAuthorized("only the customer approves; the back office sets approval by hand")
        if self._approval.state is not ApprovalState.PENDING:
            raise ApprovalNotPending(self._approval.state.value)
        current = self.current_version.number
        if version is not None and version != current:
            raise VersionNotCurrent(version, current)
        self._approved_by_customer(version=current, **stamp(actor, at))

    def _approved_by_customer(self, version: int, actor: Json, at: datetime) -> None:
        """Records ``ApprovedByCustomer``."""
        self._approval = Approval(ApprovalState.APPROVED, self._approval.subject, self._approval.requested_version, version)

    def set_approval(self, state: str, actor: Actor, at: datetime, permissions: Permissions, comment: str = "") -> None:
        """The back office sets the Customer Approval by hand (the only way to reject it)."""
        self._check_active()
        permissions.check(actor, Permission.SET_APPROVAL)
        new = choice(ApprovalState, state, "approval state")
        if new is self._approval.state:
            raise IllegalTransition(f"approval is already {new.value or 'blank'}")
        self._approval_set(state=new.value, version=self.current_version.number, comment=comment, **stamp(actor, at))

    def _approval_set(self, state: str, version: int, comment: str, actor: Json, at: datetime) -> None:
        """Records ``ApprovalSet``."""
        new = ApprovalState(state)
        subject = self._sales_document.type if self._sales_document else None
        if new is ApprovalState.NONE:
            self._approval = Approval()
        elif new is ApprovalState.PENDING:
            self._approval = Approval(new, subject, version)
        else:
            approved = version if new is ApprovalState.APPROVED else None
            self._approval = Approval(new, self._approval.subject or subject, self._approval.requested_version, approved)
