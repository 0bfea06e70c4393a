"""Stored events decoded once for every follower of the event store in one process.

The read models and the outbound publisher follow the same store, each at its
own position, in threads of one process: without a shared copy each of them
selects, decodes and unseals every event. :class:`DecodedEvents` keeps the
events the last pages held, by notification id, so the follower that reads a
page second takes them as they are. Decoded events are never changed (their
personal fields are put back before they enter), so sharing them is safe;
the aggregates they advance are not shared: each follower keeps its own
(:class:`~orderflow.projections.follow.AggregateFollower`).

Bounded in count (a follower further behind decodes again) and in time: an
event decoded :data:`SHARED_SECONDS` ago is decoded again, so a customer that
another process forgets reads as forgotten here at most that much later than
the key cache allows (:data:`~orderflow.application.shredding.KEY_TTL_SECONDS`);
one forgotten by this process (``orderflow forget`` on the same application)
empties the cache at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from eventsourcing.persistence import Notification

SHARED_EVENTS = 1_500
"""How many decoded events are kept (about 3.6 kB each: 5.5 MB). In ``orderflow run`` on the 1,000-order backlog
(8,870 events, each read by both followers) 7,372 reads were served from here (83% of the second reads); 6,362
with 1,000 kept, about as many with 4,000. A follower further behind decodes its pages itself."""

SHARED_SECONDS = 5.0
"""How long a decoded event is served: the followers read a page within a second or two of each other."""

_SHARED: WeakKeyDictionary[Any, DecodedEvents] = WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


class DecodedEvents:
    """The domain events of notifications, decoded by the application's mapper, the recent ones kept."""

    def __init__(self, mapper: Any, capacity: int = SHARED_EVENTS, ttl: float = SHARED_SECONDS):
        self.mapper = mapper
        self.capacity = capacity
        self.ttl = ttl
        self._events: OrderedDict[int, tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._forgotten = self._forgets()
        self.served = self.decoded = 0
        """How many events were taken from here, and how many decoded (for tests and benchmarks)."""

    @classmethod
    def of(cls, app: Any) -> DecodedEvents:
        """The one instance of ``app``: every runner built on the same application shares it."""
        with _SHARED_LOCK:
            shared = _SHARED.get(app)
            if shared is None:
                shared = _SHARED[app] = cls(app.mapper)
            return shared

    def decode(self, notifications: Sequence[Notification]) -> list[Any]:
        """The domain event of each notification, in order: those kept as they are, the others decoded now."""
        now = time.monotonic()
        found: dict[int, Any] = {}
        forgotten = self._forgets()
        with self._lock:
            if forgotten != self._forgotten:  # a customer forgotten meanwhile: what was unsealed may show them
                self._events.clear()
                self._forgotten = forgotten
            get = self._events.get
            for notification in notifications:
                entry = get(notification.id)
                if entry is not None and now - entry[1] < self.ttl:
                    found[notification.id] = entry[0]
        missing = [notification for notification in notifications if notification.id not in found]
        self.served += len(found)
        self.decoded += len(missing)
        if missing:
            events = self._decode(missing)
            with self._lock:
                for notification, event in zip(missing, events, strict=True):
                    found[notification.id] = event
                    if self._forgets() != forgotten:  # decoded while a customer was being forgotten: not kept
                        continue
                    self._events[notification.id] = (event, now)
                    self._events.move_to_end(notification.id)
                while len(self._events) > self.capacity:
                    self._events.popitem(last=False)
        return [found[notification.id] for notification in notifications]

    def _forgets(self) -> int:
        return getattr(getattr(self.mapper, "keys", None), "forgotten", 0)

    def _decode(self, notifications: list[Notification]) -> list[Any]:
        many = getattr(self.mapper, "to_domain_events", None)  # the shredding mapper reads the page's keys in one query
        if many is not None:
            return many(notifications)
        return [self.mapper.to_domain_event(notification) for notification in notifications]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
