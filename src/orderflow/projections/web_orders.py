"""``web_orders``: the back office's Web Orders list, one row per order."""

from __future__ import annotations

from typing import Any

from orderflow.aggregates.web_order import WebOrder
from orderflow.db import Cursor, Database, Position
from orderflow.projections.follow import FollowingView

COLUMNS = (
    "web_order_no", "storefront_reference", "customer_type", "sell_to_customer_no", "sell_to_customer_name",
    "order_date", "workflow_status", "status_caused_by", "approval", "confirmation", "sales_document_type",
    "sales_document_no", "current_total", "amount_paid", "amount_mismatch", "mismatch_web_order_total",
    "mismatch_sales_document_total", "unpaid", "underpaid", "overpaid", "refused", "refusal_reasons",
    "version_count", "last_change_at", "last_event", "position",
)


class WebOrdersView(FollowingView):
    """One row per web order with its status, approval, document link, money and flags."""

    name = "web_orders"
    tables = ("web_orders",)

    def __init__(self, is_postgres: bool, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self._latest: dict[Any, tuple[Any, Position, WebOrder]] = {}

    def create_tables(self, cursor: Cursor) -> None:
        m, t = self.money, self.timestamp
        d = "DATE" if self.is_postgres else "TEXT"
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('web_orders')} (
                id TEXT PRIMARY KEY, web_order_no TEXT NOT NULL, storefront_reference TEXT NOT NULL UNIQUE,
                customer_type TEXT, sell_to_customer_no TEXT, sell_to_customer_name TEXT, order_date {d},
                workflow_status TEXT, status_caused_by TEXT, approval TEXT, confirmation TEXT,
                sales_document_type TEXT, sales_document_no TEXT, current_total {m}, amount_paid {m},
                amount_mismatch BOOLEAN NOT NULL, mismatch_web_order_total {m}, mismatch_sales_document_total {m},
                unpaid BOOLEAN NOT NULL, underpaid BOOLEAN NOT NULL, overpaid BOOLEAN NOT NULL,
                refused BOOLEAN NOT NULL, refusal_reasons TEXT, version_count INTEGER NOT NULL,
                last_change_at {t}, last_event TEXT NOT NULL, position BIGINT NOT NULL)"""
        )

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        # Only an order's last event of the batch makes its row; the order already stands as that event left it.
        self._latest[event.originator_id] = (event, position, aggregate)

    def flush(self, cursor: Cursor) -> None:
        table = self.table("web_orders")
        rows = [
            [str(event.originator_id), *(self.value(row[c]) for c in COLUMNS)]
            for event, position, order in self._latest.values()
            for row in (self.row(order, event, position),)
        ]
        self.insert_rows(
            cursor, table, ("id", *COLUMNS), rows,
            f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS)} "
            f"WHERE {table}.position < excluded.position",
        )
        self._latest.clear()

    def forget(self) -> None:
        self._latest.clear()

    @staticmethod
    def row(order: WebOrder, event: Any, position: Position) -> dict[str, Any]:
        """The list row of ``order`` as ``event`` left it."""
        status, mismatch, document = order.workflow_status, order.amount_mismatch, order.sales_document
        return {
            "web_order_no": order.web_order_no,
            "storefront_reference": order.storefront_reference,
            "customer_type": _text(order.customer_type),
            "sell_to_customer_no": order.sell_to_customer_no,
            "sell_to_customer_name": order.sell_to_customer_name,
            "order_date": order.order_date,
            "workflow_status": _text(status.status) if status else None,
            "status_caused_by": status.caused_by if status else None,
            "approval": _text(order.approval.state),
            "confirmation": _text(order.confirmation),
            "sales_document_type": _text(document.type) if document else None,
            "sales_document_no": document.no if document else None,
            "current_total": None if order.refused else order.current_total,
            "amount_paid": order.amount_paid,
            "amount_mismatch": mismatch is not None,
            "mismatch_web_order_total": mismatch.web_order_total if mismatch else None,
            "mismatch_sales_document_total": mismatch.sales_document_total if mismatch else None,
            "unpaid": order.unpaid,
            "underpaid": order.underpaid,
            "overpaid": order.overpaid,
            "refused": order.refused,
            "refusal_reasons": "; ".join(str(p) for p in order.refusal_reasons) or None,
            "version_count": len(order.versions),
            "last_change_at": event.at,
            "last_event": type(event).__name__,
            "position": position,
        }

    def list_orders(self, db: Database, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The Web Orders list as the back office reads it, newest first."""
        shown = ("web_order_no", "storefront_reference", "customer_type", "sell_to_customer_name", "order_date",
                 "workflow_status", "approval", "sales_document_no", "current_total", "amount_paid")
        where, params = ("WHERE workflow_status = ?", [status]) if status else ("", [])
        rows = db.query(
            f"SELECT {', '.join(shown)}, amount_mismatch, unpaid, underpaid, overpaid, refused "
            f"FROM {self.table('web_orders')} {where} ORDER BY web_order_no DESC LIMIT ?",
            [*params, limit],
        )
        flags = ("mismatch", "unpaid", "underpaid", "overpaid", "refused")
        return [
            {**dict(zip(shown, row[:len(shown)], strict=True)),
             "flags": ",".join(f for f, on in zip(flags, row[len(shown):], strict=True) if on)}
            for row in rows
        ]

    def count_by_status(self, db: Database) -> list[dict[str, Any]]:
        """How many orders are in each Workflow Status, most first."""
        rows = db.query(f"SELECT workflow_status, COUNT(*) FROM {self.table('web_orders')} "
                        "GROUP BY workflow_status ORDER BY 2 DESC, 1")
        return [{"workflow_status": status, "orders": count} for status, count in rows]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
