"""Keeps read models caught up with the event store, in batches.

Each batch of events and the view's new position are written in one
transaction, so a crash or a second run never applies an event twice. Events
are read by position from the application's notification log, which works the
same on SQLite and PostgreSQL (PostgreSQL's writers are serialised by the
event store, so positions commit in order).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import structlog

from orderflow.application import Orders
from orderflow.db import Cursor, Database
from orderflow.projections.base import View

log = structlog.get_logger("orderflow.projections")

TRACKING_DDL = "CREATE TABLE IF NOT EXISTS projection_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"


class ProjectionRunner:
    """Runs a set of views against one application's events."""

    def __init__(self, app: Orders, db: Database, views: Sequence[View], batch_size: int = 1000):
        self.app = app
        self.db = db
        self.views = list(views)
        self.batch_size = batch_size
        with db.transaction() as cursor:
            cursor.execute(TRACKING_DDL)
            for view in self.views:
                view.create_tables(cursor)

    def position(self, view: View) -> int:
        """The position of the last event applied to ``view`` (0 before any)."""
        rows = self.db.query("SELECT position FROM projection_tracking WHERE name = ?", (self.tracking_name(view),))
        return rows[0][0] if rows else 0

    @staticmethod
    def tracking_name(view: View) -> str:
        return view.name + view.suffix

    def head(self) -> int:
        """The position of the newest event in the store."""
        return self.app.recorder.max_notification_id() or 0

    def lag(self) -> dict[str, int]:
        """How many events each view is behind the store."""
        head = self.head()
        return {view.name: head - self.position(view) for view in self.views}

    def run_once(self) -> int:
        """Apply at most one batch to every view; return how many events were applied."""
        applied = 0
        for view in self.views:
            applied += self._catch_up_batch(view)
        return applied

    def catch_up(self) -> int:
        """Apply batches until every view is at the head of the store."""
        total = 0
        while (applied := self.run_once()) > 0:
            total += applied
        return total

    def run(self, stop: threading.Event, idle_sleep: float = 0.2) -> None:
        """Catch up continuously until ``stop`` is set."""
        while not stop.is_set():
            if self.run_once() == 0:
                stop.wait(idle_sleep)

    def _catch_up_batch(self, view: View) -> int:
        start = self.position(view) + 1
        notifications = self.app.recorder.select_notifications(start=start, limit=self.batch_size)
        if not notifications:
            return 0
        try:
            with self.db.transaction() as cursor:
                for notification in notifications:
                    view.apply(cursor, self.app.mapper.to_domain_event(notification), notification.id)
                view.before_commit(cursor)
                self._record_position(cursor, view, notifications[-1].id)
        except BaseException:
            view.forget()
            raise
        log.info(
            "projection batch applied", view=view.name + view.suffix, events=len(notifications),
            first_position=notifications[0].id, last_position=notifications[-1].id,
        )
        return len(notifications)

    def rewind(self, position: int = 0) -> None:
        """Make every view apply again everything after ``position`` (0: the whole history)."""
        with self.db.transaction() as cursor:
            for view in self.views:
                self._record_position(cursor, view, position)
                view.forget()
        log.info("projections rewound", views=[v.name for v in self.views], position=position)

    def _record_position(self, cursor: Cursor, view: View, position: int) -> None:
        cursor.execute(
            "INSERT INTO projection_tracking (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (self.tracking_name(view), position),
        )
