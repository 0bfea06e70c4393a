"""What orderflow tells the outside world after each web order event: pure functions, event + order -> envelopes.

Two message types leave the engine:

- ``web_order_synced`` (storefront-sync topic): the order as the back office sees
  it right after one event, with that event's Event Log entry. Its id is
  uuid5 of the order id and the aggregate version it describes, and it carries
  that ``version``: a storefront keeps the highest version it has applied and
  drops anything not newer.
- ``notification`` (notifications topic): new order, customer comment, approval
  requested, order confirmed (with invoice data) and workflow status changed.
  Its id is uuid5 of the causing event (order id and aggregate version) and the
  notification ``kind``: each cause gives one message id, however often the
  stream is re-published.

Both are built from the event and the aggregate as that event left it, so
re-publishing from position 0 gives the same ids and the same payloads.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from uuid import NAMESPACE_URL, UUID, uuid5

from orderflow.aggregates.draft import OrderDraft
from orderflow.aggregates.event_log_row import event_log_entry
from orderflow.aggregates.lines import Version
from orderflow.aggregates.web_order import WebOrder
from orderflow.contract.envelope import Envelope, format_time

PRODUCER = "orderflow"
WEB_ORDER_SYNCED = "web_order_synced"
NOTIFICATION = "notification"
DEFAULT_ORDER_URL_TEMPLATE = "https://shop.example/orders/{storefront_reference}"
OUTBOUND_NAMESPACE = uuid5(NAMESPACE_URL, "orderflow:outbound")

NEW_ORDER = "new_order"
CUSTOMER_COMMENT = "customer_comment"
APPROVAL_REQUESTED = "approval_requested"
ORDER_CONFIRMED = "order_confirmed"
WORKFLOW_STATUS_CHANGED = "workflow_status_changed"

Json = dict[str, Any]


def sync_message_id(order_id: UUID, version: int) -> str:
    """The id of the ``web_order_synced`` message describing aggregate ``version`` of an order."""
    return str(uuid5(OUTBOUND_NAMESPACE, f"{WEB_ORDER_SYNCED}:{order_id}:{version}"))


def notification_message_id(order_id: UUID, version: int, kind: str) -> str:
    """The id of the ``kind`` notification caused by the event at aggregate ``version`` of an order."""
    return str(uuid5(OUTBOUND_NAMESPACE, f"{NOTIFICATION}:{order_id}:{version}:{kind}"))


def order_url(template: str, order: WebOrder) -> str:
    """The customer's link to the order: ``template`` with ``{storefront_reference}``, ``{web_order_no}``, ``{order_id}``."""
    return template.format(
        storefront_reference=quote(order.storefront_reference, safe=""),
        web_order_no=quote(order.web_order_no, safe=""),
        order_id=order.id,
    )


# -- storefront sync ------------------------------------------------------------------------------


def storefront_sync_messages(event: Any, order: WebOrder) -> list[Envelope]:
    """The ``web_order_synced`` message for a web order event (none for any other event)."""
    if not isinstance(event, WebOrder.Event):
        return []
    return [
        Envelope(
            key=order.storefront_reference,
            message_id=sync_message_id(order.id, order.version),
            message_type=WEB_ORDER_SYNCED,
            occurred_at=event.at,  # type: ignore[attr-defined]  # every web order event has ``at``
            payload=sync_payload(event, order),
            producer=PRODUCER,
        )
    ]


def sync_payload(event: Any, order: WebOrder) -> Json:
    """The order as ``event`` left it, as the storefront shows it."""
    status, mismatch, document = order.workflow_status, order.amount_mismatch, order.sales_document
    approval = order.approval
    entry = event_log_entry(event)
    return _wire(
        {
            "order_id": order.id,
            "storefront_reference": order.storefront_reference,
            "web_order_no": order.web_order_no,
            "version": order.version,
            "event": type(event).__name__,
            "changed_at": event.at,
            "customer_type": order.customer_type,
            "order_date": order.order_date,
            "refused": order.refused,
            "refusal_reasons": [problem.to_dict() for problem in order.refusal_reasons],
            "workflow_status": (
                {"status": status.status, "caused_by": status.caused_by, "changed_at": status.at} if status else None
            ),
            "approval": {
                "state": approval.state,
                "subject": approval.subject,
                "requested_version": approval.requested_version,
                "approved_version": approval.approved_version,
            },
            "confirmation": order.confirmation,
            "prebook_status": order.prebook_status,
            "sales_document": (
                {"type": document.type, "no": document.no, "expires_on": document.expires_on} if document else None
            ),
            "released": order.released,
            "current_version": _version(order.versions[-1]) if order.versions else None,
            "version_count": len(order.versions),
            "shipped_quantities": [
                {"line_no": line_no, "quantity": quantity} for line_no, quantity in sorted(order.shipped_quantities.items())
            ],
            "amount_paid": order.amount_paid,
            "amount_mismatch": (
                {"web_order_total": mismatch.web_order_total, "sales_document_total": mismatch.sales_document_total}
                if mismatch
                else None
            ),
            "flags": {
                "amount_mismatch": mismatch is not None,
                "unpaid": order.unpaid,
                "underpaid": order.underpaid,
                "overpaid": order.overpaid,
            },
            "event_log": [{"version": order.version, **entry}] if entry else [],
        }
    )


def _version(version: Version) -> Json:
    """A version in wire form, built once per version object.

    A version never changes once made and is in every later sync message of its
    order. Remembered by identity, not equality: equal decimals may be written
    differently ("1" and "1.0"), and the payload keeps the writing it was given.
    """
    known = _VERSIONS.get(id(version))
    if known is not None and known[0] is version:
        _VERSIONS.move_to_end(id(version))
        return known[1]
    wired = _Wired(
        _wire(
            {
                "number": version.number,
                "kind": version.kind,
                "source": version.source,
                "made_at": version.made_at,
                "lines": [line.to_dict() for line in version.lines],
                "total": version.total,
            }
        )
    )
    _VERSIONS[id(version)] = (version, wired)
    if len(_VERSIONS) > VERSIONS_CACHED:
        _VERSIONS.popitem(last=False)
    return wired


VERSIONS_CACHED = 2_048
"""How many versions ``_version`` remembers, least recently used dropped first: about one per order the
outbound publisher keeps in memory (``CACHED_ORDERS``). Each entry holds its version, and so its lines,
alive after its order left every cache; 10,000 of them were most of what grew from 3,000 orders to 30,000."""

_VERSIONS: OrderedDict[int, tuple[Version, Json]] = OrderedDict()


# -- notifications -------------------------------------------------------------------------------


def notification_kinds(event: Any) -> list[str]:
    """The notifications a web order event causes, in a fixed order (none for most events)."""
    name = type(event).__name__
    kinds = []
    if name == "Placed":
        kinds.append(NEW_ORDER)
    elif getattr(event, "workflow_status", None):
        kinds.append(WORKFLOW_STATUS_CHANGED)
    if name == "CommentAdded":
        kinds.append(CUSTOMER_COMMENT)
    if name == "ApprovalRequested" or (name == "ApprovalSet" and event.state == "Pending"):
        kinds.append(APPROVAL_REQUESTED)
    if name == "ConfirmedByShop":
        kinds.append(ORDER_CONFIRMED)
    return kinds


def notification_messages(event: Any, order: WebOrder, url_template: str = DEFAULT_ORDER_URL_TEMPLATE) -> list[Envelope]:
    """One ``notification`` per kind that ``event`` causes; ``order`` is the aggregate right after it."""
    if not isinstance(event, WebOrder.Event):
        return []
    return [
        Envelope(
            key=order.storefront_reference,
            message_id=notification_message_id(order.id, order.version, kind),
            message_type=NOTIFICATION,
            occurred_at=event.at,  # type: ignore[attr-defined]  # every web order event has ``at``
            payload=_wire({**_common(event, order, kind, url_template), "details": DETAILS[kind](event, order)}),
            producer=PRODUCER,
        )
        for kind in notification_kinds(event)
    ]


def _placed(order: WebOrder) -> OrderDraft:
    """The order as placed: only placed orders cause notifications."""
    draft = order.draft
    assert draft is not None, "only placed orders cause notifications"
    return draft


def _common(event: Any, order: WebOrder, kind: str, url_template: str) -> Json:
    draft = _placed(order)
    actor = event.actor
    return {
        "kind": kind,
        "order_id": order.id,
        "storefront_reference": order.storefront_reference,
        "web_order_no": order.web_order_no,
        "version": order.version,
        "caused_by": type(event).__name__,
        "at": event.at,
        "order_url": order_url(url_template, order),
        "recipient": {
            "name": draft.b2c_customer.name or draft.sell_to_contact or draft.sell_to_customer_name,
            "email": draft.b2c_customer.email or draft.email,
            "customer_no": draft.sell_to_customer_no,
        },
        "by": {key: actor.get(key, "") for key in ("user_type", "user_no", "person_name", "company")},
    }


def _new_order(event: Any, order: WebOrder) -> Json:
    draft = _placed(order)
    return {
        "customer_type": draft.customer_type,
        "checkout_type": draft.checkout_type,
        "order_date": draft.order_date,
        "customer_comment": draft.customer_comment,
        "workflow_status": event.workflow_status,
        **_amounts(order),
    }


def _approval_requested(event: Any, order: WebOrder) -> Json:
    return {
        "subject": order.approval.subject,
        "requested_version": order.approval.requested_version,
        "total": order.current_total,
    }


def _order_confirmed(event: Any, order: WebOrder) -> Json:
    draft, shipping = _placed(order), order.shipping
    return {
        "auto": event.auto,
        "invoice": {
            "email": draft.b2c_customer.email or draft.email,
            "bill_to_name": draft.b2c_customer.name or draft.sell_to_customer_name,
            "ship_to": {"name": shipping.name, "address": shipping.address, "address_2": shipping.address_2,
                        "post_code": shipping.post_code, "city": shipping.city,
                        "country_region_code": shipping.country_region_code},
            "payment_method_code": draft.payment.payment_method_code,
            **_amounts(order),
        },
    }


def _amounts(order: WebOrder) -> Json:
    version, draft = order.current_version, _placed(order)
    return {
        "currency_code": draft.currency_code,
        "prices_including_vat": draft.prices_including_vat,
        "lines": [line.to_dict() for line in version.lines],
        "total": version.total,
        "amount_paid": order.amount_paid,
    }


DETAILS = {
    NEW_ORDER: _new_order,
    CUSTOMER_COMMENT: lambda event, order: {"comment": event.text},
    APPROVAL_REQUESTED: _approval_requested,
    ORDER_CONFIRMED: _order_confirmed,
    WORKFLOW_STATUS_CHANGED: lambda event, order: {
        "status": event.workflow_status,
        "comment": getattr(event, "comment", "") or "",
    },
}


def _wire(value: Any) -> Any:
    """``value`` with only msgpack/JSON types: decimals as strings, times ISO 8601 UTC, enums by value.

    Called for every message of every event: each value is converted by the function :data:`_CONVERT`
    keeps for its exact type (plain values are kept without a call); only a type seen for the first
    time goes through :func:`_convert_other`, which remembers the enums it meets.
    """
    convert = _CONVERT.get(type(value))
    if convert is None:
        return _convert_other(value)
    return value if convert is _same else convert(value)


def _wire_dict(value: dict) -> dict:
    get = _CONVERT.get
    return {
        key: item if (convert := get(type(item))) is _same else convert(item) if convert else _convert_other(item)
        for key, item in value.items()
    }


def _wire_list(value: list | tuple) -> list:
    get = _CONVERT.get
    return [
        item if (convert := get(type(item))) is _same else convert(item) if convert else _convert_other(item)
        for item in value
    ]


def _convert_other(value: Any) -> Any:
    """:func:`_wire` of a value whose exact type is not in :data:`_CONVERT` (by ``isinstance``)."""
    if isinstance(value, Enum):
        _CONVERT[type(value)] = _enum_value  # a handful of enum classes: remembered by exact type
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, (date, UUID)):
        return str(value)
    if isinstance(value, dict):
        return _wire_dict(value)
    if isinstance(value, (list, tuple)):
        return _wire_list(value)
    return value


def _same(value: Any) -> Any:
    """The conversion of plain values and of :class:`_Wired` parts: none (compared by identity, never called)."""
    return value


def _enum_value(value: Enum) -> Any:
    return value.value


class _Wired(dict):
    """A payload part already in wire types (``_wire`` passes it as it is)."""


@lru_cache(maxsize=4096)
def _time(at: datetime) -> str:
    """``format_time``, remembered: the same few instants recur in every message about an order."""
    return format_time(at)


_CONVERT: dict[type, Callable[[Any], Any]] = {
    str: _same, int: _same, bool: _same, float: _same, type(None): _same, _Wired: _same,
    dict: _wire_dict, list: _wire_list, tuple: _wire_list,
    Decimal: str, datetime: _time, date: str, UUID: str,
}
"""Exact type -> its conversion to wire types; enum classes are added as they are met."""
