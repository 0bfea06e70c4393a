"""The whole order book as it stood at any instant: every order's status, approval, version, totals and paid.

One pass over the order events of the store, in store order: each order is advanced, in memory, by its
events up to the last one whose business time ``at`` is at or before the instant (as
:func:`orderflow.analyst.history.order_as_of` rebuilds one order), and its row is given, and the order
dropped, as soon as the pass is past the order's last event (its ``web_orders.position``). So memory holds
the orders in flight, not the whole book, and the store is read once, not once per order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from orderflow.aggregates.web_order import WebOrder
from orderflow.analyst.columns import BOOK
from orderflow.analyst.export import OrderKeys, head, notification_pages, parquet_module, write_table
from orderflow.application.orders import Orders
from orderflow.application.shredding import ORDER_TOPICS
from orderflow.contract.envelope import format_time
from orderflow.db import Database


def book_row(order: WebOrder, when: datetime | None, customer_key: str | None = None,
             last_change_at: datetime | None = None) -> dict[str, Any]:
    """One order of the book (:data:`~orderflow.analyst.columns.BOOK`), as ``order`` stands."""
    status, document = order.workflow_status, order.sales_document
    return {
        "as_of": when,
        "order_id": str(order.id),
        "web_order_no": order.web_order_no,
        "storefront_reference": order.storefront_reference,
        "customer_key": customer_key,
        "customer_type": None if order.customer_type is None else str(order.customer_type),
        "order_date": order.order_date,
        "refused": order.refused,
        "workflow_status": str(status.status) if status else None,
        "approval": str(order.approval.state),
        "confirmation": None if order.confirmation is None else str(order.confirmation),
        "sales_document_type": str(document.type) if document else None,
        "sales_document_no": document.no if document else None,
        "released": order.released,
        "event_version": order.version,
        "current_version": order.versions[-1].number if order.versions else None,
        "version_count": len(order.versions),
        "current_total": None if order.refused else order.current_total,
        "amount_paid": order.amount_paid,
        "unpaid": order.unpaid,
        "underpaid": order.underpaid,
        "overpaid": order.overpaid,
        "last_change_at": last_change_at,
    }


class _Standing:
    """One order during the pass: as of the instant so far, and its later events not (yet) taken."""

    __slots__ = ("order", "last_at", "later")

    def __init__(self) -> None:
        self.order: WebOrder | None = None
        self.last_at: datetime | None = None
        self.later: list[Any] = []


def order_book(app: Orders, db: Database, when: datetime, page_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """Every order that existed at ``when`` as it stood then, in batches (in the order the pass finishes them)."""
    last_positions = {UUID(order_id): position for order_id, position in db.query("SELECT id, position FROM web_orders")}
    keys = OrderKeys(app, db)
    standing: dict[UUID, _Standing] = {}
    for page in notification_pages(app, 0, head(app), size=page_size):
        page = [n for n in page if n.topic.startswith(ORDER_TOPICS)]
        done = []
        for notification, event in zip(page, app.mapper.to_domain_events(page), strict=True):
            order = standing.setdefault(event.originator_id, _Standing())
            if event.at <= when:  # the events before it are taken too, whatever their time (as order_as_of does)
                for taken in (*order.later, event):
                    order.order = taken.mutate(order.order)
                order.later, order.last_at = [], event.at
            else:
                order.later.append(event)
            if last_positions.get(event.originator_id, notification.id + 1) <= notification.id:
                done.append(event.originator_id)
        yield _rows([(order_id, standing.pop(order_id)) for order_id in done], when, keys)
    yield _rows(list(standing.items()), when, keys)  # orders the read model had not caught up with


def _rows(finished: list[tuple[UUID, _Standing]], when: datetime, keys: OrderKeys) -> list[dict[str, Any]]:
    existed = [(order_id, s.order, s.last_at) for order_id, s in finished if s.order is not None]
    customers = keys.of(str(order_id) for order_id, _, _ in existed)
    return [book_row(order, when, customers[str(order_id)][2], last_at) for order_id, order, last_at in existed]


def export_book(app: Orders, db: Database, out: Path, when: datetime, fmt: str = "jsonl") -> dict[str, Any]:
    """Write ``book.<fmt>``, every order as it stood at ``when``, and ``export.json`` into ``out``."""
    if fmt == "parquet":
        parquet_module()  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    rows = write_table(out / f"book.{fmt}", BOOK, order_book(app, db, when))
    manifest = {"as_of": format_time(when), "format": fmt, "files": [{"table": "book", "file": f"book.{fmt}", "rows": rows}]}
    (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
