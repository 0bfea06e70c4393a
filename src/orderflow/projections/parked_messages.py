"""``parked_messages``: messages that arrived before their order, and what became of them.

A row is written when a message is parked and completed when the order
arrives and the message is applied, or when its deadline passes and it is
rejected; rows with no ``released_at`` still wait, and the back office can see
each one, why, and until when (in event time).
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from orderflow.aggregates.inbox import ParkingLot
from orderflow.db import Cursor, Database, Position
from orderflow.projections.base import View


class ParkedMessagesView(View):
    """One row per parked message, in arrival order per order."""

    name = "parked_messages"
    tables = ("parked_messages",)
    handles = (ParkingLot.Parked, ParkingLot.Released)  # type: ignore[attr-defined]  # defined by @event, unseen by mypy

    def create_tables(self, cursor: Cursor) -> None:
        t = self.timestamp
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('parked_messages')} (
                message_id TEXT PRIMARY KEY, storefront_reference TEXT NOT NULL, message_type TEXT NOT NULL,
                topic TEXT NOT NULL, partition INTEGER NOT NULL, record_offset BIGINT NOT NULL, reason TEXT NOT NULL,
                deadline {t} NOT NULL, parked_at {t} NOT NULL, released_at {t}, outcome TEXT, detail TEXT, position BIGINT NOT NULL)"""
        )

    def __init__(self, is_postgres: bool, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self._changes: list[tuple[str, list[Any]]] = []  # (statement, parameters), in event order

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        table = self.table("parked_messages")
        if isinstance(event, ParkingLot.Parked):  # type: ignore[attr-defined]  # defined by @event
            m = event.message
            self._changes.append((
                f"INSERT INTO {table} (message_id, storefront_reference, message_type, topic, partition, record_offset, "
                "reason, deadline, parked_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (message_id) DO NOTHING",
                [m["message_id"], m["key"], m["message_type"], m["topic"], m["partition"], m["offset"], event.reason,
                 self.value(event.deadline), self.value(event.at), position],
            ))
        else:
            self._changes.append((
                f"UPDATE {table} SET released_at = ?, outcome = ?, detail = ? WHERE message_id = ? AND released_at IS NULL",
                [self.value(event.at), event.outcome, event.detail, event.message_id],
            ))

    def flush(self, cursor: Cursor) -> None:
        # Parking and release depend on each other's order: the statements run in event order,
        # each run of one kind as one executemany.
        for statement, runs in groupby(self._changes, key=lambda change: change[0]):
            cursor.executemany(statement, [parameters for _, parameters in runs])
        self._changes = []

    def forget(self) -> None:
        self._changes = []

    def waiting(self, db: Database, limit: int = 100) -> list[dict[str, Any]]:
        """The messages still waiting for their order, oldest first, each with why and until when."""
        columns = ("storefront_reference", "message_type", "message_id", "topic", "partition", "record_offset",
                   "reason", "deadline", "parked_at")
        rows = db.query(
            f"SELECT {', '.join(columns)} FROM {self.table('parked_messages')} WHERE released_at IS NULL "
            "ORDER BY position LIMIT ?",
            [limit],
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def count_waiting(self, db: Database) -> int:
        """How many parked messages still wait for their order."""
        [(count,)] = db.query(f"SELECT COUNT(*) FROM {self.table('parked_messages')} WHERE released_at IS NULL")
        return count
