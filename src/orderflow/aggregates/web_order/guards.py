"""The guards the stages of a web order share: placed (not refused), not Rejected, linked to a sales document."""

from __future__ import annotations

from orderflow.aggregates.errors import NotLinked, OrderRejected, OrderWasRefused
from orderflow.aggregates.order_taking_setup import require_back_office
from orderflow.aggregates.values import Actor, SalesDocument, WorkflowStatus
from orderflow.aggregates.web_order.reads import WebOrderReads


class Guards(WebOrderReads):
    """Checks a command makes before it records anything (each raises a named ``WebOrderError``)."""

    def _check_active(self) -> None:
        if self.refused:
            raise OrderWasRefused(self._web_order_no)

    def _check_progress(self, actor: Actor, action: str, customers_too: bool = False) -> None:
        """Guards shared by the sales-document flow: a placed order, not Rejected, from the ERP."""
        self._check_active()
        if not customers_too:
            require_back_office(actor, action)
        if self._status is not None and self._status.status is WorkflowStatus.REJECTED:
            raise OrderRejected(self._web_order_no)

    def _linked(self) -> SalesDocument:
        if self._sales_document is None:
            raise NotLinked(self._web_order_no)
        return self._sales_document
