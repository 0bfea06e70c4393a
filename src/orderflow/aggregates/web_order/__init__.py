"""The web order: everything that happened to one order placed in the storefront.

The class is assembled from one mixin per stage of the manuals, each in its
own module: :mod:`.placement` (and what the storefront adds afterwards:
comments, payment, prebook checkout), :mod:`.approval`, :mod:`.sales_documents`
(link, quote conversion, release, amount mismatch, refresh), :mod:`.shipment`,
:mod:`.confirmation`; :mod:`.workflow_status` derives the Workflow Status or
takes it by hand, :mod:`.guards` holds the checks they share and :mod:`.reads`
the read API. This module holds the state, the creating events and every
other event.

Every public method decides (guards raise a named :class:`WebOrderError` and
record nothing) and then triggers past-tense events; the recording methods
only record, deterministically, from the event's attributes. Every event
carries the acting party (``actor``, an :class:`Actor` as a dict) and the time
``at``; events that change the Workflow Status carry the new status, so the
status always names the event that caused it.

The events are defined here, on :class:`WebOrder`, whichever stage records
them: stored events name their class by topic, and every web order event
ever stored is ``orderflow.aggregates.web_order:WebOrder.<Name>`` (encryption
at rest selects order events by that prefix too). Defined in a stage mixin,
an event would get the mixin's topic.

Versions are numbered from 1: version 1 is the Original and never changes;
each refresh from the sales document adds a Modified by Sales Doc. version.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from orderflow.aggregates.draft import OrderDraft, Shipping
from orderflow.aggregates.errors import Problem
from orderflow.aggregates.lines import Version, VersionKind
from orderflow.aggregates.order_taking_setup import OrderTerms
from orderflow.aggregates.recording import recorded
from orderflow.aggregates.shipments import Shipments
from orderflow.aggregates.values import (
    Actor,
    AmountMismatch,
    Approval,
    AuthorizationResult,
    Comment,
    ConfirmationState,
    CustomerType,
    PaymentEvent,
    SalesDocument,
    StatusChange,
    WorkflowStatus,
    member,
    money,
)
from orderflow.aggregates.web_order.approval import ApprovalStage
from orderflow.aggregates.web_order.confirmation import ConfirmationStage
from orderflow.aggregates.web_order.placement import HANDOFF, PlacementStage, salvage_header
from orderflow.aggregates.web_order.sales_documents import SalesDocumentStage
from orderflow.aggregates.web_order.shipment import ShipmentStage
from orderflow.aggregates.web_order.workflow_status import WorkflowStatusKeeping

__all__ = ["ORDER_NAMESPACE", "WebOrder"]

ORDER_NAMESPACE = uuid5(NAMESPACE_URL, "orderflow:web-order")


@lru_cache(maxsize=8192)
def _order_id(storefront_reference: str) -> UUID:
    """uuid5 of an order's reference, remembered for the orders in flight: every message of an order asks
    for it (issue 10); bounded, so memory stays flat however many orders pass."""
    return uuid5(ORDER_NAMESPACE, storefront_reference)

Json = dict[str, Any]


class WebOrder(
    PlacementStage,
    ApprovalStage,
    SalesDocumentStage,
    ShipmentStage,
    ConfirmationStage,
    WorkflowStatusKeeping,
    Aggregate,
):
    """A web order, from placement (or refusal) to shipment."""

    @staticmethod
    def create_id(storefront_reference: str) -> UUID:
        """The order's id: uuid5 of a fixed namespace and the storefront's reference."""
        return _order_id(storefront_reference)

    # -- creation (see PlacementStage.place) ---------------------------------------------------

    class Placed(Aggregate.Created):
        """The customer placed a valid order; the engine gave it a Web Order No."""

        storefront_reference: str
        web_order_no: str
        draft: Json
        terms: Json
        workflow_status: str
        confirmation: str
        actor: Json
        at: datetime

        def apply(self, order: WebOrder) -> None:
            fresh = HANDOFF.take(self.draft, self.terms)  # just placed: the objects these dicts were written from
            draft, terms = fresh if fresh else (OrderDraft.from_stored(self.draft), OrderTerms.from_dict(self.terms))
            order._start(self, draft.customer_type, draft.sell_to_customer_no, draft.sell_to_customer_name, draft.order_date)
            order._draft = draft
            order._shipping = draft.shipping
            order._terms = terms
            order._versions = [Version(1, VersionKind.ORIGINAL, draft.lines, self.at, "")]
            order._status = StatusChange(member(WorkflowStatus, self.workflow_status), "Placed", self.at, order._placed_by)
            order._confirmation = member(ConfirmationState, self.confirmation)
            if draft.payment.amount_paid and draft.payment.authorization_result is not AuthorizationResult.FAILURE:
                order._paid = {draft.payment.transaction_id: money(draft.payment.amount_paid)}

    class Refused(Aggregate.Created):
        """An order failed validation; it is kept, with its payload and every reason."""

        storefront_reference: str
        web_order_no: str
        payload: Json
        reasons: list[Json]
        actor: Json
        at: datetime

        def apply(self, order: WebOrder) -> None:
            header = salvage_header(self.payload)
            order._start(self, *header)
            order._refusal = tuple(Problem(**r) for r in self.reasons)
            order._payload = self.payload

    def __init__(self) -> None:
        """Blank state; ``Placed`` or ``Refused`` fills it in (see :meth:`place`)."""
        self._draft: OrderDraft | None = None
        self._shipping = Shipping()
        self._terms = OrderTerms()
        self._refusal: tuple[Problem, ...] = ()
        self._payload: Json = {}
        self._versions: list[Version] = []
        self._status: StatusChange | None = None
        self._sales_document: SalesDocument | None = None
        self._released = False
        self._shipments = Shipments()
        self._approval = Approval()
        self._quote_approved_version: int | None = None
        self._confirmation: ConfirmationState | None = None
        self._paid: dict[str, Decimal] = {}
        self._payment_events: list[PaymentEvent] = []
        self._mismatch: AmountMismatch | None = None
        self._checked_out: frozenset[int] = frozenset()
        self._comments: list[Comment] = []

    def _start(self, created: Any, customer_type: CustomerType | None, customer_no: str, name: str, on: date | None) -> None:
        self._storefront_reference: str = created.storefront_reference
        self._web_order_no: str = created.web_order_no
        self._customer_type = customer_type
        self._sell_to_customer_no = customer_no
        self._sell_to_customer_name = name
        self._order_date = on
        self._placed_by = Actor.from_dict(created.actor)

    # -- every other event: its stage's recording method, bound here to an event of WebOrder --------
    # Calling the bound method triggers the event; replaying the event calls the stage's method.
    # ``recorded`` is the library's ``event`` with a short cut for the ordinary call (see its module).

    _commented = recorded("CommentAdded")(PlacementStage._commented)
    _back_office_commented = recorded("BackOfficeCommentAdded")(PlacementStage._back_office_commented)
    _payment_recorded = recorded("PaymentGatewayEventRecorded")(PlacementStage._payment_recorded)
    _prebook_line_checked_out = recorded("PrebookLineCheckedOut")(PlacementStage._prebook_line_checked_out)

    _approval_requested = recorded("ApprovalRequested")(ApprovalStage._approval_requested)
    _approved_by_customer = recorded("ApprovedByCustomer")(ApprovalStage._approved_by_customer)
    _approval_set = recorded("ApprovalSet")(ApprovalStage._approval_set)

    _linked_to_sales_document = recorded("LinkedToSalesDocument")(SalesDocumentStage._linked_to_sales_document)
    _quote_approved = recorded("QuoteApprovedForConversion")(SalesDocumentStage._quote_approved)
    _made_order_from_quote = recorded("MadeOrderFromQuote")(SalesDocumentStage._made_order_from_quote)
    _sales_document_released = recorded("SalesDocumentReleased")(SalesDocumentStage._sales_document_released)
    _mismatch_flagged = recorded("AmountMismatchFlagged")(SalesDocumentStage._mismatch_flagged)
    _mismatch_resolved = recorded("AmountMismatchResolved")(SalesDocumentStage._mismatch_resolved)
    _refreshed = recorded("RefreshedFromSalesDocument")(SalesDocumentStage._refreshed)
    _quote_approval_voided = recorded("QuoteApprovalVoided")(SalesDocumentStage._quote_approval_voided)

    _shipment_posted = recorded("ShipmentPosted")(ShipmentStage._shipment_posted)

    _confirmed_by_customer = recorded("ConfirmedByCustomer")(ConfirmationStage._confirmed_by_customer)
    _confirmed_by_shop = recorded("ConfirmedByShop")(ConfirmationStage._confirmed_by_shop)
    _realized = recorded("Realized")(ConfirmationStage._realized)

    _workflow_status_changed = recorded("WorkflowStatusChanged")(WorkflowStatusKeeping._workflow_status_changed)
