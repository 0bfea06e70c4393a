"""SQL access for the read models, on SQLite (embedded default) or PostgreSQL.

The event store belongs to ``eventsourcing``; this module is only for the
tables that projections write and that users query. SQL is written once, with
``?`` placeholders, and adapted to psycopg's ``%s`` here.
"""

from __future__ import annotations

import select
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Protocol

import structlog

from orderflow.settings import eventsourcing_env

log = structlog.get_logger("orderflow.db")

#: How long a session waits for the schema lock before giving up (a transient error: start-up retries).
SCHEMA_LOCK_TIMEOUT = "60s"


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

            self.conninfo = database_url.replace("postgres://", "postgresql://", 1)
            # check: a connection closed by a server restart is not handed out (check_pooled); timeout: how long
            # a transaction waits for one while the server is unreachable (then PoolTimeout, a transient error to
            # the callers' error policy).
            self._pool = ConnectionPool(
                self.conninfo, min_size=1, max_size=4, open=True, timeout=10,
                check=check_pooled, kwargs={"connect_timeout": 5},
            )
        else:
            self._sqlite = sqlite3.connect(
                env["SQLITE_DBNAME"], uri=True, check_same_thread=False, isolation_level=None, timeout=30
            )

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises.

        On SQLite a writing transaction takes the file's write lock at once (``BEGIN IMMEDIATE``); a reading one
        (``write=False``) does not, so that it never waits for another process's writer (WAL mode).
        """
        if self.is_postgres:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as pg_cursor:
                yield PostgresCursor(pg_cursor)
            return
        with self._lock:
            cursor = self._sqlite.cursor()
            cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only statement."""
        with self.transaction(write=False) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def stream_lock(self, name: str) -> StreamLock:
        """The lock that makes one process at a time follow stream ``name`` (always held on SQLite)."""
        return StreamLock(self.conninfo if self.is_postgres else None, name)

    def close(self) -> None:
        if self.is_postgres:
            self._pool.close()
        else:
            self._sqlite.close()


class PostgresCursor:
    """A psycopg cursor that takes the ``?`` placeholders the SQL is written with (``%s`` passes through)."""

    def __init__(self, cursor: Any):
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(sql.replace("?", "%s"), params)

    @property
    def connection(self) -> Any:
        return self._cursor.connection

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone()

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append ``rows`` to ``table`` with ``COPY``: the fastest way PostgreSQL takes many rows."""
        with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


class Slot:
    """A value a row is built with before it is known, and filled in before the row is written: the position of
    an event that is still to be inserted (:mod:`orderflow.projections.inline` builds its rows before the events
    table's lock is taken, and the insert assigns the positions). Both drivers write it as its :attr:`value`."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: int | None = None

    def __repr__(self) -> str:
        return f"Slot({self.value})"


Position = int | Slot
"""An event's position as a view's ``apply`` gets it: known (the runner's), or a :class:`Slot` (the engine's)."""


def _slot_value(slot: Slot) -> int:
    if slot.value is None:
        raise ValueError("a row was written before its slot was filled")
    return slot.value


def _register_slot() -> None:
    sqlite3.register_adapter(Slot, _slot_value)
    try:
        import psycopg
        from psycopg.adapt import Dumper
    except ImportError:  # SQLite only
        return

    class SlotDumper(Dumper):
        oid = psycopg.adapters.types["int8"].oid

        def dump(self, obj: Slot) -> bytes:
            return str(_slot_value(obj)).encode()

    psycopg.adapters.register_dumper(Slot, SlotDumper)  # every connection made from now on


_register_slot()


def check_pooled(conn: Any) -> None:
    """psycopg_pool's check of a connection before it is handed out, without its round trip while the connection is
    quiet: raise if it is closed or broken, or if the server sent something while it sat idle in the pool (a server
    that restarts or terminates a session says so, then closes the socket: it turns readable) and the full check,
    a round trip, then fails. A quiet idle connection has nothing to read. The round trip on every transaction cost
    the engine four per batch and the followers one per statement group."""
    import psycopg
    from psycopg_pool import ConnectionPool

    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the pooled connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


def _lock_connection(conninfo: str) -> Any:
    """A connection of its own for a session advisory lock: the lock lives as long as this session.

    TCP keepalives let the client notice a dead server within about half a minute.
    """
    import psycopg

    return psycopg.connect(conninfo, autocommit=True, connect_timeout=5, keepalives=1, keepalives_idle=10,
                           keepalives_interval=5, keepalives_count=3)


class StreamLock:
    """A PostgreSQL session advisory lock that makes one process the follower of a stream.

    Taken without waiting (``pg_try_advisory_lock``) on a connection of its own;
    released when the process ends, or when its session does (a crash, a
    database restart), and another process then takes it. ``held`` asks the
    session, so that a lock lost with its connection is noticed. With no
    ``conninfo`` (SQLite: one process per database file) the lock is always held.
    """

    def __init__(self, conninfo: str | None, name: str):
        self.conninfo = conninfo
        self.name = name
        self._conn: Any = None
        self._holding = False

    def acquire(self) -> bool:
        """Take the lock if no other session holds it; True if this process holds it now."""
        if self.conninfo is None:
            return True
        if self._conn is None:
            self._conn = _lock_connection(self.conninfo)
        try:
            [(taken,)] = self._conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                            (self.key,)).fetchall()
        except Exception:
            self._drop()
            raise
        self._holding = bool(taken)
        return self._holding

    def held(self) -> bool:
        """Whether this process holds the lock now: its session, which took it, is still alive (one round trip)."""
        if self.conninfo is None:
            return True
        if self._conn is None or not self._holding:
            return False
        try:
            self._conn.execute("SELECT 1")
        except Exception as error:  # noqa: BLE001 - whatever broke the session, the lock went with it
            log.warning("stream lock lost with its session", stream=self.name, error=str(error))
            self._drop()
            return False
        return True

    @property
    def key(self) -> str:
        return f"orderflow:{self.name}"

    def release(self) -> None:
        """Let another process take the stream (closing the session releases the lock)."""
        self._drop()

    def _drop(self) -> None:
        conn, self._conn, self._holding = self._conn, None, False
        if conn is not None:
            with suppress(Exception):
                conn.close()


@contextmanager
def schema_lock(database_url: str) -> Iterator[None]:
    """Serialise schema creation across processes starting together on one PostgreSQL database.

    ``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent one (a
    ``UniqueViolation`` on ``pg_type``): whoever creates orderflow's tables
    (the event store's and the read models') does it under this session lock.
    """
    if eventsourcing_env(database_url)["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
        yield
        return
    conn = _lock_connection(database_url.replace("postgres://", "postgresql://", 1))
    try:
        conn.execute(f"SET lock_timeout = '{SCHEMA_LOCK_TIMEOUT}'")
        conn.execute("SELECT pg_advisory_lock(hashtextextended('orderflow:schema', 0))")
        yield
    finally:
        with suppress(Exception):
            conn.close()
