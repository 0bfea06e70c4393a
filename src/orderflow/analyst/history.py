"""An order as it stood at any instant, and what changed between two of its versions.

Rebuilt from the event store (the library's repository at a version); the
read models only find an order by its Web Order No.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from orderflow.aggregates.errors import UnknownOrder
from orderflow.aggregates.event_log_row import event_log_entry
from orderflow.aggregates.web_order import WebOrder
from orderflow.analyst.plain import plain
from orderflow.application.orders import Orders
from orderflow.contract.envelope import format_time
from orderflow.db import Database


def find_order_id(app: Orders, db: Database, order: str) -> UUID:
    """The id of the order with this storefront reference or Web Order No. (read models caught up)."""
    order_id = WebOrder.create_id(order)
    if list(app.events.get(order_id, limit=1)):
        return order_id
    rows = db.query("SELECT id FROM web_orders WHERE web_order_no = ?", (order,))
    if not rows:
        raise UnknownOrder(order)
    return UUID(rows[0][0])


def order_as_of(app: Orders, order_id: UUID, when: datetime | None = None) -> tuple[WebOrder, list[Any]]:
    """The order rebuilt from its events up to the last one whose business time ``at`` is <= ``when``
    (all of them if ``when`` is None), and those events."""
    events = list(app.events.get(order_id))
    last = max((e.originator_version for e in events if when is None or e.at <= when), default=0)  # type: ignore[attr-defined]  # every order event has ``at``
    if not last:
        raise LookupError(f"order {order_id} did not exist yet at {format_time(when) if when else when}")
    return app.repository.get(order_id, version=last), [e for e in events if e.originator_version <= last]


def describe(order: WebOrder, events: Iterable[Any], redriven: Mapping[int, str] | None = None) -> dict[str, Any]:
    """What a user sees of ``order`` given its ``events`` so far, as JSON-ready values.

    ``redriven``: event version -> how a redrive caused it (``repairs`` read model); such an event's entry in
    the event log says so under ``redrive``.
    """
    redriven = redriven or {}
    status, document, approval = order.workflow_status, order.sales_document, order.approval
    described = {
        "web_order_no": order.web_order_no,
        "storefront_reference": order.storefront_reference,
        "event_version": order.version,
        "customer_type": order.customer_type,
        "sell_to_customer_no": order.sell_to_customer_no,
        "sell_to_customer_name": order.sell_to_customer_name,
        "order_date": order.order_date,
        "refused": order.refused,
        "refusal_reasons": [p.to_dict() for p in order.refusal_reasons],
        "workflow_status": status.status if status else None,
        "status_caused_by": status.caused_by if status else None,
        "approval": approval,
        "confirmation": order.confirmation,
        "sales_document": document,
        "released": order.released,
        "prebook_status": order.prebook_status,
        "current_version": order.versions[-1].number if order.versions else None,
        "versions": [
            {"number": v.number, "kind": v.kind, "made_at": v.made_at, "source": v.source, "total": v.total}
            for v in order.versions
        ],
        "lines": [line.to_dict() for line in order.versions[-1].lines] if order.versions else [],
        "current_total": order.current_total,
        "amount_paid": order.amount_paid,
        "unpaid": order.unpaid,
        "underpaid": order.underpaid,
        "overpaid": order.overpaid,
        "amount_mismatch": order.amount_mismatch,
        "payment_events": list(order.payment_events),
        "shipped_quantities": {str(k): v for k, v in sorted(order.shipped_quantities.items())},
        "event_log": [_marked(event_log_entry(e), redriven.get(e.originator_version)) for e in events],
    }
    return plain(described)


def _marked(entry: dict[str, Any] | None, redrive: str | None) -> dict[str, Any] | None:
    return {**entry, "redrive": redrive} if entry is not None and redrive else entry


def diff_rows(order: WebOrder, before: int, after: int) -> list[dict[str, Any]]:
    """Line-level changes from version ``before`` to ``after``: one row per added or removed line, per changed field."""
    rows = []
    for change in order.diff(before, after):
        line = change.after or change.before
        assert line is not None  # a change has a line after it, or before it (a removal)
        common = {"change": change.change, "type": line.type.value, "no": line.no, "variant_code": line.variant_code}
        if change.change == "changed":
            rows += [
                {**common, "field": name, "before": getattr(change.before, name), "after": getattr(change.after, name)}
                for name in change.fields
            ]
        else:
            rows.append({**common, "field": "", "before": change.before and change.before.line_amount,
                         "after": change.after and change.after.line_amount})
    return plain(rows)
