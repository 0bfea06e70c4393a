"""Read models written with the events: the transaction that records a batch's events also writes their rows.

The inbound loop holds each order's aggregate and the events it has just decided; reading them back from
the store to project them (decode, unseal, replay) cost the followers process more CPU than deciding them.
So the engine's application writes the read models *inline* (as Marten calls it; Kafka Streams and
quix-streams likewise commit state with the offset): the same views, fed the batch's domain events in
memory and their notification ids, write their rows (one statement per table) and their positions in the
events' transaction. A message's effects are visible the moment its batch commits.

Each view is written inline only while it is caught up: its recorded position is the last event before
this batch (checked and moved in one statement, inside the transaction that holds the events table's
lock, so notification ids commit in order). A view that lags (after an upgrade, a rewind, a rebuild's
swap, events recorded by another writer such as ``orderflow forget``) is left to the followers'
:class:`~orderflow.projections.runner.ProjectionRunner`, which reads the store as before, until it is
caught up again. The rows are the same either way: a view's ``apply`` gets the event and the order as
the event left it (an :class:`AggregateFollower` copy, advanced here as the runner advances its own), and
a rebuild from the store gives exactly the live rows (``tests/unit/test_read_models.py``).

A batch that stores a forgotten customer's fields as forgotten (their order took an event after
``orderflow forget``) is not written inline: the events in memory still hold what the store does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderflow.db import Database, PostgresCursor, Slot
from orderflow.projections.base import View
from orderflow.projections.catalog import all_views
from orderflow.projections.follow import AggregateFollower

TRACKING = "projection_tracking"
PIPELINED_BELOW = 100
"""A batch of fewer events (a live one) sends every view's rows in one pipeline of prepared ``INSERT``s: one round
trip. A larger one (a backlog) copies them (``COPY`` into scratch tables, then one ``INSERT`` each): more round
trips, far fewer server cycles per row (PostgreSQL's CPU per message rose by a fifth in ``make bench`` with
every batch pipelined)."""


class InlineProjection:
    """Writes ``views`` in the transaction of every event insert of ``app`` (see the module's docstring)."""

    def __init__(self, app: Any, views: Sequence[View], is_postgres: bool):
        self.app = app
        self.views = list(views)
        self.is_postgres = is_postgres
        self.follower = AggregateFollower(app)
        self._names = {view.name + view.suffix: view for view in self.views}
        self._routes: dict[type, tuple[list[View], bool]] = {}
        recorder = app.recorder
        if is_postgres:
            events = f"{recorder.datastore.schema}.{recorder.events_table_name}"
            before = f"SELECT coalesce(max(notification_id), 0) FROM {events} WHERE notification_id < %s"
            # The rows are locked in name order, as the followers' runner locks them (no deadlock between the two).
            locked = f"SELECT name FROM {TRACKING} WHERE name = ANY(%s) ORDER BY name FOR UPDATE"
            self._advance = (f"UPDATE {TRACKING} SET position = %s WHERE name IN ({locked}) AND position >= ({before}) "
                             "RETURNING name")
        else:
            before = f"SELECT coalesce(max(rowid), 0) FROM {recorder.events_table_name} WHERE rowid < ?"
            marks = ", ".join("?" * len(self._names))
            self._advance = (f"UPDATE {TRACKING} SET position = ? WHERE name IN ({marks}) AND position >= ({before}) "
                             "RETURNING name")
        self._forgotten = self._forgets()
        self._pending: list[Slot] | None = None
        """The positions of the rows :meth:`prepare` built, to be filled in by :meth:`write`."""

    @classmethod
    def install(cls, app: Any, db: Database) -> InlineProjection:
        """Have ``app`` write every read model of the catalog inline from now on (their tables exist: the
        :class:`~orderflow.projections.runner.ProjectionRunner` of the same database created them)."""
        inline = cls(app, all_views(db.is_postgres), db.is_postgres)
        with db.transaction() as cursor:  # a position row for each, which the first batch can move
            for name in inline._names:
                cursor.execute(f"INSERT INTO {TRACKING} (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
                               (name,))
        app.inline = inline
        return inline

    def prepare(self, events: Sequence[Any]) -> None:
        """Before the transaction: read what the follower lacks (orders it does not hold as of their first event
        here), advance the copies and build every view's rows, with :class:`~orderflow.db.Slot` positions that
        :meth:`write` fills in once the insert has assigned them. So nothing is read or built while the events
        table is locked: only the statements run under the lock (``docs/scaling.md``)."""
        forgets = self._forgets()
        if forgets != self._forgotten:  # a customer forgotten meanwhile: the copies may show them
            self.follower.forget()
            self._forgotten = forgets
        for view in self.views:
            view.forget()
        seen = set()
        for event in events:
            if event.originator_id in seen or not self._route(type(event))[1]:
                continue
            seen.add(event.originator_id)
            self.follower.load(event)
        slots = [Slot() for _ in events]
        advance = self.follower.advance
        for event, slot in zip(events, slots, strict=True):
            views, follow = self._route(type(event))
            if not views:
                continue
            aggregate = advance(event) if follow else None
            for view in views:
                view.apply(event, slot, aggregate)
        self._pending = slots

    def write(self, cursor: Any, events: Sequence[Any], positions: Sequence[int], stored_forgotten: bool) -> None:
        """Inside the events' transaction (``cursor``, the recorder's), with their ``positions``: the rows of every
        caught-up view (built by :meth:`prepare`), and its new position.

        A retried insert finds its rows spent by the failed attempt: it leaves the views to the followers' runner
        (they lag from then on, until it has caught them up), as a batch storing forgotten fields does."""
        slots, self._pending = self._pending, None
        if slots is None or len(slots) != len(events) or stored_forgotten or not positions:
            self.forget()
            return
        for slot, position in zip(slots, positions, strict=True):
            slot.value = position
        if self.is_postgres:
            cursor = PostgresCursor(cursor)
            cursor.execute(self._advance, (positions[-1], list(self._names), positions[0]))
        else:
            cursor.execute(self._advance, (positions[-1], *self._names, positions[0]))
        caught_up = {self._names[row[0]] for row in cursor.fetchall()}
        for view in self.views:
            if view not in caught_up:
                view.forget()
        if not caught_up:
            return
        pipelined = self.is_postgres and len(events) < PIPELINED_BELOW
        for view in caught_up:
            view.pipelined = pipelined
        if pipelined:  # every view's statements in one round trip
            with cursor.connection.pipeline():
                self._flush(cursor, caught_up)
        else:
            self._flush(cursor, caught_up)

    def _flush(self, cursor: Any, caught_up: set[View]) -> None:
        for view in self.views:
            if view in caught_up:
                view.flush(cursor)
        for view in self.views:
            if view in caught_up:
                view.before_commit(cursor)

    def forget(self) -> None:
        """After a batch that was not recorded: the copies may be ahead of the store, the views hold notes."""
        self._pending = None
        self.follower.forget()
        for view in self.views:
            view.forget()

    def _route(self, cls: type) -> tuple[list[View], bool]:
        route = self._routes.get(cls)
        if route is None:
            views = [view for view in self.views if issubclass(cls, view.handles)]
            route = self._routes[cls] = (views, any(issubclass(cls, view.follows) for view in views))
        return route

    def _forgets(self) -> int:
        return getattr(getattr(self.app, "customer_keys", None), "forgotten", 0)
