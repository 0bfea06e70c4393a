"""The manual's Event Log row of a web order event, derived from the event alone.

Every event records its actor and time, so each one gives one row: user type,
user no., entry time, event type, new status, comment, person name and company.
An event that moved the Workflow Status is a ``Workflow Status Change`` row
(its comment says what happened); the others have their own event types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow.aggregates.web_order import WebOrder

WORKFLOW_STATUS_CHANGE = "Workflow Status Change"
UPDATE_FROM_SALES_DOC = "Update from Sales Doc."
CUSTOMER_COMMENT = "Customer Comment"
BACK_OFFICE_COMMENT = "Back-Office Comment"
APPROVAL_STATUS_CHANGE = "Approval Status Change"
PAYMENT_GATEWAY_EVENT = "Payment Gateway Event"
ORDER_PLACED = "Order Placed"
ORDER_REFUSED = "Order Refused"
LINKED_TO_SALES_DOC = "Linked to Sales Doc."
SALES_DOC_RELEASED = "Sales Doc. Released"
SHIPMENT_POSTED = "Shipment Posted"
AMOUNT_MISMATCH = "Amount Mismatch"
CONFIRMATION = "Confirmation"
PREBOOK_CHECKOUT = "Prebook Checkout"
QUOTE_APPROVAL = "Quote Approval"

Row = tuple[str, str | None, str]


def _placed(e: Any) -> Row:
    return ORDER_PLACED, e.workflow_status, e.draft.get("customer_comment", "")


def _refused(e: Any) -> Row:
    return ORDER_REFUSED, None, "; ".join(f"{r['code']}: {r['detail']}" for r in e.reasons)


def _linked(e: Any) -> Row:
    expiry = f", expires {e.expires_on.isoformat()}" if e.expires_on else ""
    return LINKED_TO_SALES_DOC, e.workflow_status, f"Sales {e.document_type} {e.document_no} created{expiry}"


def _shipped(e: Any) -> Row:
    shipped = ", ".join(f"line {entry['line_no']} x {entry['quantity']}" for entry in e.lines)
    shipment = f"Shipment {e.shipment_no}" if e.shipment_no else "Shipment"
    return SHIPMENT_POSTED, e.workflow_status, f"{shipment} posted: {shipped}"


def _payment(e: Any) -> Row:
    info = f" ({e.status_info})" if e.status_info else ""
    return PAYMENT_GATEWAY_EVENT, None, f"{e.result} transaction {e.transaction_id}, amount {e.amount}{info}"


# event class name -> its (event type, new status or None, comment)
ROWS: dict[str, Callable[[Any], Row]] = {
    "Placed": _placed,
    "Refused": _refused,
    "CommentAdded": lambda e: (CUSTOMER_COMMENT, None, e.text),
    "BackOfficeCommentAdded": lambda e: (BACK_OFFICE_COMMENT, None, e.text),
    "ApprovalRequested": lambda e: (APPROVAL_STATUS_CHANGE, "Pending", f"approval of {e.subject} version {e.version} requested"),
    "ApprovedByCustomer": lambda e: (APPROVAL_STATUS_CHANGE, "Approved", f"version {e.version} approved by the customer"),
    "ApprovalSet": lambda e: (APPROVAL_STATUS_CHANGE, e.state, e.comment or f"set by hand at version {e.version}"),
    "ConfirmedByCustomer": lambda e: (
        CONFIRMATION,
        "Awaiting Shop Confirmation",
        "confirmed on the customer's behalf" if e.on_behalf else "confirmed by the customer",
    ),
    "ConfirmedByShop": lambda e: (
        CONFIRMATION,
        "Confirmed",
        "confirmed automatically upon checkout" if e.auto else "confirmed by the shop; invoice e-mailed",
    ),
    "Realized": lambda e: (CONFIRMATION, "Realized", "order realized"),
    "PaymentGatewayEventRecorded": _payment,
    "PrebookLineCheckedOut": lambda e: (PREBOOK_CHECKOUT, e.prebook_status, f"prebook line {e.line_no} checked out"),
    "LinkedToSalesDocument": _linked,
    "QuoteApprovedForConversion": lambda e: (
        QUOTE_APPROVAL,
        None,
        f"quote {e.quote_no} version {e.version} approved for conversion",
    ),
    "QuoteApprovalVoided": lambda e: (
        QUOTE_APPROVAL,
        None,
        f"approval of quote {e.quote_no} voided by the customer's edit (version {e.version})",
    ),
    "MadeOrderFromQuote": lambda e: (
        LINKED_TO_SALES_DOC,
        e.workflow_status,
        f"Quote {e.quote_no} made into Order {e.order_no}" + (" with checkout" if e.shipping is not None else ""),
    ),
    "SalesDocumentReleased": lambda e: (
        SALES_DOC_RELEASED,
        e.workflow_status,
        f"{e.document_type} {e.document_no} released, total {e.sales_document_total}",
    ),
    "AmountMismatchFlagged": lambda e: (
        AMOUNT_MISMATCH,
        None,
        f"web order total {e.web_order_total}, sales document total {e.sales_document_total}",
    ),
    "AmountMismatchResolved": lambda e: (AMOUNT_MISMATCH, None, f"resolved: {e.resolution}"),
    "ShipmentPosted": _shipped,
    "RefreshedFromSalesDocument": lambda e: (UPDATE_FROM_SALES_DOC, None, f"version {e.version} from {e.source}"),
    "WorkflowStatusChanged": lambda e: (WORKFLOW_STATUS_CHANGE, e.workflow_status, e.comment or "changed by hand"),
}


def event_log_entry(event: object) -> dict[str, Any] | None:
    """The Event Log row of a web order event; None for any other event (setup, numbering)."""
    if not isinstance(event, WebOrder.Event):
        return None
    event_type, new_status, comment = ROWS[type(event).__name__](event)
    if getattr(event, "workflow_status", None) and event_type != ORDER_PLACED:
        event_type = WORKFLOW_STATUS_CHANGE
    actor = event.actor  # type: ignore[attr-defined]
    return {
        "user_type": actor["user_type"],
        "user_no": actor["user_no"],
        "entry_time": event.at,  # type: ignore[attr-defined]
        "event_type": event_type,
        "new_status": new_status,
        "comment": comment,
        "person_name": actor.get("person_name", ""),
        "company": actor.get("company", ""),
    }
