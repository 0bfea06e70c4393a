"""Keeps read models caught up with the event store, in batches.

Each batch of events and the views' new positions are written in one
transaction, so a crash or a second run never applies an event twice. Events
are read by position from the application's notification log, which works the
same on SQLite and PostgreSQL (PostgreSQL's writers are serialised by the
event store, so positions commit in order).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import structlog
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from orderflow.application.orders import Orders
from orderflow.db import Cursor, Database, StreamLock
from orderflow.projections.base import View
from orderflow.projections.decoded import DecodedEvents
from orderflow.projections.follow import AggregateFollower
from orderflow.supervision import STANDBY

log = structlog.get_logger("orderflow.projections")

DDL_LOCK = "orderflow:read-model-schema"
TRACKING_DDL = "CREATE TABLE IF NOT EXISTS projection_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"


class ProjectionRunner:
    """Runs a set of views against one application's events.

    A batch is one page of notifications, read once for every view that is
    behind: each event is decoded once (only if some view takes its class; taken
    from :class:`DecodedEvents` if another runner of the same application decoded it),
    its order advanced once by one :class:`AggregateFollower` shared by the
    views that follow orders, and handed to each view; then every view writes
    its batch, and records its new position, in one transaction.
    """

    def __init__(
        self, app: Orders, db: Database, views: Sequence[View], batch_size: int = 1000, lock: StreamLock | None = None
    ):
        self.app = app
        self.db = db
        self.views = list(views)
        self.batch_size = batch_size
        self.lock = lock
        """When set, :meth:`step` applies batches only while this process holds it (one follower per stream)."""
        self.follower = AggregateFollower(app)
        self.decoded = DecodedEvents.of(app)
        self._routes: dict[str, tuple[list[View], bool]] = {}
        with db.transaction() as cursor:
            if db.is_postgres:
                # Processes starting together on a new database: CREATE TABLE IF NOT EXISTS is not safe against
                # a concurrent one (UniqueViolation on pg_type), so creations are serialised.
                cursor.execute(f"SELECT pg_advisory_xact_lock(hashtextextended('{DDL_LOCK}', 0))")
            cursor.execute(TRACKING_DDL)
            for view in self.views:
                view.create_tables(cursor)

    def position(self, view: View) -> int:
        """The position of the last event applied to ``view`` (0 before any)."""
        rows = self.db.query("SELECT position FROM projection_tracking WHERE name = ?", (self.tracking_name(view),))
        return rows[0][0] if rows else 0

    def positions(self) -> list[int]:
        """The position of every view, in the order of ``views``, in one query."""
        names = [self.tracking_name(view) for view in self.views]
        rows = self.db.query(
            f"SELECT name, position FROM projection_tracking WHERE name IN ({', '.join('?' * len(names))})", names
        )
        found = dict(rows)
        return [found.get(name, 0) for name in names]

    @staticmethod
    def tracking_name(view: View) -> str:
        return view.name + view.suffix

    def head(self) -> int:
        """The position of the newest event in the store."""
        return self.app.recorder.max_notification_id() or 0

    def lag(self) -> dict[str, int]:
        """How many events each view is behind the store."""
        head = self.head()
        return {view.name: head - position for view, position in zip(self.views, self.positions(), strict=True)}

    def run_once(self) -> int:
        """Apply at most one batch to every view that is behind; return how many events the batch had."""
        positions = self.positions()
        start = min(positions) + 1
        notifications = self.app.recorder.select_notifications(start=start, limit=self.batch_size)
        if not notifications:
            return 0
        last = notifications[-1].id
        # Again, now that the page is read: the engine may have written these events inline meanwhile
        # (:mod:`orderflow.projections.inline`), and a view already past them must not be written twice.
        positions = self.positions()
        behind = {view: position for view, position in zip(self.views, positions, strict=True) if position < last}
        if not behind:
            return len(notifications)
        try:
            self.apply(notifications, behind)
            with self.db.transaction() as cursor:
                moved = self._lock_positions(cursor, behind)
                for view in moved:
                    view.forget()
                self._write(cursor, [view for view in behind if view not in moved], last)
        except BaseException:
            self.forget()
            raise
        log.info(
            "projection batch applied", views=[self.tracking_name(view) for view in behind], events=len(notifications),
            first_position=notifications[0].id, last_position=last,
        )
        return len(notifications)

    def catch_up(self) -> int:
        """Apply batches until every view is at the head of the store; return how many events were read."""
        total = 0
        while (applied := self.run_once()) > 0:
            total += applied
        return total

    def step(self) -> int | None:
        """One batch, if this process follows the stream: it holds :attr:`lock` (taken now if free) or there is none.

        Returns how many events the batch had, or :data:`~orderflow.supervision.STANDBY` when another
        process holds the lock. A process that takes the lock over starts from the recorded positions.
        """
        if self.lock is not None and not self.lock.held():
            if not self.lock.acquire():
                return STANDBY
            self.forget()
            log.info("stream lock taken: this process follows the stream", stream=self.lock.name)
        return self.run_once()

    def run(self, stop: threading.Event, idle_sleep: float = 0.2) -> None:
        """Catch up continuously until ``stop`` is set (unsupervised: ``orderflow run`` uses a :class:`Worker`)."""
        while not stop.is_set():
            if not self.step():
                stop.wait(idle_sleep)

    def close(self) -> None:
        """Let another process follow the stream."""
        if self.lock is not None:
            self.lock.release()

    def apply(self, notifications: Sequence[Notification], behind: dict[View, int]) -> None:
        """Hand each event to the views of ``behind`` that take it and are behind it (``behind``: view -> position).

        Nothing is written: each view's ``flush`` writes what it noted.
        """
        # The usual case: every view behind, at the same position.
        level = len(behind) == len(self.views) and len(set(behind.values())) == 1
        taken = []
        for notification in notifications:
            views, follow = self._route(notification.topic)
            if not level:
                views = [view for view in views if behind.get(view, notification.id) < notification.id]
            if views:
                taken.append((notification, views, follow))
        events = self.decoded.decode([notification for notification, _, _ in taken])
        advance = self.follower.advance
        for (notification, views, follow), event in zip(taken, events, strict=True):
            aggregate = advance(event) if follow else None
            for view in views:
                view.apply(event, notification.id, aggregate)

    def _route(self, topic: str) -> tuple[list[View], bool]:
        """The views that take events of ``topic``, and whether any of them follows its aggregate."""
        route = self._routes.get(topic)
        if route is None:
            cls = resolve_topic(topic)
            views = [view for view in self.views if issubclass(cls, view.handles)]
            route = self._routes[topic] = (views, any(issubclass(cls, view.follows) for view in views))
        return route

    def _lock_positions(self, cursor: Cursor, behind: dict[View, int]) -> list[View]:
        """Lock the position rows of ``behind``'s views, in name order; return the views whose position moved since
        it was read (the engine wrote them inline meanwhile): their batch is dropped, the next one starts from there.

        The engine's inline write locks the same rows in the same order before it touches a view's tables, so the
        two never wait for each other in a cycle (they did: a deadlock every few seconds under live traffic).
        """
        if not behind:
            return []
        names = {self.tracking_name(view): view for view in behind}
        marks = ", ".join("?" * len(names))
        lock = " FOR UPDATE" if self.db.is_postgres else ""  # SQLite: the write transaction holds the file's lock
        cursor.execute(f"SELECT name, position FROM projection_tracking WHERE name IN ({marks}) ORDER BY name{lock}",
                       sorted(names))
        now = dict(cursor.fetchall())
        return [view for name, view in names.items() if now.get(name, 0) != behind[view]]

    def _write(self, cursor: Cursor, views: list[View], position: int) -> None:
        """Write the batch of every view, then record that each one reached ``position``."""
        for view in views:
            view.flush(cursor)
        for view in views:
            view.before_commit(cursor)
        for view in views:
            self._record_position(cursor, view, position)

    def forget(self) -> None:
        """Drop what the views noted and the orders followed (after a failed batch)."""
        for view in self.views:
            view.forget()
        self.follower.forget()

    def rewind(self, position: int = 0) -> None:
        """Make every view apply again everything after ``position`` (0: the whole history)."""
        with self.db.transaction() as cursor:
            for view in self.views:
                cursor.execute("UPDATE projection_tracking SET position = ? WHERE name = ?",
                               (position, self.tracking_name(view)))
                self._record_position(cursor, view, position)
        self.forget()
        log.info("projections rewound", views=[v.name for v in self.views], position=position)

    def _record_position(self, cursor: Cursor, view: View, position: int) -> None:
        """Record that ``view`` reached ``position``; never back: the engine may have written the view further
        meanwhile, in its events' transactions (:mod:`orderflow.projections.inline`)."""
        cursor.execute(
            "INSERT INTO projection_tracking (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position "
            "WHERE projection_tracking.position < excluded.position",
            (self.tracking_name(view), position),
        )
