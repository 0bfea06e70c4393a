"""``error_journal``: every inbound message orderflow could not apply, for the back office.

One row per :class:`~orderflow.aggregates.inbox.RejectedMessage`: where the
message came from (topic, partition, offset, key), what it claimed to be
(message id and type, from its headers even when its payload could not be
decoded), why it was rejected (reason, error, and its cause: the reason with
its values taken out, by which entries are grouped), when, the original bytes
(base64), and what the back office did since: its state (``open``,
``redriven``, ``discarded``), how many attempts were made, the last one's time,
who closed it and why.
"""

from __future__ import annotations

import re
from itertools import groupby
from typing import Any

from orderflow.aggregates.inbox import OPEN, RejectedMessage
from orderflow.db import Cursor, Database, Position
from orderflow.projections.base import View

COLUMNS = (
    "id", "topic", "partition", "record_offset", "key", "message_id", "message_type", "reason", "error", "rejected_at",
    "value_b64", "position", "cause", "state", "attempts", "last_attempt_at", "closed_by", "closed_reason", "edits",
    "changed_position",
)
CAUSES = {"Misrouted": "misrouted", "OrderNeverArrived": "unknown order past its deadline"}
"""Errors whose reasons all have one cause, whatever they say."""
VALUES = (
    (re.compile(r"message id \S+"), "message id …"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "…"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "<date>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"\b[A-Z]{2,}-[\w-]*\d[\w-]*"), "<ref>"),
    (re.compile(r"\b[A-Z]+\d+\w*"), "<no>"),  # WO0000000018, SO000016, C20000
    (re.compile(r"/\d+(?=/|\b)"), "/*"),
    (re.compile(r"\b\d+(\.\d+)?\b"), "#"),
)
SCHEMA = re.compile(r"^\S+ v\d+ violates its schema: (?P<details>.*)$", re.DOTALL)
RULE = re.compile(r"^(?P<where>[^:]+): .*\((?P<rule>\w+)\)$")


def cause(reason: str, error: str = "") -> str:
    """The group of a rejection: its reason with the values taken out (numbers, references, times, quotes).

    "misrouted" and "unknown order past its deadline" for every reason of those errors; a schema violation
    by field path (indexes as ``*``) and rule: ``schema: /lines/*/quantity minimum``.
    """
    if error in CAUSES:
        return CAUSES[error]
    schema = SCHEMA.match(reason)
    if schema:
        details = []
        for detail in schema["details"].split("; "):
            rule = RULE.match(detail)
            details.append(re.sub(r"/\d+(?=/|$)", "/*", f"{rule['where']} {rule['rule']}" if rule else detail))
        reason = "schema: " + "; ".join(dict.fromkeys(details))
    else:
        reason = re.sub(r"^[A-Z]\w+: ", "", reason)  # a domain error's class name
    for pattern, mark in VALUES:
        reason = pattern.sub(mark, reason)
    return reason


class ErrorJournalView(View):
    """Rejected inbound messages and what became of them, newest by position last."""

    name = "error_journal"
    tables = ("error_journal",)
    handles = tuple(getattr(RejectedMessage, name)  # the classes @event defines, unseen by mypy
                    for name in ("Rejected", "Edited", "Discarded", "Reopened", "Redriven", "FailedAgain"))

    def create_tables(self, cursor: Cursor) -> None:
        t = self.timestamp
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table('error_journal')} (
                id TEXT PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER NOT NULL, record_offset BIGINT NOT NULL,
                key TEXT, message_id TEXT, message_type TEXT, reason TEXT NOT NULL, error TEXT NOT NULL,
                rejected_at {t} NOT NULL, value_b64 TEXT NOT NULL, position BIGINT NOT NULL,
                cause TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, last_attempt_at {t} NOT NULL,
                closed_by TEXT, closed_reason TEXT, edits INTEGER NOT NULL, changed_position BIGINT NOT NULL)"""
        )

    def __init__(self, is_postgres: bool, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self._changes: list[tuple[str, list[Any]]] = []  # (statement, parameters), in event order

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        table, entry_id, at = self.table("error_journal"), str(event.originator_id), self.value(event.at)
        kind = type(event).__name__
        if kind == "Rejected":
            row = [entry_id, event.topic, event.partition, event.offset, event.key, event.message_id,
                   event.message_type, event.reason, event.error, at, event.value_b64, position,
                   cause(event.reason, event.error), OPEN, 1, at, None, None, 0, position]
            self._changes.append((
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
                "ON CONFLICT (id) DO NOTHING", row))
        elif kind == "Edited":
            self._changes.append((f"UPDATE {table} SET edits = ?, changed_position = ? WHERE id = ?",
                                  [event.edit_no, position, entry_id]))
        elif kind == "Discarded":
            self._changes.append((f"UPDATE {table} SET state = 'discarded', closed_by = ?, closed_reason = ?, "
                                  "changed_position = ? WHERE id = ?", [event.user, event.reason, position, entry_id]))
        elif kind == "Reopened":
            self._changes.append((f"UPDATE {table} SET state = 'open', closed_by = NULL, closed_reason = NULL, "
                                  "changed_position = ? WHERE id = ?", [position, entry_id]))
        elif kind == "Redriven":
            self._changes.append((
                f"UPDATE {table} SET state = 'redriven', attempts = ?, last_attempt_at = ?, closed_by = ?, "
                "closed_reason = ?, changed_position = ? WHERE id = ?",
                [event.attempt, at, event.user, f"redrive {event.outcome} from {event.source}", position, entry_id]))
        else:  # FailedAgain
            self._changes.append((
                f"UPDATE {table} SET reason = ?, error = ?, cause = ?, attempts = ?, last_attempt_at = ?, "
                "changed_position = ? WHERE id = ?",
                [event.reason, event.error, cause(event.reason, event.error), event.attempt, at, position, entry_id]))

    def flush(self, cursor: Cursor) -> None:
        # An entry's changes depend on its insertion: the statements run in event order, each run of one kind
        # as one executemany.
        for statement, runs in groupby(self._changes, key=lambda change: change[0]):
            cursor.executemany(statement, [parameters for _, parameters in runs])
        self._changes = []

    def forget(self) -> None:
        self._changes = []

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
