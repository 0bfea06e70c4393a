"""From polled records to the event store, without Kafka: merge, check, apply or park, record.

:class:`Pipeline` is what the inbound consumer does with the records it
polls. Records are decoded once as they are buffered; the merge releases
them in event-time order; each is checked (its topic, its partition, its
schema), deduplicated, then applied, parked (its order is not seen yet) or
rejected with its reason. One :meth:`Pipeline.step` is one database
transaction: the events of the records it released, their receipts (rows of
``message_receipts``, keyed by message id: not an aggregate per message), the
error-journal entries and parking-lot changes, and every partition's new
position. A crash or a rebalance resumes the merge exactly there.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from kafka.partitioner.default import murmur2

from orderflow.aggregates.errors import UnknownOrder
from orderflow.aggregates.inbox import Receipt
from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.application.positions import Positions
from orderflow.application.shredding import customer_of
from orderflow.consumers.dead_letters import Rejection, Source, bounded_reason, unexpected_reason
from orderflow.consumers.handlers import (
    ERP,
    NOT_ABOUT_AN_ORDER,
    STOREFRONT,
    TOPIC_OF,
    CannotApply,
    apply,
    check_key,
    topic_for,
)
from orderflow.consumers.merge import EventTimeMerge, Incoming, Partition
from orderflow.consumers.parking import Parking
from orderflow.consumers.redrives import Redrive, Verdict
from orderflow.contract.envelope import BadEnvelope, Envelope, decode
from orderflow.contract.personal import redact_text
from orderflow.contract.schemas import Contract, ContractViolation
from orderflow.settings import Topics

log = structlog.get_logger("orderflow.consumer")
PLACEMENT = "order_placed"
APPLIED = "applied"
CACHED_RECEIPTS = 20_000
"""Message ids whose receipt (or its absence) the consumer remembers beyond the records it holds."""
Clock = Callable[[], datetime]


class Misrouted(CannotApply):
    """The record is on a topic or partition its message does not belong on."""


def position_name(topic: str, partition: int) -> str:
    """The tracking name under which a partition's position is stored."""
    return f"{topic}:{partition}"


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Java's producer and kafka-python give ``key`` (murmur2, as Kafka Streams expects)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def payload_digest(envelope: Envelope) -> str:
    """What a message says, independent of its encoding: the same message id must always say it."""
    canonical = json.dumps([envelope.key, envelope.message_type, envelope.payload], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Step:
    """What one transaction recorded."""

    released: int
    positions: dict[tuple[str, int], int]
    """The last offset released of each ``(topic, partition)`` that moved."""
    rejections: list[Rejection]
    full: bool
    """True when the step stopped at the batch size: more may be releasable at once."""
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    """How many records were ``applied``, ``parked`` or a ``duplicate``, by ``(outcome, message type)``."""


class Pipeline:
    """Merge, apply and record the records of the partitions this consumer owns."""

    def __init__(
        self,
        app: Orders,
        contract: Contract,
        topics: Topics,
        batch_size: int,
        grace: timedelta,
        max_idle: timedelta,
        park_deadline: timedelta,
        clock: Clock,
    ):
        self.app = app
        self.contract = contract
        self.topics = topics
        self.batch_size = batch_size
        self.clock = clock
        self.merge = EventTimeMerge(grace.total_seconds(), max_idle.total_seconds())
        self.parking = Parking(app, topics.storefront, park_deadline)
        self.partition_count = 0
        self._now = 0.0
        self.stream_time: datetime | None = None
        """The latest event time released: parked messages' deadlines are measured against it."""
        self._unseen: set[UUID] = set()
        """Order ids found missing when their records were buffered: no query per message."""
        self._receipts: dict[str, tuple[str, str] | None] = {}
        """Message id -> (digest, source) of its receipt, None for none, as found when its record was buffered
        or since recorded by this consumer: no query per message."""
        self._rank = {topics.storefront: 0, topics.erp: 1}
        self._kind = {topics.storefront: STOREFRONT, topics.erp: ERP}
        self._outcomes: Counter[tuple[str, str]] = Counter()

    # -- partitions and records in ----------------------------------------------------------------

    def assign(self, partitions: Iterable[Partition], partition_count: int, now: float) -> dict[Partition, int | None]:
        """Start over with these partitions; return each one's recorded position (None: nothing yet)."""
        partitions = sorted(partitions)
        self.merge.assign(partitions)
        self._unseen.clear()
        self._receipts.clear()
        self.app.forget_cache()  # another consumer may have moved these partitions' orders on
        self._now = now
        self.partition_count = partition_count
        for source, message_id in self.parking.load(sorted({tp.partition for tp in partitions}), self._order_exists):
            self.merge.requeue(self._incoming(source, parked_id=message_id), now)
        return {tp: self.app.position(position_name(tp.topic, tp.partition)) for tp in partitions}

    def add(self, polled: Mapping[Partition, Iterable[Any]], now: float) -> None:
        """Buffer polled records (by partition) at ``now``, decoded once.

        One round trip learns which of their messages have receipts and which
        of their orders do not exist yet (orders kept in memory are not asked about).
        """
        decoded = {partition: [self._incoming(record) for record in records] for partition, records in polled.items()}
        incoming = [each for batch in decoded.values() for each in batch]
        ids, message_ids, customers = set(), set(), []
        legacy = self.app.legacy_receipts
        for each in incoming:
            if each.envelope is not None:
                message_ids.add(each.envelope.message_id)
                if each.envelope.message_type == PLACEMENT:  # a hint: the keys are read when recorded if it misses
                    customers.append(customer_of(each.envelope.payload, each.envelope.key))
                if legacy:
                    ids.add(Receipt.create_id(each.envelope.message_id))
                order_id = WebOrder.create_id(each.envelope.key)
                if not self.app.is_cached(order_id):
                    ids.add(order_id)
        message_ids -= self._receipts.keys()
        missing, found = self.app.missing(list(ids), list(message_ids), customers)
        self._unseen |= missing
        for message_id in message_ids:
            self._receipts[message_id] = found.get(message_id)
        for partition, batch in decoded.items():
            self.merge.add(partition, batch, now)
        # Only a cache (an unknown message id is asked about again), bounded: the oldest go first, never
        # those of the records just buffered (else each of those would cost a query when released).
        excess = len(self._receipts) - max(CACHED_RECEIPTS, 2 * len(self.merge))
        if excess > 0:
            for message_id in list(islice(self._receipts, excess)):
                del self._receipts[message_id]

    def _incoming(self, record: Any, parked_id: str | None = None) -> Incoming:
        try:
            envelope, error = decode(record.key, record.value, list(record.headers or [])), None
        except BadEnvelope as bad:
            envelope, error = None, bad
        incoming = Incoming.of(record, self._rank[record.topic], envelope, error)
        incoming.parked_id = parked_id
        return incoming

    # -- one transaction ----------------------------------------------------------------------------

    def step(
        self, caught_up: Callable[[Partition], bool], now: float, before_commit: Callable[[list[Rejection]], None]
    ) -> Step | None:
        """Release up to a batch of records and record their effects in one transaction; None if none is due.

        ``before_commit`` gets the rejections (to dead-letter them) before the
        transaction commits; if it raises, nothing is recorded. An
        ``IntegrityError`` means another consumer recorded some of this first:
        nothing was recorded, and the caller must start over from the database.
        """
        self._now = now
        released = self.merge.release(caught_up, now)
        first = next(released, None)
        if first is None:
            return None
        at = self.clock()
        positions: dict[tuple[str, int], int] = {}
        rejections: list[Rejection] = []
        count = 0
        outcomes: Counter[tuple[str, str]] = Counter()
        self._outcomes = outcomes
        recorded: dict[str, tuple[str, str]] = {}
        self._recorded = recorded
        with self.app.batch() as batch:
            self.app.assume_missing(self._unseen)
            for incoming in self._chain(first, released):
                rejections += self._expire(incoming, at)
                rejections += self._apply(incoming, at)
                if not incoming.requeued:
                    positions[incoming.record.topic, incoming.record.partition] = incoming.record.offset
                count += 1
                if count >= self.batch_size:
                    break
            for rejection in rejections:
                self.app.save(rejection.journal_entry(at))
            batch.tracking = Positions.of({position_name(*tp): offset for tp, offset in positions.items()})
            if rejections:
                before_commit(rejections)
        self._unseen.difference_update(batch.aggregates)  # they exist now
        self._receipts.update(recorded)
        return Step(count, positions, rejections, full=count >= self.batch_size, outcomes=outcomes)

    @staticmethod
    def _chain(first: Incoming, rest: Iterator[Incoming]) -> Iterator[Incoming]:
        yield first
        yield from rest

    def _expire(self, incoming: Incoming, at: datetime) -> list[Rejection]:
        """Advance the stream's event time to ``incoming``'s; reject what waited past its deadline."""
        if incoming.envelope is None or incoming.requeued:
            return []
        occurred_at = incoming.envelope.occurred_at
        if self.stream_time is not None and occurred_at <= self.stream_time:
            return []
        self.stream_time = occurred_at
        rejections = []
        for source, message_id, reason in self.parking.expired(occurred_at):
            self.parking.settle(source, message_id, "rejected", reason, at)
            rejections.append(self._rejection(source, self._incoming(source).envelope, reason, "OrderNeverArrived"))
        return rejections

    def _apply(self, incoming: Incoming, at: datetime) -> list[Rejection]:
        """Apply one released record inside the open transaction; return the rejections it caused."""
        record, envelope = incoming.record, incoming.envelope
        source = Source.of(record)
        redrive = verdict = None
        try:
            verdict = None if incoming.requeued else Verdict.of(source.headers)
            if verdict is not None:
                judged = self._judge(verdict, envelope.message_type if envelope else "unknown", at)
                if judged is None:
                    return []
                incoming, envelope, source = judged, judged.envelope, judged.record
            redrive = None if incoming.requeued else Redrive.of(self.app, source.headers)
            if redrive is not None and not redrive.open:  # redriven already, or discarded: changes nothing
                self._outcomes["duplicate", redrive.entry.message_type or "unknown"] += 1
                return []
            if incoming.parked_id is not None and self.parking.waiting(incoming.parked_id) is None:
                return []  # requeued, but released or rejected by the back office meanwhile
            if incoming.error is not None:
                raise incoming.error
            assert envelope is not None
            if incoming.parked_id is not None:  # requeued, or released by the back office
                apply(self.app, envelope)  # checked, deduplicated and receipted when it was parked
                self.parking.settle(source, incoming.parked_id, "applied", verdict.detail if verdict else "", at)
                self._outcomes["applied", envelope.message_type] += 1
            elif redrive is not None:
                if self._take_redriven(source, envelope, at, redrive) != APPLIED:
                    return []
            elif self._take(source, envelope, at) != APPLIED:
                return []
        except (BadEnvelope, ContractViolation, CannotApply) as error:
            return self._refuse(incoming, source, str(error), type(error).__name__, at, redrive)
        except Exception as error:  # noqa: BLE001 - a poison message must never block the partition
            log.exception("unexpected error applying message", topic=source.topic, partition=source.partition,
                          offset=source.offset)
            return self._refuse(incoming, source, unexpected_reason(error), type(error).__name__, at, redrive)
        if envelope.message_type == PLACEMENT:
            for parked, message_id in self.parking.arrived(envelope.key):
                self.merge.requeue(self._incoming(parked, parked_id=message_id), self._now)
        return []

    def _judge(self, verdict: Verdict, message_type: str, at: datetime) -> Incoming | None:
        """Reject the parked message ``verdict`` names, or return it to be applied now if its order exists;
        None when nothing is to be applied (it is not parked here any more, or its order is still unknown)."""
        parked = self.parking.waiting(verdict.message_id)
        if parked is None:  # applied, rejected or expired before: changes nothing
            self._outcomes["duplicate", message_type] += 1
            return None
        if verdict.reason is not None:
            self.parking.settle(parked, verdict.message_id, "rejected", verdict.detail, at)
            return None
        incoming = self._incoming(parked, parked_id=verdict.message_id)
        if incoming.envelope is not None and not self._order_exists(incoming.envelope.key):
            return None  # it keeps waiting for its order
        return incoming

    def _take(self, source: Source, envelope: Envelope, at: datetime, redrive: Redrive | None = None) -> str:
        """Check, deduplicate, then apply or park a new record: ``applied``, ``parked`` or ``duplicate``.

        ``redrive``: a record the back office redrove, which may come on either inbound topic (a redrive sends
        everything on the storefront topic, so that an order's records keep their event-time order); a receipt
        from where it was first read is its own (it was parked before it was rejected), not a duplicate's, and
        is not written again.
        """
        self._check_route(source, envelope, any_topic=redrive is not None)
        self.contract.validate(envelope.message_type, envelope.schema_version, envelope.payload)
        digest = payload_digest(envelope)
        receipted = redrive is not None and self._receipt_of(envelope.message_id, redrive.first_source)
        if not receipted and self._seen_before(envelope, digest, source):
            self._outcomes["duplicate", envelope.message_type] += 1
            return "duplicate"
        where = f"{source.topic}:{source.partition}@{source.offset}"
        if self._must_wait(envelope):
            self.parking.park(source, envelope, at)
            if not receipted:
                self._receipt(envelope, digest, where, at)
            self._outcomes["parked", envelope.message_type] += 1
            return "parked"
        apply(self.app, envelope)
        if not receipted:
            self._receipt(envelope, digest, where, at)
        self._outcomes[APPLIED, envelope.message_type] += 1
        return APPLIED

    def _take_redriven(self, source: Source, envelope: Envelope, at: datetime, redrive: Redrive) -> str:
        """:meth:`_take` for a record the back office redrove; its entry records the outcome in this transaction."""
        before = self._order_version(envelope.key)
        outcome = self._take(source, envelope, at, redrive)
        after = self._order_version(envelope.key)
        where = f"{source.topic}:{source.partition}@{source.offset}"
        self.app.save(redrive.settled(outcome, where, list(range(before + 1, after + 1)), at))
        log.info("redriven message settled", entry=str(redrive.entry.id), outcome=outcome, user=redrive.user)
        return outcome

    def _order_version(self, key: str) -> int:
        try:
            return self.app.get_order(key).version
        except UnknownOrder:
            return 0

    def _receipt_of(self, message_id: str, where: str) -> bool:
        """Whether ``message_id``'s receipt was written for the record first read at ``where``."""
        receipt = self._recorded.get(message_id) or self._receipts.get(message_id)
        if receipt is None:
            receipt = self.app.receipts([message_id]).get(message_id)
        return receipt is not None and receipt[1] == where

    def _receipt(self, envelope: Envelope, digest: str, where: str, at: datetime) -> None:
        self.app.receipt(envelope.message_id, envelope.message_type, digest, where, at)
        self._recorded[envelope.message_id] = (digest, where)

    def _refuse(self, incoming: Incoming, source: Source, reason: str, error: str, at: datetime,
                redrive: Redrive | None = None) -> list[Rejection]:
        reason = bounded_reason(reason)
        self.app.discard_unsaved()
        envelope = incoming.envelope
        if incoming.parked_id is not None:
            self.parking.settle(source, incoming.parked_id, "rejected", reason, at)
        return [self._rejection(source, envelope, reason, error, redrive)]

    def _check_route(self, source: Source, envelope: Envelope, any_topic: bool = False) -> None:
        """Refuse a message on the wrong topic (``any_topic``: either inbound topic will do), or on a partition its
        key does not hash to, or keyed by the setup key."""
        check_key(envelope)
        kind = TOPIC_OF.get(envelope.message_type)
        if kind is not None and kind != self._kind[source.topic] and not any_topic:
            home = topic_for(envelope.message_type, self.topics)
            raise Misrouted(f"{envelope.message_type} belongs on the {kind} topic ({home}), not on {source.topic}")
        expected = partition_for(source.key or b"", self.partition_count)
        if source.partition != expected:
            raise Misrouted(
                f"the key belongs on partition {expected} of {self.partition_count} (murmur2 of the key, "
                f"as Java and kafka-python producers hash it) but arrived on partition {source.partition}: a librdkafka "
                "producer (kcat, confluent-kafka) must set partitioner=murmur2_random"
            )

    def _must_wait(self, envelope: Envelope) -> bool:
        """Only a message for an order not seen yet waits: time can fix that, and nothing else."""
        if envelope.message_type == PLACEMENT or envelope.message_type in NOT_ABOUT_AN_ORDER:
            return False
        return not self._order_exists(envelope.key)

    def _order_exists(self, key: str) -> bool:
        try:
            self.app.get_order(key)
        except UnknownOrder:
            return False
        return True

    def _seen_before(self, envelope: Envelope, digest: str, source: Source) -> bool:
        message_id = envelope.message_id
        receipt: tuple[str, str] | None
        if message_id in self._recorded:
            receipt = self._recorded[message_id]
        elif message_id in self._receipts:
            receipt = self._receipts[message_id]
        else:
            receipt = self.app.receipts([message_id]).get(message_id)
        if receipt is None and self.app.legacy_receipts:
            receipt = self._legacy_receipt(message_id)
        if receipt is None:
            return False
        first_digest, first_seen = receipt
        if first_digest != digest:
            raise CannotApply(
                f"message id {message_id} was already used for a different payload (first seen at {first_seen})"
            )
        log.debug("duplicate message ignored", order=envelope.key, message_id=message_id, first_seen=first_seen)
        return True

    def _legacy_receipt(self, message_id: str) -> tuple[str, str] | None:
        """The receipt of a message recorded as a ``Receipt`` aggregate, by a version before receipts were rows."""
        try:
            receipt = self.app.load(Receipt.create_id(message_id))  # known missing ones cost no query
        except AggregateNotFoundError:
            return None
        return receipt.digest, receipt.source

    @staticmethod
    def _rejection(source: Source, envelope: Envelope | None, reason: str, error: str,
                   redrive: Redrive | None = None) -> Rejection:
        """The rejection of a record; one whose envelope cannot be read keeps what its headers said it was."""
        reason = redact_text(bounded_reason(reason))  # an order key or message id may be an e-mail address
        log.warning("message rejected", topic=source.topic, partition=source.partition, offset=source.offset,
                    order=envelope.key if envelope else None, reason=reason)
        return Rejection(
            source=source, reason=reason, error=error,
            message_id=envelope.message_id if envelope else source.header("message_id"),
            message_type=envelope.message_type if envelope else source.header("message_type"),
            redrive=redrive,
        )
