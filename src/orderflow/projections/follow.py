"""Web orders as they stand after each event, for views that read the aggregate's own API.

A view that summarises an order (its list row, its versions) should not re-derive
the domain's rules; it advances a copy of the aggregate by the very event it
handles and reads the result. Copies stay in a bounded cache; a miss (a cold
start, a rebuild, an evicted order) loads the aggregate as of the previous
version from the event store.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from uuid import UUID

from orderflow.application import Orders
from orderflow.projections.base import View


class AggregateFollower:
    """Keeps aggregates in step with the events a projection applies."""

    def __init__(self, app: Orders, capacity: int = 10_000):
        self.app = app
        self.capacity = capacity
        self._cache: OrderedDict[UUID, Any] = OrderedDict()

    def advance(self, event: Any) -> Any:
        """The aggregate right after ``event``."""
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
    """A view that reads each order through an :class:`AggregateFollower` of its own."""

    def __init__(self, is_postgres: bool, app: Orders, suffix: str = ""):
        super().__init__(is_postgres, suffix)
        self.follower = AggregateFollower(app)

    def forget(self) -> None:
        self.follower.forget()
