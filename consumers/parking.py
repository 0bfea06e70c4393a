"""Messages for an order not seen yet wait in a parking lot, with a deadline in event time.

The storefront's and the ERP's clocks differ, so after the merge by event time
(:mod:`orderflow.consumers.merge`) an ERP message can still come before the
``order_placed`` it is about. That is the one thing time can fix, and the only
reason a message is parked. When the order is placed, its parked messages go
back into the merge at their own event times; when the stream's event time
passes a parked message's deadline first, it is rejected ("order ... never
arrived"). Everything else a message cannot do is rejected at once.

Each lot is one aggregate per partition number of the co-partitioned inbound
topics, kept in memory while this consumer owns that partition.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import structlog
from eventsourcing.application import AggregateNotFoundError

from orderflow.aggregates.inbox import ParkingLot
from orderflow.application.orders import Orders
from orderflow.consumers.dead_letters import Source
from orderflow.contract.envelope import Envelope, format_time

log = structlog.get_logger("orderflow.parking")


class Parking:
    """The parking lots of the partitions this consumer owns."""

    def __init__(self, app: Orders, storefront_topic: str, deadline: timedelta):
        self.app = app
        self.storefront_topic = storefront_topic
        self.deadline = deadline
        self._lots: dict[int, ParkingLot] = {}
        self._waiting: dict[str, list[tuple[int, str]]] = {}  # order key -> (lot, message id), in parking order
        self._deadlines: list[tuple[datetime, int, str]] = []  # heap of (deadline, lot, message id)

    def load(self, partitions: Iterable[int], order_exists: Callable[[str], bool]) -> list[tuple[Source, str]]:
        """Start over with the lots of these partitions; return the parked messages whose order exists now.

        Those are due back in the merge: the order was placed by a batch that
        recorded it, before its parked messages could follow.
        """
        self._lots.clear()
        self._waiting.clear()
        self._deadlines.clear()
        due: list[tuple[Source, str]] = []
        for partition in partitions:
            try:
                lot: ParkingLot = self.app.repository.get(ParkingLot.create_id(self.storefront_topic, partition))
            except AggregateNotFoundError:
                continue
            self._lots[partition] = lot
            for message_id, message in lot.pending.items():
                if order_exists(message["key"]):
                    due.append((Source.from_dict(message), message_id))
                else:
                    self._index(partition, message_id, message)
        return due

    def park(self, record: Source, envelope: Envelope, at: datetime) -> None:
        """Keep ``envelope``'s record until its order is placed or its deadline passes."""
        lot = self._lots.get(record.partition)
        if lot is None:
            lot = self._lots[record.partition] = ParkingLot(self.storefront_topic, record.partition)
        message = {**record.to_dict(), "message_id": envelope.message_id, "message_type": envelope.message_type}
        deadline = envelope.occurred_at + self.deadline
        reason = f"order {envelope.key} not seen yet; waits until {format_time(deadline)} in event time"
        lot.park(message, reason=reason, deadline=deadline, at=at)
        self.app.save(lot)
        self._index(record.partition, envelope.message_id, lot.pending[envelope.message_id])
        log.info("message parked", order=envelope.key, message_type=envelope.message_type,
                 message_id=envelope.message_id, deadline=format_time(deadline))

    def arrived(self, order_key: str) -> list[tuple[Source, str]]:
        """The order was placed: its parked messages (and their ids), to go back into the merge."""
        return [(Source.from_dict(self._lots[lot].pending[message_id]), message_id)
                for lot, message_id in self._waiting.pop(order_key, ())]

    def expired(self, stream_time: datetime) -> list[tuple[Source, str, str]]:
        """Parked messages whose deadline the stream's event time has passed: ``(record, message id, reason)``."""
        gone = []
        while self._deadlines and self._deadlines[0][0] < stream_time:
            deadline, lot, message_id = heapq.heappop(self._deadlines)
            message = self._lots[lot].pending.get(message_id)
            waiting = self._waiting.get(message["key"]) if message else None
            if not message or not waiting or (lot, message_id) not in waiting:
                continue  # already back in the merge
            waiting.remove((lot, message_id))
            if not waiting:
                del self._waiting[message["key"]]
            reason = (f"order {message['key']} never arrived: the message waited until {format_time(deadline)} "
                      "in event time (ORDERFLOW_PARK_DEADLINE_SECONDS after its own time)")
            gone.append((Source.from_dict(message), message_id, reason))
        return gone

    def waiting(self, message_id: str) -> Source | None:
        """The record of a message still parked in one of these lots; None if it is not (any more)."""
        for lot in self._lots.values():
            if message_id in lot.pending:
                return Source.from_dict(lot.pending[message_id])
        return None

    def settle(self, source: Source, message_id: str, outcome: str, detail: str, at: datetime) -> None:
        """Record what became of a parked message: ``applied`` or ``rejected``."""
        lot = self._lots[source.partition]
        key: str = lot.pending.get(message_id, {}).get("key", "")
        lot.release(message_id, outcome, detail, at)
        self.app.save(lot)
        waiting = self._waiting.get(key, [])
        if (source.partition, message_id) in waiting:  # released by the back office, not by its order
            waiting.remove((source.partition, message_id))
            if not waiting:
                del self._waiting[key]
        log.info("parked message released", message_id=message_id, outcome=outcome)

    def _index(self, lot: int, message_id: str, message: dict) -> None:
        self._waiting.setdefault(message["key"], []).append((lot, message_id))
        heapq.heappush(self._deadlines, (message["deadline"], lot, message_id))
