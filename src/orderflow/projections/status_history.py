"""``status_history``: each Workflow Status period of each web order, for time-in-status analytics.

A period starts with the event that set the status (``caused_by``, as the
domain's ``StatusChange`` names it) and ends (``to_at``) when the next status
change starts; ``to_at`` is NULL while the status is current. Periods are keyed
by the version of the event that opened them, so applying an event twice
changes nothing.
"""

from __future__ import annotations

from typing import Any

from orderflow.db import Cursor
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

    def apply(self, event: Any, position: int, aggregate: Any = None) -> None:
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
        """Close what each new period ends, then insert the new periods, as one event at a time would.

        Applied one by one, each new period closes the open periods opened before
        it. So a stored open period is closed by the first new period opened after
        it, and a new period by the next new one: each new period closes the open
        periods between the previous new one and itself.
        """
        table = self.table("status_history")
        closing, rows = [], []
        for periods in self._opened.values():
            after = 0
            for period, following in zip(periods, [*periods[1:], None]):
                if period[OPENED] > 1:  # the period Placed opens (version 1) closes nothing
                    closing.append([period[FROM_AT], period[ORDER_ID], after, period[OPENED]])
                after = period[OPENED]
                if following is not None:
                    period[TO_AT] = following[FROM_AT]
                rows.append(period)
        if closing:
            cursor.executemany(
                f"UPDATE {table} SET to_at = ? "
                "WHERE order_id = ? AND opened_version >= ? AND opened_version < ? AND to_at IS NULL",
                closing,
            )
        self.insert_rows(cursor, table, COLUMNS, rows, "ON CONFLICT (order_id, opened_version) DO NOTHING")
        self._opened.clear()

    def forget(self) -> None:
        self._opened.clear()
