"""``error_journal``: every inbound message orderflow could not apply, for the back office.

One row per :class:`~orderflow.aggregates.inbox.RejectedMessage`: where the
message came from (topic, partition, offset, key), what it claimed to be
(message id and type), why it was rejected (reason, error), when, and the
original bytes (base64) so it can be fixed and published again.
"""

from __future__ import annotations

from typing import Any

from orderflow.aggregates.inbox import RejectedMessage
from orderflow.db import Cursor, Database
from orderflow.projections.base import View

COLUMNS = (
    "id", "topic", "partition", "record_offset", "key", "message_id", "message_type", "reason", "error", "rejected_at",
    "value_b64", "position",
)


class ErrorJournalView(View):
    """Rejected inbound messages, newest by position last."""

    name = "error_journal"
    tables = ("error_journal",)
    handles = (RejectedMessage.Rejected,)  # type: ignore[attr-defined]  # defined by @event, unseen by mypy

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('error_journal')} (
                id TEXT PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER NOT NULL, record_offset BIGINT NOT NULL,
                key TEXT, message_id TEXT, message_type TEXT, reason TEXT NOT NULL, error TEXT NOT NULL,
                rejected_at {self.timestamp} NOT NULL, value_b64 TEXT NOT NULL, position BIGINT NOT NULL)"""
        )

    def __init__(self, is_postgres: bool, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self._rows: list[list[Any]] = []

    def apply(self, event: Any, position: int, aggregate: Any = None) -> None:
        self._rows.append(
            [str(event.originator_id), event.topic, event.partition, event.offset, event.key, event.message_id,
             event.message_type, event.reason, event.error, self.value(event.at), event.value_b64, position]
        )

    def flush(self, cursor: Cursor) -> None:
        self.insert_rows(cursor, self.table("error_journal"), COLUMNS, self._rows, "ON CONFLICT (id) DO NOTHING")
        self._rows = []

    def forget(self) -> None:
        self._rows = []

    def recent(self, db: Database, limit: int = 50) -> list[dict[str, Any]]:
        """The newest rejections first, with where they came from and why."""
        columns = ("rejected_at", "key", "message_type", "topic", "partition", "record_offset", "reason")
        rows = db.query(
            f"SELECT {', '.join(columns)} FROM {self.table('error_journal')} ORDER BY position DESC LIMIT ?", [limit]
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def count(self, db: Database) -> int:
        """How many messages were rejected (each also went to the dead-letter topic)."""
        [(count,)] = db.query(f"SELECT COUNT(*) FROM {self.table('error_journal')}")
        return count
