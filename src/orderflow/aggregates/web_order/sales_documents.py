"""Sales documents: the ERP links a quote or order, converts the quote, releases, refreshes the web order.

Web Order → (optional) Sales Quote → Sales Order → Released. Making an order
from a linked quote moves the link to the order; an order never goes back to a
quote; an expired quote cannot be converted. A release whose total differs from
the web order's flags an amount mismatch; a refresh adds a Modified by Sales
Doc. version. Recording methods are bound to their events on :class:`WebOrder`
(see :mod:`orderflow.aggregates.web_order.placement`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from orderflow.aggregates.draft import Shipping, read_shipping
from orderflow.aggregates.errors import (
    IllegalTransition,
    InvalidCommand,
    InvalidOrder,
    QuoteConversionDisabled,
    QuoteExpired,
    QuoteNotApproved,
)
from orderflow.aggregates.lines import Line, Version, VersionKind, read_lines
from orderflow.aggregates.order_taking_setup import Permission, Permissions, QuoteConversion, require_back_office
from orderflow.aggregates.payload_reader import Reader
from orderflow.aggregates.values import (
    Actor,
    AmountMismatch,
    SalesDocument,
    SalesDocumentType,
    WorkflowStatus,
    choice,
    money,
    stamp,
)
from orderflow.aggregates.web_order.workflow_status import WorkflowStatusKeeping

Json = dict[str, Any]


class SalesDocumentStage(WorkflowStatusKeeping):
    """Linking, quote conversion, release (and amount mismatch), refresh from the sales document."""

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

    def _linked_to_sales_document(
        self, document_type: str, document_no: str, expires_on: date | None, workflow_status: str | None, actor: Json, at: datetime
    ) -> None:
        """Records ``LinkedToSalesDocument``."""
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

    def _quote_approved(self, quote_no: str, version: int, actor: Json, at: datetime) -> None:
        """Records ``QuoteApprovedForConversion``."""
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

    def _made_order_from_quote(
        self, quote_no: str, order_no: str, shipping: Json | None, workflow_status: str | None, actor: Json, at: datetime
    ) -> None:
        """Records ``MadeOrderFromQuote``."""
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
        """Records ``SalesDocumentReleased``."""
        self._released = self._released or document_type == SalesDocumentType.ORDER.value
        self._record_status(workflow_status, "SalesDocumentReleased", actor, at)

    def _mismatch_flagged(self, web_order_total: Decimal, sales_document_total: Decimal, actor: Json, at: datetime) -> None:
        """Records ``AmountMismatchFlagged``."""
        self._mismatch = AmountMismatch(web_order_total, sales_document_total)

    def _mismatch_resolved(self, resolution: str, actor: Json, at: datetime) -> None:
        """Records ``AmountMismatchResolved``."""
        self._mismatch = None

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
            self._approval_requested(subject=document.type.value, version=number, **stamp(actor, at))  # type: ignore[attr-defined]

    def _refreshed(self, version: int, source: str, lines: list[Json], actor: Json, at: datetime) -> None:
        """Records ``RefreshedFromSalesDocument``."""
        new_lines = tuple(Line.from_dict(line) for line in lines)
        self._versions = [*self._versions, Version(version, VersionKind.MODIFIED, new_lines, at, source)]

    def _quote_approval_voided(self, quote_no: str, version: int, actor: Json, at: datetime) -> None:
        """Records ``QuoteApprovalVoided``."""
        self._quote_approved_version = None

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
