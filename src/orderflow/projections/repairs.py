"""``repairs``: what the back office did to put right what failed, and which order events a redrive caused.

``repair_actions``: one row per :class:`~orderflow.aggregates.repairs.RepairAction` (who, when, what kind,
the scope given, what it did, as JSON). ``redriven_events``: one row per order event that a redriven record
caused (the order's storefront reference and the event's version, the entry, the action, the user), which
``orderflow history`` shows next to the event in the order's event log.
"""

from __future__ import annotations

import json
from typing import Any

from orderflow.aggregates.inbox import RejectedMessage
from orderflow.aggregates.repairs import RepairAction
from orderflow.db import Cursor, Database, Position
from orderflow.projections.base import View

ACTION_COLUMNS = ("id", "kind", "user_name", "taken_at", "scope", "detail", "position")
REDRIVEN_COLUMNS = ("storefront_reference", "event_version", "entry_id", "action_id", "user_name", "redriven_at",
                    "position")


class RepairsView(View):
    """Back-office actions, newest last; order events caused by redrives."""

    name = "repairs"
    tables = ("repair_actions", "redriven_events")
    handles = (RepairAction.Taken, RejectedMessage.Redriven)  # type: ignore[attr-defined]  # defined by @event

    def create_tables(self, cursor: Cursor) -> None:
        t = self.timestamp
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('repair_actions')} (
                id TEXT PRIMARY KEY, kind TEXT NOT NULL, user_name TEXT NOT NULL, taken_at {t} NOT NULL,
                scope TEXT NOT NULL, detail TEXT NOT NULL, position BIGINT NOT NULL)"""
        )
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('redriven_events')} (
                storefront_reference TEXT NOT NULL, event_version INTEGER NOT NULL, entry_id TEXT NOT NULL,
                action_id TEXT NOT NULL, user_name TEXT NOT NULL, redriven_at {t} NOT NULL, position BIGINT NOT NULL,
                PRIMARY KEY (storefront_reference, event_version))"""
        )

    def __init__(self, is_postgres: bool, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self._actions: list[list[Any]] = []
        self._redriven: list[list[Any]] = []

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        at = self.value(event.at)
        if type(event).__name__ == "Taken":
            self._actions.append([str(event.originator_id), event.kind, event.user, at,
                                  json.dumps(event.scope, sort_keys=True), json.dumps(event.detail, sort_keys=True),
                                  position])
        else:
            self._redriven += [[event.order, version, str(event.originator_id), event.action_id, event.user, at, position]
                               for version in event.order_versions]

    def flush(self, cursor: Cursor) -> None:
        self.insert_rows(cursor, self.table("repair_actions"), ACTION_COLUMNS, self._actions,
                         "ON CONFLICT (id) DO NOTHING")
        self.insert_rows(cursor, self.table("redriven_events"), REDRIVEN_COLUMNS, self._redriven,
                         "ON CONFLICT (storefront_reference, event_version) DO NOTHING")
        self.forget()

    def forget(self) -> None:
        self._actions = []
        self._redriven = []

    def actions(self, db: Database, limit: int = 100) -> list[tuple[Any, ...]]:
        """The newest actions first."""
        return db.query(f"SELECT {', '.join(ACTION_COLUMNS[:-1])} FROM {self.table('repair_actions')} "
                        "ORDER BY position DESC LIMIT ?", [limit])

    def redriven(self, db: Database, storefront_reference: str) -> dict[int, str]:
        """The order's events a redrive caused: event version -> "redriven by USER (entry ID, action ID)"."""
        rows = db.query(f"SELECT event_version, user_name, entry_id, action_id FROM {self.table('redriven_events')} "
                        "WHERE storefront_reference = ?", [storefront_reference])
        return {version: f"redriven by {user} (entry {entry}, action {action})"
                for version, user, entry, action in rows}
