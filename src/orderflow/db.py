"""SQL access for the read models, on SQLite (embedded default) or PostgreSQL.

The event store belongs to ``eventsourcing``; this module is only for the
tables that projections write and that users query. SQL is written once, with
``?`` placeholders, and adapted to psycopg's ``%s`` here.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from orderflow.settings import eventsourcing_env


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...


class Database:
    """Transactions on the read-model database named by ``ORDERFLOW_DATABASE_URL``."""

    def __init__(self, database_url: str):
        env = eventsourcing_env(database_url)
        if env["PERSISTENCE_MODULE"] == "eventsourcing.popo":
            raise ValueError("read models need a database: use sqlite:/// or postgresql://, not memory:")
        self.is_postgres = env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        self._lock = threading.Lock()
        if self.is_postgres:
            from psycopg_pool import ConnectionPool

            conninfo = database_url.replace("postgres://", "postgresql://", 1)
            self._pool = ConnectionPool(conninfo, min_size=1, max_size=4, open=True)
        else:
            self._sqlite = sqlite3.connect(
                env["SQLITE_DBNAME"], uri=True, check_same_thread=False, isolation_level=None, timeout=30
            )

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if self.is_postgres:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
                yield _PostgresCursor(cursor)
            return
        with self._lock:
            cursor = self._sqlite.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only statement."""
        with self.transaction() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def close(self) -> None:
        if self.is_postgres:
            self._pool.close()
        else:
            self._sqlite.close()


class _PostgresCursor:
    """A psycopg cursor that takes the ``?`` placeholders the SQL is written with."""

    def __init__(self, cursor: Any):
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(sql.replace("?", "%s"), params)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone()

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append ``rows`` to ``table`` with ``COPY``: the fastest way PostgreSQL takes many rows."""
        with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
