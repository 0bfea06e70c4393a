"""Web orders as they stand after each event, for views that read the aggregate's own API.

A view that summarises an order (its list row, its versions) should not re-derive
the domain's rules; it reads a copy of the aggregate advanced by the very event it
handles. The runner keeps one :class:`AggregateFollower` for all its views, so each
event is applied to one copy once, however many views read it. Copies stay in a
bounded cache; a miss (a cold start, an evicted order) loads the aggregate as of
the previous version from the event store, so a rebuild from position 0 never
reads the store for an order it follows from its first event.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from uuid import UUID

from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.projections.base import View

CACHED_ORDERS = 2_000
"""How many web orders each of the engine's in-memory caches keeps (the consumer's, the projections' and the
outbound publisher's): about the orders a busy shop has in flight, so that a cache is full, and the engine's
memory flat, long before it has seen 10 times as many. The simulator's traffic revisits an order within its
last 1,400 orders; beyond that an order is read again from the store, which changes nothing but the time."""


class AggregateFollower:
    """Keeps aggregates in step with the events a projection applies."""

    def __init__(self, app: Orders, capacity: int = CACHED_ORDERS):
        self.app = app
        self.capacity = capacity
        self._cache: OrderedDict[UUID, Any] = OrderedDict()

    def load(self, event: Any) -> None:
        """Hold the aggregate as it stood just before ``event`` (read from the store if no copy is at that version)."""
        aggregate = self._cache.get(event.originator_id)
        if event.originator_version > 1 and (aggregate is None or aggregate.version != event.originator_version - 1):
            self._cache[event.originator_id] = self.app.repository.get(event.originator_id,
                                                                       version=event.originator_version - 1)

    def advance(self, event: Any) -> Any:
        """The aggregate right after ``event`` (the same object is advanced in place by its next event)."""
        aggregate = self._cache.pop(event.originator_id, None)
        if aggregate is None or aggregate.version != event.originator_version - 1:
            aggregate = (
                self.app.repository.get(event.originator_id, version=event.originator_version - 1)
                if event.originator_version > 1
                else None
            )
        aggregate = event.mutate(aggregate)
        self._cache[event.originator_id] = aggregate
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return aggregate

    def forget(self) -> None:
        """Drop every copy (after a failed transaction, the copies may be ahead of the view)."""
        self._cache.clear()


class FollowingView(View):
    """A view of web orders that reads each order as the event it handles left it."""

    handles = (WebOrder.Event,)
    follows = (WebOrder.Event,)
