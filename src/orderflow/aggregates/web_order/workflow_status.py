"""The Workflow Status: derived from the events of the stages, or set by hand by the back office.

Events that change the status carry the new one (``workflow_status``, None if
unchanged), so the status always names the event that caused it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderflow.aggregates.errors import IllegalTransition
from orderflow.aggregates.order_taking_setup import Permission, Permissions
from orderflow.aggregates.values import Actor, StatusChange, WorkflowStatus, choice, member, stamp
from orderflow.aggregates.web_order.guards import Guards

Json = dict[str, Any]


class WorkflowStatusKeeping(Guards):
    """The status an event causes, how it is recorded, and the back office's change by hand."""

    def change_workflow_status(
        self, status: str, actor: Actor, at: datetime, permissions: Permissions, comment: str = ""
    ) -> None:
        """A permitted back-office user sets the Workflow Status by hand (e.g. Rejected); it is logged."""
        self._check_active()
        permissions.check(actor, Permission.CHANGE_WORKFLOW_STATUS)
        new = choice(WorkflowStatus, status, "workflow status")
        if self._status is not None and new is self._status.status:
            raise IllegalTransition(f"the workflow status is already {new.value}")
        self._workflow_status_changed(workflow_status=new.value, comment=comment, **stamp(actor, at))

    def _workflow_status_changed(self, workflow_status: str, comment: str, actor: Json, at: datetime) -> None:
        """Records ``WorkflowStatusChanged`` (bound to it on :class:`WebOrder`)."""
        self._record_status(workflow_status, "WorkflowStatusChanged", actor, at)

    def _status_change(self, status: WorkflowStatus | None) -> str | None:
        """The new status an event causes, or None if it leaves the status as it is."""
        if status is None or (self._status is not None and self._status.status is status):
            return None
        return status.value

    def _record_status(self, workflow_status: str | None, caused_by: str, actor: Json, at: datetime) -> None:
        if workflow_status is not None:
            self._status = StatusChange(member(WorkflowStatus, workflow_status), caused_by, at, Actor.from_dict(actor))
