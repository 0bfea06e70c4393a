"""What every read model has: its tables, what one event changes, and how a batch of changes is written.

A view is fed a batch of events by :class:`~orderflow.projections.runner.ProjectionRunner`.
``apply`` only takes note, in memory, of what an event changes; ``flush`` writes a
whole batch's changes with a few statements per table (``COPY`` into a scratch
table on PostgreSQL, ``executemany`` on SQLite), inside the transaction that also
records the view's position. Reading the event store and following the orders
happen before that transaction opens, so it stays short.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from orderflow.db import Cursor, Position, Slot

#: From how many rows a PostgreSQL batch goes through COPY rather than a pipelined INSERT per row.
COPY_FROM = 20


class View(ABC):
    """One read model. Subclasses declare tables and the events they take, and handle events.

    ``suffix`` lets a rebuild write into fresh tables (``web_orders__new``)
    while readers keep using the live ones.
    """

    name: str  # a class's, but for the outbound views (one class, a name each)
    tables: ClassVar[tuple[str, ...]]
    #: The event classes ``apply`` looks at; the runner does not even decode the others for this view.
    handles: ClassVar[tuple[type, ...]] = ()
    #: The event classes for which ``apply`` needs the aggregate as the event left it.
    follows: ClassVar[tuple[type, ...]] = ()
    #: Tables only ever inserted into (``ON CONFLICT ... DO NOTHING``), with their primary key's columns:
    #: a rebuild on PostgreSQL loads them without the key and adds it at the end (:meth:`defer_keys`).
    append_only: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, is_postgres: bool, suffix: str = ""):
        self.is_postgres = is_postgres
        self.suffix = suffix
        self.pipelined = False
        """Flushed in PostgreSQL's pipeline mode (the engine's inline write): every statement of every view in one
        round trip, so rows go by a prepared ``INSERT`` each, never ``COPY`` (which pipeline mode has not)."""
        self._unkeyed: set[str] = set()
        """Fresh tables loaded without their primary key (a rebuild's), by full name: rows are copied straight in."""

    def table(self, base: str) -> str:
        return base + self.suffix

    @property
    def money(self) -> str:
        """Column type for amounts: exact NUMERIC in PostgreSQL, decimal text in SQLite."""
        return "NUMERIC(18,2)" if self.is_postgres else "TEXT"

    @property
    def timestamp(self) -> str:
        return "TIMESTAMPTZ" if self.is_postgres else "TEXT"

    @abstractmethod
    def create_tables(self, cursor: Cursor) -> None:
        """Create this view's tables if they do not exist."""

    def defer_keys(self, cursor: Cursor) -> None:
        """Drop the primary keys of the (fresh, empty) :attr:`append_only` tables, for a bulk load; PostgreSQL only.

        Only for a load that applies every event once, from the start, into fresh tables (a rebuild): each row
        is then new, so rows are copied in with no key to check or maintain. :meth:`restore_keys` adds the keys
        back once the load is done (and fails, so nothing is swapped in, if a key repeats).
        """
        if not self.is_postgres:
            return
        for base in self.append_only:
            table = self.table(base)
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_pkey")
            self._unkeyed.add(table)

    def restore_keys(self, cursor: Cursor) -> None:
        """Add the primary keys :meth:`defer_keys` dropped (under their usual names)."""
        for base, key in self.append_only.items():
            table = self.table(base)
            if table in self._unkeyed:
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(key)})")
                self._unkeyed.discard(table)

    def drop_tables(self, cursor: Cursor) -> None:
        for base in self.tables:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table(base)}")

    @abstractmethod
    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        """Take note of what one domain event at ``position`` changes; nothing is written yet.

        ``aggregate`` is the event's aggregate right after it, for the event classes in
        ``follows`` (None otherwise). It is advanced further by later events of the same
        batch: read from it now what the rows need, or keep it only to read its final state.
        """

    @abstractmethod
    def flush(self, cursor: Cursor) -> None:
        """Write every change noted since the last flush, inside ``cursor``'s transaction, and forget them.

        Applying a batch again (a replay, a duplicate) must change nothing.
        """

    def before_commit(self, cursor: Cursor) -> None:  # noqa: B027 - an optional hook
        """Called after every view of the batch flushed, before the positions are recorded; raising rolls back."""

    def forget(self) -> None:  # noqa: B027 - an optional hook
        """Drop what was noted but not written (after a failed transaction, it was rolled back)."""

    def value(self, value: Any) -> Any:
        """A Python value as this database stores it (SQLite keeps decimals and times as text)."""
        if self.is_postgres or value is None or isinstance(value, (int, float, str, bytes, Slot)):
            return value
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)

    def insert_rows(
        self, cursor: Cursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], conflict: str
    ) -> None:
        """``INSERT INTO table (columns) ... conflict`` for every row, in one go.

        On PostgreSQL many rows are copied into a scratch table of this session
        (emptied at commit) and inserted from there in one statement; a few rows
        (a live batch's), and every row on SQLite, by one prepared statement run
        for each. ``conflict`` is the ``ON CONFLICT`` clause; the rows must not
        repeat a key if it updates.
        """
        if not rows:
            return
        if table in self._unkeyed:  # a bulk load: every row is new
            cursor.copy_rows(table, columns, rows)  # type: ignore[attr-defined]
            return
        names = ", ".join(columns)
        if not self.is_postgres or len(rows) < COPY_FROM or self.pipelined:
            marks = ", ".join("?" * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", rows)
            return
        scratch = f"{table}__batch"
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS "
            f"AS SELECT {names} FROM {table} WITH NO DATA"
        )
        cursor.copy_rows(scratch, columns, rows)  # type: ignore[attr-defined]
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {scratch} {conflict}")
