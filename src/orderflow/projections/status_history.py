"""``status_history``: each Workflow Status period of each web order, for time-in-status analytics.

A period starts with the event that set the status (``caused_by``, as the
domain's ``StatusChange`` names it) and ends (``to_at``) when the next status
change starts; ``to_at`` is NULL while the status is current. Periods are keyed
by the version of the event that opened them, so applying an event twice
changes nothing.
"""

from __future__ import annotations

from typing import Any

from orderflow.aggregates.web_order import WebOrder
from orderflow.db import Cursor
from orderflow.projections.follow import FollowingView

COLUMNS = (
    "order_id", "opened_version", "web_order_no", "status", "from_at", "to_at", "caused_by", "changed_by",
    "position",
)


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

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        if not isinstance(event, WebOrder.Event):
            return
        order = self.follower.advance(event)
        # Events that change the Workflow Status carry the new one (Placed always does).
        if not getattr(event, "workflow_status", None):
            return
        change = order.workflow_status
        order_id, at = str(event.originator_id), self.value(change.at)
        cursor.execute(
            f"UPDATE {self.table('status_history')} SET to_at = ? "
            "WHERE order_id = ? AND opened_version < ? AND to_at IS NULL",
            [at, order_id, event.originator_version],
        )
        cursor.execute(
            f"INSERT INTO {self.table('status_history')} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT (order_id, opened_version) DO NOTHING",
            [order_id, event.originator_version, order.web_order_no, str(change.status), at, None,
             change.caused_by, change.by.user_no, position],
        )
