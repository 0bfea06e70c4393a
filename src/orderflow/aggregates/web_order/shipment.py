"""Shipment: the ERP posts shipments of the released sales order; Partially Shipped, then Shipped.

The recording method is bound to its event on :class:`WebOrder` (see
:mod:`orderflow.aggregates.web_order.placement`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderflow.aggregates.errors import IllegalTransition
from orderflow.aggregates.shipments import Shipments
from orderflow.aggregates.values import Actor, SalesDocumentType, WorkflowStatus, stamp
from orderflow.aggregates.web_order.workflow_status import WorkflowStatusKeeping

Json = dict[str, Any]


class ShipmentStage(WorkflowStatusKeeping):
    """Posting shipments of the released sales order."""

    def post_shipment(self, lines: list[Json], actor: Actor, at: datetime, shipment_no: str = "") -> None:
        """The ERP posted a shipment of these ``[{"line_no", "quantity"}]`` of the released sales order."""
        self._check_progress(actor, "post a shipment")
        document = self._linked()
        if document.type is not SalesDocumentType.ORDER or not self._released:
            raise IllegalTransition(f"only a released sales order ships; {document.type.value} {document.no} is not one")
        quantities = Shipments.parse(lines)
        after = self._shipments.after(quantities, self.current_version)
        status = WorkflowStatus.SHIPPED if after.complete(self.current_version) else WorkflowStatus.PARTIALLY_SHIPPED
        self._shipment_posted(
            shipment_no=shipment_no,
            lines=[{"line_no": n, "quantity": q} for n, q in quantities.items()],
            workflow_status=self._status_change(status),
            **stamp(actor, at),
        )

    def _shipment_posted(
        self, shipment_no: str, lines: list[Json], workflow_status: str | None, actor: Json, at: datetime
    ) -> None:
        """Records ``ShipmentPosted``."""
        self._shipments = self._shipments.add({entry["line_no"]: entry["quantity"] for entry in lines})
        self._record_status(workflow_status, "ShipmentPosted", actor, at)
