"""Rebuild read models from the start of the event store, then swap them in at once.

The fresh copy is built beside the live one (tables named ``<table>__rebuild``,
tracked as ``<view>__rebuild``) while readers and the live runner keep using the
live tables. The swap is one transaction: drop the live tables, rename the
fresh ones (and their indexes), move the tracking row. Readers see the old view
or the new one, never a half-built one; the live runner then goes on from the
rebuilt view's position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from orderflow import collector
from orderflow.application.orders import Orders
from orderflow.db import Cursor, Database
from orderflow.projections.base import View
from orderflow.projections.catalog import all_views
from orderflow.projections.runner import TRACKING_DDL, ProjectionRunner

log = structlog.get_logger("orderflow.projections")

SUFFIX = "__rebuild"

Progress = Callable[[int, int], None]


def rebuild(
    app: Orders,
    db: Database,
    names: Sequence[str] | None = None,
    progress: Progress | None = None,
    batch_size: int = 5000,
) -> dict[str, int]:
    """Rebuild the named views (all if ``names`` is None) and swap them in; return each one's position.

    ``progress(done, total)`` is called after every batch with the position
    every fresh view has reached and the store's head when the rebuild began.
    """
    with collector.thresholds():
        return _rebuild(app, db, names, progress, batch_size)


def _rebuild(
    app: Orders, db: Database, names: Sequence[str] | None, progress: Progress | None, batch_size: int
) -> dict[str, int]:
    views = select_views(app, db.is_postgres, names)
    with db.transaction() as cursor:
        cursor.execute(TRACKING_DDL)
        for view in views:  # leftovers of an interrupted rebuild
            view.drop_tables(cursor)
            cursor.execute("DELETE FROM projection_tracking WHERE name = ?", (ProjectionRunner.tracking_name(view),))
    runner = ProjectionRunner(app, db, views, batch_size=batch_size)
    with db.transaction() as cursor:  # every event applied once into fresh tables: keys are added at the end
        for view in views:
            view.defer_keys(cursor)
    total = runner.head()
    while runner.run_once():
        if progress is not None:
            progress(min(runner.positions()), total)
    positions = {view.name: position for view, position in zip(views, runner.positions(), strict=True)}
    with db.transaction() as cursor:  # before the swap, whose transaction locks the live tables
        for view in views:
            view.restore_keys(cursor)
    with db.transaction() as cursor:
        for view in views:
            swap_in(cursor, view, db.is_postgres)
    log.info("read models rebuilt", **positions)
    return positions


def select_views(app: Orders, is_postgres: bool, names: Sequence[str] | None) -> list[View]:
    """The catalog's views with these names (all if None), writing to fresh tables; ``ValueError`` for unknown names."""
    views = all_views(is_postgres, app, suffix=SUFFIX)
    if names is None:
        return views
    known = {view.name for view in views}
    if unknown := sorted(set(names) - known):
        raise ValueError(f"unknown read model(s) {unknown}; known: {sorted(known)}")
    return [view for view in views if view.name in names]


def swap_in(cursor: Cursor, fresh: View, is_postgres: bool) -> None:
    """Replace the live tables and tracking row of ``fresh``'s view by the fresh ones, inside ``cursor``'s transaction."""
    for base in fresh.tables:
        cursor.execute(f"DROP TABLE IF EXISTS {base}")
        cursor.execute(f"ALTER TABLE {fresh.table(base)} RENAME TO {base}")
        _rename_indexes(cursor, base, fresh.suffix, is_postgres)
    cursor.execute("DELETE FROM projection_tracking WHERE name = ?", (fresh.name,))
    cursor.execute(
        "UPDATE projection_tracking SET name = ? WHERE name = ?", (fresh.name, ProjectionRunner.tracking_name(fresh))
    )


def _rename_indexes(cursor: Cursor, table: str, suffix: str, is_postgres: bool) -> None:
    """Give a renamed table's indexes their live names, so the next rebuild can create its own again.

    PostgreSQL keeps index (and primary-key constraint) names on ``RENAME``;
    renaming the index renames its constraint too. SQLite renames its automatic
    indexes itself but cannot rename others: those are recreated.
    """
    if is_postgres:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?", (table,))
        for (index,) in cursor.fetchall():
            if suffix in index:
                cursor.execute(f"ALTER INDEX {index} RENAME TO {index.replace(suffix, '')}")
        return
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))
    for index, sql in cursor.fetchall():
        if suffix in index:
            cursor.execute(f"DROP INDEX {index}")
            cursor.execute(sql.replace(index, index.replace(suffix, ""), 1))
