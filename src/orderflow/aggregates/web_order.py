"""The web order: everything that happened to one order placed in the storefront.

Every public method decides (guards raise a named :class:`WebOrderError` and
record nothing) and then triggers past-tense events; the ``@event`` methods
only record, deterministically, from the event's attributes. Every event
carries the acting party (``actor``, an :class:`Actor` as a dict) and the time
``at``; events that change the Workflow Status carry the new status, so the
status always names the event that caused it.

Versions are numbered from 1: version 1 is the Original and never changes;
each refresh from the sales document adds a Modified by Sales Doc. version.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from orderflow.aggregates.draft import OrderDraft, Shipping, read_shipping
from orderflow.aggregates.errors import (
    ApprovalNotPending,
    IllegalTransition,
    InvalidCommand,
    InvalidOrder,
    NotAuthorized,
    NotLinked,
    OrderRejected,
    OrderWasRefused,
    Problem,
    QuoteConversionDisabled,
    QuoteExpired,
    QuoteNotApproved,
    VersionNotCurrent,
)
from orderflow.aggregates.lines import Line, Version, VersionKind, read_lines
from orderflow.aggregates.order_taking_setup import OrderTakingSetup, OrderTerms, Permission, Permissions, QuoteConversion
from orderflow.aggregates.order_taking_setup import require_back_office
from orderflow.aggregates.shipments import Shipments
from orderflow.aggregates.values import (
    Actor,
    AmountMismatch,
    Approval,
    ApprovalState,
    AuthorizationResult,
    CheckoutType,
    Comment,
    ConfirmationState,
    CustomerType,
    PaymentEvent,
    PrebookStatus,
    SalesDocument,
    SalesDocumentType,
    StatusChange,
    WorkflowStatus,
    choice,
    money,
    stamp,
)
from orderflow.aggregates.web_order_reads import WebOrderReads
from orderflow.aggregates.payload_reader import Reader, storable

ORDER_NAMESPACE = uuid5(NAMESPACE_URL, "orderflow:web-order")

Json = dict[str, Any]


class WebOrder(WebOrderReads, Aggregate):
    """A web order, from placement (or refusal) to shipment."""

    @staticmethod
    def create_id(storefront_reference: str) -> UUID:
        """The order's id: uuid5 of a fixed namespace and the storefront's reference."""
        return uuid5(ORDER_NAMESPACE, storefront_reference)

    # -- creation ------------------------------------------------------------------------------

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
            draft = OrderDraft.from_stored(self.draft)
            order._start(self, draft.customer_type, draft.sell_to_customer_no, draft.sell_to_customer_name, draft.order_date)
            order._draft = draft
            order._shipping = draft.shipping
            order._terms = OrderTerms.from_dict(self.terms)
            order._versions = [Version(1, VersionKind.ORIGINAL, draft.lines, self.at, "")]
            order._status = StatusChange(WorkflowStatus(self.workflow_status), "Placed", self.at, Actor.from_dict(self.actor))
            order._confirmation = ConfirmationState(self.confirmation)
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
            header = _salvage_header(self.payload)
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

    @classmethod
    def place(
        cls, storefront_reference: str, web_order_no: str, payload: Any, setup: OrderTakingSetup, actor: Actor, at: datetime
    ) -> WebOrder:
        """Place the order the storefront sent, or record it as refused with every reason.

        The terms of the setup in force for the customer are copied into the order.
        With auto-confirm upon checkout the order is confirmed at once.
        """
        order_id = cls.create_id(storefront_reference)
        common = {"storefront_reference": storefront_reference, "web_order_no": web_order_no, **stamp(actor, at)}
        try:
            draft = OrderDraft.from_dict(payload)
        except InvalidOrder as e:
            problems = e.problems
        else:
            terms = setup.terms_for(draft.customer_type, draft.sell_to_customer_no)
            problems = draft.problems() + _checkout_problems(draft, terms)
        if problems:
            kept = storable(payload) if isinstance(payload, dict) else {"payload": storable(payload)}
            reasons = [p.to_dict() for p in problems]
            return cls._create(cls.Refused, id=order_id, payload=kept, reasons=reasons, **common)
        confirmation = ConfirmationState.AWAITING_CUSTOMER if terms.customer_confirmation_required else ConfirmationState.AWAITING_SHOP
        order = cls._create(
            cls.Placed,
            id=order_id,
            draft=draft.to_dict(),
            terms=terms.to_dict(),
            workflow_status=WorkflowStatus.RECEIVED.value,
            confirmation=confirmation.value,
            **common,
        )
        if terms.auto_confirm:
            order._confirmed_by_shop(auto=True, **stamp(actor, at))
        return order

    # -- storefront: comments, approval, confirmation, payment, prebook ------------------------------

    def add_comment(self, text: str, actor: Actor, at: datetime) -> None:
        """A comment the customer posts after placing the order."""
        self._check_active()
        if actor.is_back_office:
            raise NotAuthorized("customer comments come from the storefront, not the back office")
        if not isinstance(text, str) or not text.strip():
            raise InvalidCommand("a comment needs text")
        self._commented(text=text, **stamp(actor, at))

    @event("CommentAdded")
    def _commented(self, text: str, actor: Json, at: datetime) -> None:
        self._comments = [*self._comments, Comment(text, at, Actor.from_dict(actor))]

    def request_approval(self, actor: Actor, at: datetime) -> None:
        """Ask the customer to approve the current version of the linked quote (to place it) or order (its changes)."""
        self._check_active()
        require_back_office(actor, "request approval")
        document = self._linked()
        version = self.current_version.number
        if self._approval.state is ApprovalState.PENDING and self._approval.requested_version == version:
            raise IllegalTransition(f"approval of version {version} is already pending")
        self._approval_requested(subject=document.type.value, version=version, **stamp(actor, at))

    @event("ApprovalRequested")
    def _approval_requested(self, subject: str, version: int, actor: Json, at: datetime) -> None:
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

    @event("ApprovedByCustomer")
    def _approved_by_customer(self, version: int, actor: Json, at: datetime) -> None:
        self._approval = Approval(ApprovalState.APPROVED, self._approval.subject, self._approval.requested_version, version)

    def set_approval(self, state: str, actor: Actor, at: datetime, permissions: Permissions, comment: str = "") -> None:
        """The back office sets the Customer Approval by hand (the only way to reject it)."""
        self._check_active()
        permissions.check(actor, Permission.SET_APPROVAL)
        new = choice(ApprovalState, state, "approval state")
        if new is self._approval.state:
            raise IllegalTransition(f"approval is already {new.value or 'blank'}")
        self._approval_set(state=new.value, version=self.current_version.number, comment=comment, **stamp(actor, at))

    @event("ApprovalSet")
    def _approval_set(self, state: str, version: int, comment: str, actor: Json, at: datetime) -> None:
        new = ApprovalState(state)
        subject = self._sales_document.type if self._sales_document else None
        if new is ApprovalState.NONE:
            self._approval = Approval()
        elif new is ApprovalState.PENDING:
            self._approval = Approval(new, subject, version)
        else:
            approved = version if new is ApprovalState.APPROVED else None
            self._approval = Approval(new, self._approval.subject or subject, self._approval.requested_version, approved)

    def confirm_by_customer(self, actor: Actor, at: datetime, permissions: Permissions) -> None:
        """The customer confirms the order, or a permitted back-office user confirms on their behalf."""
        self._check_active()
        on_behalf = actor.is_back_office
        if on_behalf:
            permissions.check(actor, Permission.CONFIRM)
        self._check_confirmation(ConfirmationState.AWAITING_CUSTOMER)
        self._confirmed_by_customer(on_behalf=on_behalf, **stamp(actor, at))

    @event("ConfirmedByCustomer")
    def _confirmed_by_customer(self, on_behalf: bool, actor: Json, at: datetime) -> None:
        self._confirmation = ConfirmationState.AWAITING_SHOP

    def confirm_by_shop(self, actor: Actor, at: datetime, permissions: Permissions) -> None:
        """The shop confirms the order; the invoice is e-mailed to the customer."""
        self._check_active()
        permissions.check(actor, Permission.CONFIRM)
        self._check_confirmation(ConfirmationState.AWAITING_SHOP)
        self._confirmed_by_shop(auto=False, **stamp(actor, at))

    @event("ConfirmedByShop")
    def _confirmed_by_shop(self, auto: bool, actor: Json, at: datetime) -> None:
        self._confirmation = ConfirmationState.CONFIRMED

    def mark_realized(self, actor: Actor, at: datetime) -> None:
        """The ERP fulfilled (invoiced and issued) the confirmed order."""
        self._check_active()
        require_back_office(actor, "mark realized")
        self._check_confirmation(ConfirmationState.CONFIRMED)
        self._realized(**stamp(actor, at))

    @event("Realized")
    def _realized(self, actor: Json, at: datetime) -> None:
        self._confirmation = ConfirmationState.REALIZED

    def record_payment_event(
        self, result: str, transaction_id: str, amount: Decimal, actor: Actor, at: datetime, status_info: str = ""
    ) -> None:
        """What the payment gateway reported: OK sets the transaction's amount paid, FAILURE clears it."""
        self._check_active()
        outcome = choice(AuthorizationResult, result, "authorization result")
        if not isinstance(transaction_id, str):
            raise InvalidCommand(f"a transaction id is a string, not a {type(transaction_id).__name__}")
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
            raise InvalidCommand("a payment amount is a finite, non-negative Decimal")
        self._payment_recorded(
            result=outcome.value, transaction_id=transaction_id, amount=money(amount), status_info=status_info, **stamp(actor, at)
        )

    @event("PaymentGatewayEventRecorded")
    def _payment_recorded(
        self, result: str, transaction_id: str, amount: Decimal, status_info: str, actor: Json, at: datetime
    ) -> None:
        outcome = AuthorizationResult(result)
        self._payment_events = [*self._payment_events, PaymentEvent(outcome, transaction_id, amount, status_info, at)]
        paid = {k: v for k, v in self._paid.items() if k != transaction_id}
        if outcome is AuthorizationResult.OK and amount:
            paid[transaction_id] = amount
        self._paid = paid

    def check_out_prebook_line(self, line_no: int, actor: Actor, at: datetime) -> None:
        """Check out one prebook line; the prebook is Checked Out once all its lines are."""
        self._check_active()
        prebook = self._prebook_line_nos()
        if line_no not in prebook:
            raise InvalidCommand(f"line {line_no} is not a prebook line of version {self.current_version.number}")
        if line_no in self._checked_out:
            raise IllegalTransition(f"prebook line {line_no} is already checked out")
        done = prebook <= self._checked_out | {line_no}
        status = PrebookStatus.CHECKED_OUT if done else PrebookStatus.DRAFT
        self._prebook_line_checked_out(line_no=line_no, prebook_status=status.value, **stamp(actor, at))

    @event("PrebookLineCheckedOut")
    def _prebook_line_checked_out(self, line_no: int, prebook_status: str, actor: Json, at: datetime) -> None:
        self._checked_out = self._checked_out | {line_no}

    # -- ERP: sales documents, release, shipment, refresh ------------------------------------------------

    def link_sales_document(
        self, document_type: str, document_no: str, actor: Actor, at: datetime, expires_on: date | None = None
    ) -> None:
        """The ERP created a sales quote or order from this web order."""
        self._check_progress(actor, "link a sales document")
        kind = choice(SalesDocumentType, document_type, "sales document type")
        if not document_no:
            raise InvalidCommand("a sales document no. is required")
        if expires_on is not None and kind is not SalesDocumentType.QUOTE:
            raise InvalidCommand("only a quote has an expiration date")
        if self._sales_document is not None:
            linked = self._sales_document
            if linked.type is SalesDocumentType.ORDER and kind is SalesDocumentType.QUOTE:
                raise IllegalTransition(f"linked to order {linked.no}: an order never goes back to a quote")
            raise IllegalTransition(f"already linked to {linked.type.value} {linked.no}; make an order from the quote instead")
        status = WorkflowStatus.RESERVATION if kind is SalesDocumentType.ORDER else None
        self._linked_to_sales_document(
            document_type=kind.value,
            document_no=document_no,
            expires_on=expires_on,
            workflow_status=self._status_change(status),
            **stamp(actor, at),
        )

    @event("LinkedToSalesDocument")
    def _linked_to_sales_document(
        self, document_type: str, document_no: str, expires_on: date | None, workflow_status: str | None, actor: Json, at: datetime
    ) -> None:
        self._sales_document = SalesDocument(SalesDocumentType(document_type), document_no, expires_on)
        self._record_status(workflow_status, "LinkedToSalesDocument", actor, at)

    def approve_quote_for_conversion(self, actor: Actor, at: datetime, permissions: Permissions) -> None:
        """A permitted back-office user (a sales manager) lets the customer convert the linked quote."""
        self._check_active()
        permissions.check(actor, Permission.APPROVE_QUOTE)
        quote = self._linked_quote(at)
        if self._quote_approved_version is not None:
            raise IllegalTransition(f"quote {quote.no} is already approved for conversion")
        self._quote_approved(quote_no=quote.no, version=self.current_version.number, **stamp(actor, at))

    @event("QuoteApprovedForConversion")
    def _quote_approved(self, quote_no: str, version: int, actor: Json, at: datetime) -> None:
        self._quote_approved_version = version

    def make_order_from_quote(
        self, order_no: str, actor: Actor, at: datetime, shipping: Json | None = None
    ) -> None:
        """The linked quote became a sales order; the link moves to the order.

        A customer converts only if conversion is enabled and the quote is promotable by
        default or approved; a new shipping section only with conversion "with checkout".
        Nobody converts an expired quote.
        """
        self._check_progress(actor, "make an order from a quote", customers_too=True)
        if not order_no:
            raise InvalidCommand("a sales order no. is required")
        quote = self._linked_quote(at)
        if not actor.is_back_office:
            self._check_customer_may_convert(quote, with_checkout=shipping is not None)
        elif shipping is not None:
            raise IllegalTransition("the shipping section changes only when the customer converts with checkout")
        self._made_order_from_quote(
            quote_no=quote.no,
            order_no=order_no,
            shipping=None if shipping is None else read_shipping(shipping),
            workflow_status=self._status_change(WorkflowStatus.RESERVATION),
            **stamp(actor, at),
        )

    @event("MadeOrderFromQuote")
    def _made_order_from_quote(
        self, quote_no: str, order_no: str, shipping: Json | None, workflow_status: str | None, actor: Json, at: datetime
    ) -> None:
        self._sales_document = SalesDocument(SalesDocumentType.ORDER, order_no)
        self._released = False
        if shipping is not None:
            self._shipping = Shipping(**shipping)
        self._record_status(workflow_status, "MadeOrderFromQuote", actor, at)

    def release_sales_document(self, total: Decimal, actor: Actor, at: datetime) -> None:
        """The ERP released the linked document; its total is checked against the web order's."""
        self._check_progress(actor, "release a sales document")
        document = self._linked()
        if not isinstance(total, Decimal) or not total.is_finite():
            raise InvalidCommand("a sales document total is a finite Decimal")
        document_total, web_total = money(total), self.current_total
        order = document.type is SalesDocumentType.ORDER
        status = WorkflowStatus.WAREHOUSE if order and not self._shipments.any else None
        self._sales_document_released(
            document_type=document.type.value,
            document_no=document.no,
            sales_document_total=document_total,
            web_order_total=web_total,
            workflow_status=self._status_change(status),
            **stamp(actor, at),
        )
        if document_total != web_total and self._mismatch != AmountMismatch(web_total, document_total):
            self._mismatch_flagged(web_order_total=web_total, sales_document_total=document_total, **stamp(actor, at))
        elif document_total == web_total and self._mismatch is not None:
            self._mismatch_resolved(resolution="Sales document matches", **stamp(actor, at))

    @event("SalesDocumentReleased")
    def _sales_document_released(
        self,
        document_type: str,
        document_no: str,
        sales_document_total: Decimal,
        web_order_total: Decimal,
        workflow_status: str | None,
        actor: Json,
        at: datetime,
    ) -> None:
        self._released = self._released or document_type == SalesDocumentType.ORDER.value
        self._record_status(workflow_status, "SalesDocumentReleased", actor, at)

    @event("AmountMismatchFlagged")
    def _mismatch_flagged(self, web_order_total: Decimal, sales_document_total: Decimal, actor: Json, at: datetime) -> None:
        self._mismatch = AmountMismatch(web_order_total, sales_document_total)

    @event("AmountMismatchResolved")
    def _mismatch_resolved(self, resolution: str, actor: Json, at: datetime) -> None:
        self._mismatch = None

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

    @event("ShipmentPosted")
    def _shipment_posted(
        self, shipment_no: str, lines: list[Json], workflow_status: str | None, actor: Json, at: datetime
    ) -> None:
        self._shipments = self._shipments.add({entry["line_no"]: entry["quantity"] for entry in lines})
        self._record_status(workflow_status, "ShipmentPosted", actor, at)

    def refresh_from_sales_document(
        self, lines: list[Json], actor: Actor, at: datetime, request_approval: bool = False
    ) -> None:
        """Make a new Modified by Sales Doc. version from the linked document's current lines.

        Resolves an amount mismatch. An edit by the customer voids the quote's approval for
        conversion unless the quote is promotable by default. With ``request_approval`` the
        customer is asked to approve the new version.
        """
        self._check_progress(actor, "refresh from the sales document", customers_too=True)
        if request_approval:
            require_back_office(actor, "request approval")
        document = self._linked()
        reader = Reader()
        new_lines = read_lines(reader, lines)
        if reader.problems:
            raise InvalidOrder(reader.problems)
        self._shipments.check_refresh(self.current_version, new_lines)
        number = len(self._versions) + 1
        self._refreshed(
            version=number,
            source=f"{document.type.value} {document.no}",
            lines=[line.to_dict() for line in new_lines],
            **stamp(actor, at),
        )
        if self._mismatch is not None:
            self._mismatch_resolved(resolution="Web order refreshed", **stamp(actor, at))
        if self._voids_quote_approval(document, actor):
            self._quote_approval_voided(quote_no=document.no, version=number, **stamp(actor, at))
        if request_approval:
            self._approval_requested(subject=document.type.value, version=number, **stamp(actor, at))

    @event("RefreshedFromSalesDocument")
    def _refreshed(self, version: int, source: str, lines: list[Json], actor: Json, at: datetime) -> None:
        new_lines = tuple(Line.from_dict(line) for line in lines)
        self._versions = [*self._versions, Version(version, VersionKind.MODIFIED, new_lines, at, source)]

    @event("QuoteApprovalVoided")
    def _quote_approval_voided(self, quote_no: str, version: int, actor: Json, at: datetime) -> None:
        self._quote_approved_version = None

    # -- back office: workflow status by hand --------------------------------------------------------

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

    @event("WorkflowStatusChanged")
    def _workflow_status_changed(self, workflow_status: str, comment: str, actor: Json, at: datetime) -> None:
        self._record_status(workflow_status, "WorkflowStatusChanged", actor, at)

    # -- guards and helpers ------------------------------------------------------------------------

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

    def _check_confirmation(self, expected: ConfirmationState) -> None:
        if self._confirmation is not expected:
            raise IllegalTransition(f"confirmation is {self._confirmation}, not {expected.value}")

    def _linked(self) -> SalesDocument:
        if self._sales_document is None:
            raise NotLinked(self._web_order_no)
        return self._sales_document

    def _linked_quote(self, at: datetime) -> SalesDocument:
        document = self._linked()
        if document.type is not SalesDocumentType.QUOTE:
            raise IllegalTransition(f"linked to {document.type.value} {document.no}, not to a quote")
        if document.expired_at(at.date()):
            raise QuoteExpired(document.no, document.expires_on)
        return document

    def _check_customer_may_convert(self, quote: SalesDocument, with_checkout: bool) -> None:
        conversion = self._terms.quote_conversion
        if conversion is QuoteConversion.DISABLED:
            raise QuoteConversionDisabled(self._customer_type.value if self._customer_type else "")
        if with_checkout and conversion is not QuoteConversion.WITH_CHECKOUT:
            raise IllegalTransition("unattended conversion keeps the preselected shipping address")
        if not self._terms.quote_promotable_by_default and self._quote_approved_version is None:
            raise QuoteNotApproved(quote.no)

    def _voids_quote_approval(self, document: SalesDocument, actor: Actor) -> bool:
        return (
            document.type is SalesDocumentType.QUOTE
            and self._quote_approved_version is not None
            and not self._terms.quote_promotable_by_default
            and actor.is_customer
        )

    def _status_change(self, status: WorkflowStatus | None) -> str | None:
        """The new status an event causes, or None if it leaves the status as it is."""
        if status is None or (self._status is not None and self._status.status is status):
            return None
        return status.value

    def _record_status(self, workflow_status: str | None, caused_by: str, actor: Json, at: datetime) -> None:
        if workflow_status is not None:
            self._status = StatusChange(WorkflowStatus(workflow_status), caused_by, at, Actor.from_dict(actor))


def _checkout_problems(draft: OrderDraft, terms: OrderTerms) -> list[Problem]:
    quote = draft.checkout_type is CheckoutType.QUOTE
    if terms.accepts(quote=quote):
        return []
    what = "quote requests" if quote else "orders"
    return [Problem("checkout_option_not_offered", f"{what} are not offered to {draft.customer_type.value} customers")]


def _salvage_header(payload: Json) -> tuple[CustomerType | None, str, str, date | None]:
    """What a refused payload says about its customer, as far as it is readable."""
    reader = Reader()
    customer_type = reader.value(payload.get("customer_type"), CustomerType, "", None)
    on = reader.value(payload.get("order_date"), date, "", None) if payload.get("order_date") else None
    text = [payload.get(k) if isinstance(payload.get(k), str) else "" for k in ("sell_to_customer_no", "sell_to_customer_name")]
    return customer_type, text[0], text[1], on

