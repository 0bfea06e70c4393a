"""``status_history``: each Workflow Status period of each web order, for time-in-status analytics.

A period starts with the event that set the status (``caused_by``, as the
domain's ``StatusChange`` names it) and ends (``to_at``) when the next status
change starts; ``to_at`` is NULL while the status is current. Periods are keyed
by the version of the event that opened them, so applying an event twice
changes nothing.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from orderflow.db import Cursor, Position
from orderflow.projections.follow import FollowingView

COLUMNS = (
    "order_id", "opened_version", "web_order_no", "status", "from_at", "to_at", "caused_by", "changed_by",
    "position",
)
ORDER_ID, OPENED, FROM_AT, TO_AT = (COLUMNS.index(c) for c in ("order_id", "opened_version", "from_at", "to_at"))


class StatusHistoryView(FollowingView):
    """Workflow Status periods; an order's events that change no status add nothing."""

    name = "status_history"
    tables = ("status_history",)

    def create_tables(self, cursor: Cursor) -> None:
        t = self.timestamp
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('status_history')} (
                order_id TEXT NOT NULL, opened_version INTEGER NOT NULL, web_order_no TEXT NOT NULL,
                status TEXT NOT NULL, from_at {t} NOT NULL, to_at {t}, caused_by TEXT NOT NULL,
                changed_by TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (order_id, opened_version))"""
        )

    def __init__(self, is_postgres: bool, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self._opened: dict[str, list[list[Any]]] = {}  # per order, the periods the batch opened, in order

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        # Events that change the Workflow Status carry the new one (Placed always does).
        if not getattr(event, "workflow_status", None):
            return
        change = aggregate.workflow_status
        order_id = str(event.originator_id)
        self._opened.setdefault(order_id, []).append(
            [order_id, event.originator_version, aggregate.web_order_no, str(change.status), self.value(change.at),
             None, change.caused_by, change.by.user_no, position]
        )

    def flush(self, cursor: Cursor) -> None:
        """Close the periods the new ones end and insert the new ones, as one event at a time would.

        Applied one by one, each new period closes every open period opened
        before it. So the batch's first new period of an order closes its stored
        open periods (one UPDATE each), and each new period is inserted closed by
        the next new one of its order; if it was stored already (a replay), it is
        closed the same way, unless it was closed before.
        """
        table = self.table("status_history")
        closing, rows = [], []
        for periods in self._opened.values():
            first = periods[0]
            if first[OPENED] > 1:  # the period Placed opens (version 1) has none before it
                closing.append([first[FROM_AT], first[ORDER_ID], first[OPENED]])
            for period, following in pairwise(periods):
                period[TO_AT] = following[FROM_AT]
            rows.extend(periods)
        if closing:
            cursor.executemany(
                f"UPDATE {table} SET to_at = ? WHERE order_id = ? AND opened_version < ? AND to_at IS NULL", closing
            )
        self.insert_rows(
            cursor, table, COLUMNS, rows,
            f"ON CONFLICT (order_id, opened_version) DO UPDATE SET to_at = excluded.to_at "
            f"WHERE {table}.to_at IS NULL AND excluded.to_at IS NOT NULL",
        )
        self._opened.clear()

    def forget(self) -> None:
        self._opened.clear()
