"""What every read model has: its tables, and how one event changes their rows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from orderflow.db import Cursor


class View(ABC):
    """One read model. Subclasses declare tables and handle events.

    ``suffix`` lets a rebuild write into fresh tables (``web_orders__new``)
    while readers keep using the live ones.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]

    def __init__(self, is_postgres: bool, suffix: str = ""):
        self.is_postgres = is_postgres
        self.suffix = suffix

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

    def drop_tables(self, cursor: Cursor) -> None:
        for base in self.tables:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table(base)}")

    @abstractmethod
    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        """Change this view's rows for one domain event at ``position`` in the event log."""

    def before_commit(self, cursor: Cursor) -> None:
        """Called after a batch's last ``apply``, before its position is recorded; raising rolls it back."""

    def forget(self) -> None:
        """Drop in-memory state after a failed transaction (the rows it described were rolled back)."""

    def value(self, value: Any) -> Any:
        """A Python value as this database stores it (SQLite keeps decimals and times as text)."""
        if self.is_postgres or value is None or isinstance(value, (int, float, str, bytes)):
            return value
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)
