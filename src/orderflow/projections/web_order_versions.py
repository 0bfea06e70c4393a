"""``web_order_versions``: every version of every order (Original, each Modified by Sales Doc.) with its lines.

Two tables: ``web_order_versions`` (one row per version, with its total and line
count) and ``web_order_version_lines`` (one row per line per version, every line
field). A version never changes once made, so rows are only ever inserted.
"""

from __future__ import annotations

from typing import Any

from orderflow.aggregates.web_order import WebOrder
from orderflow.db import Cursor, Position
from orderflow.projections.follow import FollowingView

LINE_COLUMNS = (
    "line_no", "type", "no", "variant_code", "description", "description_2", "quantity", "unit_of_measure_code",
    "unit_price", "line_discount_pct", "line_amount", "prebook",
)
VERSION_COLUMNS = (
    "order_id", "web_order_no", "storefront_reference", "version_no", "kind", "source", "created_at", "total",
    "line_count", "position",
)
MAKES_A_VERSION = (WebOrder.Placed, WebOrder.RefreshedFromSalesDocument)  # type: ignore[attr-defined]  # defined by recorded(), unseen by mypy


class WebOrderVersionsView(FollowingView):
    """Versions and their lines, as the domain's ``WebOrder.get_version`` gives them."""

    name = "web_order_versions"
    tables = ("web_order_versions", "web_order_version_lines")
    append_only = {
        "web_order_versions": ("order_id", "version_no"),
        "web_order_version_lines": ("order_id", "version_no", "line_no"),
    }

    def create_tables(self, cursor: Cursor) -> None:
        m, t = self.money, self.timestamp
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('web_order_versions')} (
                order_id TEXT NOT NULL, web_order_no TEXT NOT NULL, storefront_reference TEXT NOT NULL,
                version_no INTEGER NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL, created_at {t} NOT NULL,
                total {m} NOT NULL, line_count INTEGER NOT NULL, position BIGINT NOT NULL,
                PRIMARY KEY (order_id, version_no))"""
        )
        d = "NUMERIC" if self.is_postgres else "TEXT"  # quantities, prices, discounts: any scale
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('web_order_version_lines')} (
                order_id TEXT NOT NULL, web_order_no TEXT NOT NULL, version_no INTEGER NOT NULL,
                line_no INTEGER NOT NULL, type TEXT NOT NULL, no TEXT NOT NULL, variant_code TEXT NOT NULL,
                description TEXT NOT NULL, description_2 TEXT NOT NULL, quantity {d} NOT NULL,
                unit_of_measure_code TEXT NOT NULL, unit_price {d} NOT NULL,
                line_discount_pct {d} NOT NULL, line_amount {m} NOT NULL,
                prebook BOOLEAN NOT NULL, PRIMARY KEY (order_id, version_no, line_no))"""
        )

    def __init__(self, is_postgres: bool, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self._versions: list[list[Any]] = []
        self._lines: list[list[Any]] = []

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        if not isinstance(event, MAKES_A_VERSION):
            return
        version = aggregate.versions[-1]
        order_id, web_order_no = str(event.originator_id), aggregate.web_order_no
        self._versions.append(
            [order_id, web_order_no, aggregate.storefront_reference, version.number, str(version.kind), version.source,
             self.value(version.made_at), self.value(version.total), len(version.lines), position]
        )
        self._lines.extend([order_id, web_order_no, version.number, *self._line(line)] for line in version.lines)

    def flush(self, cursor: Cursor) -> None:
        self.insert_rows(
            cursor, self.table("web_order_versions"), VERSION_COLUMNS, self._versions,
            "ON CONFLICT (order_id, version_no) DO NOTHING",
        )
        self.insert_rows(
            cursor, self.table("web_order_version_lines"), ("order_id", "web_order_no", "version_no", *LINE_COLUMNS),
            self._lines, "ON CONFLICT (order_id, version_no, line_no) DO NOTHING",
        )
        self.forget()

    def forget(self) -> None:
        self._versions, self._lines = [], []

    def _line(self, line: Any) -> list[Any]:
        values = line.to_dict()
        return [self.value(values[c]) for c in LINE_COLUMNS]
