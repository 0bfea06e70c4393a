"""One order of application for the two inbound topics: by event time, whatever the timing of their arrival.

The storefront and the ERP publish on different topics. A consumer reads
their partitions at whatever pace the broker delivers them, so the order in
which it *reads* two messages says nothing about the order in which they
*happened*. This merge restores it, as Kafka Streams does for the inputs of a
task (``PartitionGroup``, KIP-353 and KIP-695):

- each assigned partition has a buffer of records in offset order; a
  partition's own order is never changed;
- the next record released is the buffered head with the smallest key
  ``(occurred_at, topic rank, partition, offset)``: the envelope's event
  time, then the storefront before the ERP, then the partition and offset;
- a record is released only when every partition with an empty buffer is
  caught up to its end offset (nothing more is there to read) and the record
  has waited ``grace`` seconds for it since it was read (an earlier record
  published at the same moment may still be on its way; and the end offset a
  consumer knows is that of its last fetch, so after an outage the other
  topic's backlog may be in the next one: the grace counts from the
  arrival, never from the record's Kafka timestamp), or when a partition
  behind its end offset has delivered nothing for ``max_idle`` seconds (the
  merge goes on without it rather than stand still).

Messages that waited for their order (see :mod:`orderflow.consumers.parking`)
come back through :meth:`EventTimeMerge.requeue` and are released in the
same order, among the records still to come.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from orderflow.contract.envelope import BadEnvelope, Envelope

log = structlog.get_logger("orderflow.merge")

EARLIEST = datetime.min.replace(tzinfo=UTC)
Partition = Any  # kafka.TopicPartition, or any hashable (topic, partition) pair


@dataclass(eq=False, slots=True)
class Incoming:
    """One inbound record, decoded once, with its place in the merge."""

    sort_key: tuple
    record: Any
    envelope: Envelope | None = None
    error: BadEnvelope | None = None
    parked_id: str | None = None
    """The message id of a parked message coming back: its partition's position is already past it."""
    arrived: float = 0.0
    """When it was buffered (``time.monotonic()``)."""

    @property
    def requeued(self) -> bool:
        return self.parked_id is not None

    @classmethod
    def of(cls, record: Any, rank: int, envelope: Envelope | None, error: BadEnvelope | None) -> Incoming:
        # A record that is not an envelope has no event time: it goes as soon as it heads its partition.
        at = envelope.occurred_at if envelope is not None else EARLIEST
        return cls((at, rank, record.partition, record.offset), record, envelope, error)


@dataclass
class EventTimeMerge:
    """Buffers per partition; releases records in event-time order (see the module's docstring)."""

    grace: float
    """Seconds a record waits for a caught-up empty partition, where an earlier record may still be on its way."""
    max_idle: float
    """Seconds a partition behind its end offset may hold the merge back before it goes on without it."""
    _buffers: dict[Partition, deque[Incoming]] = field(default_factory=dict)
    _requeued: list[tuple[tuple, Incoming]] = field(default_factory=list)
    _behind_since: dict[Partition, float] = field(default_factory=dict)
    _gone_idle: set[Partition] = field(default_factory=set)

    def assign(self, partitions: Iterable[Partition]) -> None:
        """Start over with these partitions and nothing buffered."""
        self._buffers = {tp: deque() for tp in partitions}
        self._requeued.clear()
        self._behind_since.clear()
        self._gone_idle.clear()

    def add(self, partition: Partition, incoming: Iterable[Incoming], now: float) -> None:
        """Buffer records of ``partition``, in the offset order they were read, at ``now``."""
        buffer = self._buffers[partition]
        for each in incoming:
            each.arrived = now
            buffer.append(each)
        self._behind_since.pop(partition, None)
        self._gone_idle.discard(partition)

    def requeue(self, incoming: Incoming, now: float) -> None:
        """Release a parked message again, at its event time, among the records still to come."""
        incoming.arrived = now
        heapq.heappush(self._requeued, (incoming.sort_key, incoming))

    def buffered(self, partition: Partition) -> int:
        return len(self._buffers[partition])

    def __len__(self) -> int:
        return sum(len(b) for b in self._buffers.values()) + len(self._requeued)

    def release(self, caught_up: Callable[[Partition], bool], now: float) -> Iterator[Incoming]:
        """Yield records in event-time order while the rule allows; stop when it does not.

        ``caught_up(partition)`` says whether an empty partition has been read
        to its end offset. Records requeued while iterating are taken into
        account for the next one.
        """
        empty = {tp: caught_up(tp) for tp, buffer in self._buffers.items() if not buffer}
        while (source := self._earliest()) is not None:
            if source is self._requeued:
                if self._held(self._requeued[0][1], empty, now):
                    return
                yield heapq.heappop(self._requeued)[1]
                continue
            buffer = self._buffers[source]
            if self._held(buffer[0], empty, now):
                return
            incoming = buffer.popleft()
            if not buffer:
                empty[source] = caught_up(source)
            yield incoming

    def _earliest(self) -> Any:
        """The buffer (or the requeued heap) whose head comes first; None if all are empty."""
        best, best_key = None, None
        for tp, buffer in self._buffers.items():
            if buffer and (best_key is None or buffer[0].sort_key < best_key):
                best, best_key = tp, buffer[0].sort_key
        if self._requeued and (best_key is None or self._requeued[0][0] < best_key):
            return self._requeued
        return best

    def _held(self, head: Incoming, empty: dict[Partition, bool], now: float) -> bool:
        """Whether an empty partition may still deliver something that comes before ``head``."""
        held = False
        for partition, is_caught_up in empty.items():
            if is_caught_up:
                self._behind_since.pop(partition, None)
                held = held or now - head.arrived < self.grace
            elif not self._given_up_on(partition, now):
                held = True  # and go on: every partition behind starts its idle clock now
        return held

    def _given_up_on(self, partition: Partition, now: float) -> bool:
        """Whether a partition behind its end offset has held the merge back for longer than ``max_idle``."""
        since = self._behind_since.setdefault(partition, now)
        if now - since < self.max_idle:
            return False
        if partition not in self._gone_idle:
            self._gone_idle.add(partition)
            log.warning("partition behind its end offset delivers nothing; merging without it",
                        partition=str(partition), waited_seconds=round(now - since, 3))
        return True
