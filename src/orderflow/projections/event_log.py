"""``event_log``: the manual's Event Log, one row per action on a web order.

Each row has the manual's fields (user type, user no., entry time, event type,
new status, comment, person name, company), taken from
:func:`orderflow.aggregates.event_log_row.event_log_entry`, plus where it belongs:
the order's id, Web Order No. and storefront reference, the event's version in
the order's history (``event_version``), its position in the event store, the
order's line version current after the action (``order_version``, NULL for a
refused order) and the domain event's name (``event_name``, for analytics).
"""

from __future__ import annotations

from typing import Any

from orderflow.aggregates.event_log_row import event_log_entry
from orderflow.db import Cursor, Position
from orderflow.projections.follow import FollowingView

ENTRY_COLUMNS = ("user_type", "user_no", "entry_time", "event_type", "new_status", "comment", "person_name", "company")
COLUMNS = (
    "order_id", "event_version", "position", "web_order_no", "storefront_reference", "order_version", "event_name",
    *ENTRY_COLUMNS,
)


class EventLogView(FollowingView):
    """One row per web order event, in the Event Log's terms."""

    name = "event_log"
    tables = ("event_log",)
    append_only = {"event_log": ("order_id", "event_version")}

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('event_log')} (
                order_id TEXT NOT NULL, event_version INTEGER NOT NULL, position BIGINT NOT NULL,
                web_order_no TEXT NOT NULL, storefront_reference TEXT NOT NULL, order_version INTEGER,
                event_name TEXT NOT NULL, user_type TEXT NOT NULL, user_no TEXT NOT NULL,
                entry_time {self.timestamp} NOT NULL, event_type TEXT NOT NULL, new_status TEXT,
                comment TEXT NOT NULL, person_name TEXT NOT NULL, company TEXT NOT NULL,
                PRIMARY KEY (order_id, event_version))"""
        )

    def __init__(self, is_postgres: bool, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self._rows: list[list[Any]] = []

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        entry = event_log_entry(event)
        if entry is None:
            return
        row = {
            "order_id": str(event.originator_id),
            "event_version": event.originator_version,
            "position": position,
            "web_order_no": aggregate.web_order_no,
            "storefront_reference": aggregate.storefront_reference,
            "order_version": len(aggregate.versions) or None,
            "event_name": type(event).__name__,
            **entry,
        }
        self._rows.append([self.value(row[c]) for c in COLUMNS])

    def flush(self, cursor: Cursor) -> None:
        self.insert_rows(
            cursor, self.table("event_log"), COLUMNS, self._rows, "ON CONFLICT (order_id, event_version) DO NOTHING"
        )
        self._rows = []

    def forget(self) -> None:
        self._rows = []
