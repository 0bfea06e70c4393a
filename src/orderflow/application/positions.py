"""Several consumer positions recorded in the one transaction that records their effects.

The inbound consumer merges partitions of two topics; one transaction holds
the events of the records it released and every partition's new position.
The eventsourcing library records one :class:`Tracking` per transaction, so
:class:`Positions` carries the others along, and these recorders write each
of them (a position that does not move forward is still an ``IntegrityError``:
another consumer recorded it first).

The same transaction writes the rows a thread staged in :class:`Staged`
before it recorded its events: the inbound receipts (``message_receipts``,
one row per applied message: deduplication without an aggregate per message)
and new customers' keys (:mod:`orderflow.application.shredding`). A staged row whose key
exists already is an ``IntegrityError`` too, and nothing of the transaction
is recorded. Last, once the events have their notification ids, :attr:`Staged.after` writes
what needs those (the read models written inline, :mod:`orderflow.projections.inline`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, Tracking
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from orderflow.db import check_pooled

RECEIPTS = "message_receipts"
RECEIPT_COLUMNS = ("message_id", "digest", "message_type", "source", "recorded_at")


@dataclass(frozen=True)
class Rows:
    """Rows of one table, keyed by their first column; ``skip_existing``: a row whose key exists is left alone
    (else it is an ``IntegrityError``)."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple]
    skip_existing: bool = False
    pg_types: tuple[str, ...] = ()
    """The columns' PostgreSQL types (text if not given): all rows go in one ``INSERT ... SELECT FROM unnest``
    of one binary array per column (a text array is escaped element by element in Python)."""


After = Callable[[Any, Sequence[int]], None]
"""Called with the transaction's cursor and the notification ids of its events, in their order."""


class Staged(threading.local):
    """Rows to write in the transaction of this thread's next event insert (cleared by whoever staged them)."""

    def __init__(self) -> None:
        self.rows: list[Rows] = []
        self.after: After | None = None
        """What to write last, once the events have their notification ids (SQLite and PostgreSQL only)."""

    def add(self, rows: Rows) -> None:
        """Stage ``rows``; rows of one table (same columns and rule) go into one statement."""
        if not rows.rows:
            return
        for staged in self.rows:
            if (staged.table, staged.columns, staged.skip_existing) == (rows.table, rows.columns, rows.skip_existing):
                staged.rows.extend(rows.rows)
                return
        self.rows.append(Rows(rows.table, rows.columns, list(rows.rows), rows.skip_existing, rows.pg_types))

    def clear(self) -> None:
        self.rows = []
        self.after = None


@dataclass(frozen=True)
class Positions(Tracking):
    """The first position is the tracking itself; ``more`` holds the rest."""

    more: tuple[Tracking, ...] = ()

    @classmethod
    def of(cls, positions: Mapping[str, int]) -> Positions | None:
        """``{name: last offset}`` as one tracking object; None when there is none."""
        if not positions:
            return None
        (first, offset), *rest = sorted(positions.items())
        return cls(first, offset, tuple(Tracking(name, value) for name, value in rest))


def each(tracking: Tracking) -> Iterator[Tracking]:
    yield Tracking(tracking.application_name, tracking.notification_id)
    if isinstance(tracking, Positions):
        yield from tracking.more


def _conflict(rows: Rows) -> str:
    return f" ON CONFLICT ({rows.columns[0]}) DO NOTHING" if rows.skip_existing else ""


def _insert_sql(rows: Rows, table: str, mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(rows.columns)}) VALUES ({', '.join([mark] * len(rows.columns))}){_conflict(rows)}"


def _insert_unnest_sql(rows: Rows, table: str) -> str:
    types = rows.pg_types or ("text",) * len(rows.columns)
    return (f"INSERT INTO {table} ({', '.join(rows.columns)}) SELECT * FROM unnest("
            f"{', '.join(f'%b::{t}[]' for t in types)}){_conflict(rows)}")


class PostgresPositionsRecorder(PostgresProcessRecorder):
    """The library's process recorder, with the positions and staged rows, and a cheaper event insert.

    The library inserts events as one array of its composite type, which psycopg dumps element by element
    in Python (text format). Here each column is one binary array (``uuid[]``, ``bigint[]``, ``text[]``,
    ``bytea[]``) into the same ``INSERT ... SELECT FROM unnest ... RETURNING notification_id``: same table,
    columns, table lock, NOTIFY, returned notification ids (in the events' order) and unique-key conflict
    (the library's ``IntegrityError``). All positions of a transaction go in one statement, checked with
    one round trip instead of one per position.

    It never takes the library's database-function path (``POSTGRES_ENABLE_DB_FUNCTIONS``, plain or prefixed
    with the application's name, in the environment): that path inserts the events only, without
    :meth:`_insert_events`, so positions, receipts and new customers' keys would silently not be written.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.datastore.enable_db_functions = False
        if self.datastore.pre_ping:  # the same guarantee, without a round trip per transaction (db.check_pooled)
            self.datastore.pool._check = check_pooled
        self.staged = Staged()
        schema, events = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{table} (message_id TEXT PRIMARY KEY, digest TEXT NOT NULL, "
            "message_type TEXT NOT NULL, source TEXT NOT NULL, recorded_at TIMESTAMPTZ NOT NULL)"
        ).format(schema=schema, table=Identifier(RECEIPTS)))
        self.insert_event_columns_statement = SQL(
            "INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(schema=schema, table=events, id_type=Identifier(self.datastore.originator_id_type))
        self.notify_statement = SQL("NOTIFY {0}").format(Identifier(self.channel_name))
        tracking = Identifier(self.tracking_table_name)
        self.insert_positions_statement = SQL(
            "INSERT INTO {schema}.{table} AS t (application_name, notification_id) "
            "SELECT * FROM unnest(%b::text[], %b::bigint[]) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id "
            "WHERE t.notification_id < excluded.notification_id "
            "RETURNING application_name"
        ).format(schema=schema, table=tracking)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, then :attr:`Staged.after` with the notification ids, in the same transaction.

        As the library's: the staged rows and positions, then the events (pipelined, one round trip), each
        conflict its ``IntegrityError``. Then, out of pipeline mode (which has no ``COPY``), the ``after`` writes.
        """
        after = self.staged.after
        if after is None or not stored_events:
            return super().insert_events(stored_events, **kwargs)
        error: Exception | None = None
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.pipeline() as pipeline:
                with conn.cursor() as curs:
                    self._insert_events(curs, stored_events, **kwargs)
                with conn.cursor() as curs:
                    try:
                        self._insert_stored_events(curs, stored_events, **kwargs)
                        pipeline.sync()
                        notification_ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                    except Exception as e:  # noqa: BLE001 - raised once out of the pipeline, as the library does
                        error = e
            if error is not None:
                raise error
            with conn.cursor(row_factory=tuple_row) as curs:
                after(curs, notification_ids or [])
        return notification_ids

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        for rows in self.staged.rows:
            curs.execute(_insert_unnest_sql(rows, f"{self.datastore.schema}.{rows.table}"),
                         [list(column) for column in zip(*rows.rows, strict=True)])

    def _insert_stored_events(self, curs: Any, stored_events: Any, **_: Any) -> None:
        """The library's insert (lock, notify, insert returning notification ids), one array per column."""
        self._lock_table(curs)
        curs.execute(self.notify_statement)
        curs.execute(self.insert_event_columns_statement, (
            [e.originator_id for e in stored_events], [e.originator_version for e in stored_events],
            [e.topic for e in stored_events], [e.state for e in stored_events],
        ), prepare=True)

    def _insert_tracking(self, curs: Any, tracking: Tracking) -> None:
        positions = list(each(tracking))
        names = [p.application_name for p in positions]
        if not self.datastore.single_row_tracking or len(positions) == 1 or len(set(names)) < len(names):
            for one in positions:
                super()._insert_tracking(curs, tracking=one)
            return
        self._check_has_multi_row_tracking_table(curs)
        curs.execute(self.insert_positions_statement, (names, [p.notification_id for p in positions]),
                     prepare=True)
        moved = {row["application_name"] for row in curs.fetchall()}
        if len(moved) < len(names):
            stale = ", ".join(f"{p.application_name} {p.notification_id}" for p in positions
                              if p.application_name not in moved)
            raise IntegrityError(f"Failed to record tracking for {stale}")


class SQLitePositionsRecorder(SQLiteProcessRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.staged = Staged()

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                f"CREATE TABLE IF NOT EXISTS {RECEIPTS} (message_id TEXT PRIMARY KEY, digest TEXT NOT NULL, "
                "message_type TEXT NOT NULL, source TEXT NOT NULL, recorded_at TEXT NOT NULL)"]

    def _insert_events(self, c: Any, stored_events: Any, **kwargs: Any) -> Any:
        returning = super()._insert_events(c, stored_events, **kwargs)
        for rows in self.staged.rows:
            c.executemany(_insert_sql(rows, rows.table, "?"), rows.rows)
        if self.staged.after is not None and returning:
            self.staged.after(c.sqlite_cursor, returning)
        return returning

    def _insert_tracking(self, c: Any, tracking: Tracking) -> None:
        for one in each(tracking):
            super()._insert_tracking(c, one)


class POPOPositionsRecorder(POPOProcessRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.staged = Staged()
        self.tables: dict[str, dict[Any, tuple]] = {}

    def _assert_uniqueness(self, stored_events: Any, **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        for rows in self.staged.rows:
            if rows.skip_existing:
                continue
            table = self.tables.get(rows.table, {})
            keys = [row[0] for row in rows.rows]
            if len(set(keys)) < len(keys) or any(key in table for key in keys):
                raise IntegrityError(f"a row of {rows.table} exists already")

    def _update_table(self, stored_events: Any, **kwargs: Any) -> Any:
        notification_ids = super()._update_table(stored_events, **kwargs)
        for rows in self.staged.rows:
            table = self.tables.setdefault(rows.table, {})
            for row in rows.rows:
                table.setdefault(row[0], row)
        return notification_ids

    def _assert_tracking_uniqueness(self, tracking: Tracking) -> None:
        for one in each(tracking):
            super()._assert_tracking_uniqueness(one)

    def _insert_tracking(self, tracking: Tracking) -> None:
        for one in each(tracking):
            super()._insert_tracking(one)
