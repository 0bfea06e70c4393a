"""The inbound consumer: storefront and ERP topics into the event store, exactly once.

Each poll is applied partition by partition; one partition's records become
one database transaction holding their events, their receipts, the error
journal entries of the ones that failed, and the partition's new position.
The position in the database, not Kafka's committed offset, is where a
consumer resumes: on every assignment it seeks there.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from orderflow.aggregates.inbox import ParkedMessages, Receipt
from orderflow.application import Orders
from orderflow.contract import Contract, ContractViolation
from orderflow.consumers.dead_letters import DeadLetterTopic, Rejection, Source
from orderflow.consumers.parking import Parking
from orderflow.consumers.handlers import NOT_ABOUT_AN_ORDER, CannotApply, apply
from orderflow.wire import BadEnvelope, Envelope, decode

log = structlog.get_logger("orderflow.consumer")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def position_name(topic: str, partition: int) -> str:
    """The tracking name under which a partition's position is stored."""
    return f"{topic}:{partition}"


def _await_topic_metadata(consumer: KafkaConsumer, topics: tuple[str, ...], timeout: float = 30) -> None:
    """Know every topic's partitions before joining the group.

    A member that joins while its metadata lacks a subscribed topic is given no
    partitions of it, and may wait minutes for the next rebalance.
    """
    deadline = time.monotonic() + timeout
    while missing := [t for t in topics if not consumer.partitions_for_topic(t)]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics {missing} do not exist on the broker (orderflow run creates them)")
        time.sleep(0.2)


def payload_digest(envelope: Envelope) -> str:
    """What a message says, independent of its encoding: the same message id must always say it."""
    canonical = json.dumps([envelope.key, envelope.message_type, envelope.payload], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Assignments(ConsumerRebalanceListener):
    """Notes newly assigned partitions; the poll loop seeks them (never from this callback's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        with self._lock:
            self._pending.update(assigned)

    def take(self) -> set[TopicPartition]:
        with self._lock:
            pending, self._pending = self._pending, set()
        return pending


class InboundConsumer:
    """Polls the inbound topics and applies their messages through the application's commands."""

    def __init__(
        self,
        app: Orders,
        contract: Contract,
        consumer: KafkaConsumer,
        dead_letters: DeadLetterTopic,
        topics: tuple[str, ...],
        batch_size: int = 500,
        clock: Clock = utc_now,
    ):
        self.app = app
        self.contract = contract
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.batch_size = batch_size
        self.clock = clock
        self.parking = Parking(app)
        self.assigned_at: float | None = None
        """When partitions were last assigned (``time.monotonic()``); None before the first assignment."""
        self._assignments = _Assignments()
        _await_topic_metadata(consumer, topics)
        consumer.subscribe(list(topics), listener=self._assignments)

    @property
    def is_assigned(self) -> bool:
        """Whether the group has given this consumer partitions yet."""
        return bool(self.consumer.assignment())

    def close(self) -> None:
        """Leave the group; everything applied is already recorded."""
        self.consumer.close(autocommit=False)
        log.info("consumer stopped")

    def poll_once(self, timeout_ms: int = 500) -> int:
        """One poll: apply what arrived; return how many records were consumed."""
        batches = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.batch_size)
        for tp in self._assignments.take():
            resume_at = self._seek_to_recorded_position(tp)
            batches.pop(tp, None)
            self.assigned_at = time.monotonic()
            log.info("partition assigned", topic=tp.topic, partition=tp.partition, resume_at=resume_at)
        consumed = 0
        for tp, records in batches.items():
            consumed += self._apply_partition(tp, records)
        return consumed

    def _seek_to_recorded_position(self, tp: TopicPartition) -> int | None:
        """Seek to the offset after the one the database recorded; return it (None: the beginning)."""
        recorded = self.app.position(position_name(tp.topic, tp.partition))
        if recorded is None:
            self.consumer.seek_to_beginning(tp)
            return None
        self.consumer.seek(tp, recorded + 1)
        return recorded + 1

    def _apply_partition(self, tp: TopicPartition, records: list[Any]) -> int:
        last = records[-1].offset
        at = self.clock()
        rejections: list[Rejection] = []
        try:
            with self.app.batch(Tracking(position_name(tp.topic, tp.partition), last)):
                self._prefetch(records)
                for record in records:
                    for rejection in self._apply(record):
                        rejections.append(rejection)
                        self.app.save(rejection.journal_entry(at))
                if rejections:
                    self.dead_letters.publish(rejections, at)
        except IntegrityError as error:
            # Another consumer recorded some of these first (a rebalance), or a
            # concurrent writer moved an aggregate on: nothing of this batch was
            # recorded. Read the partition again from the recorded position.
            resume_at = self._seek_to_recorded_position(tp)
            log.warning("batch conflicted, re-reading", topic=tp.topic, partition=tp.partition,
                        resume_at=resume_at, error=str(error))
            return 0
        self.consumer.commit_async({tp: OffsetAndMetadata(last + 1, "", -1)})
        log.info(
            "batch recorded", topic=tp.topic, partition=tp.partition, first_offset=records[0].offset,
            last_offset=last, messages=len(records), rejected=len(rejections),
        )
        return len(records)

    def _prefetch(self, records: list[Any]) -> None:
        """Learn in one query which receipts and parking lots of this batch do not exist yet."""
        ids = []
        for record in records:
            headers = dict(record.headers or [])
            if "message_id" in headers:
                ids.append(Receipt.create_id(headers["message_id"].decode(errors="replace")))
            if record.key:
                ids.append(ParkedMessages.create_id(record.key.decode(errors="replace")))
        self.app.note_missing(list(dict.fromkeys(ids)))

    def _apply(self, record: Any) -> list[Rejection]:
        """Apply one record inside the open batch; return the rejections it caused.

        A message its order cannot take yet is parked (see
        :mod:`orderflow.consumers.parking`); applying one retries what is parked
        for the same order, any of which may be rejected in turn.
        """
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        envelope: Envelope | None = None
        try:
            envelope = decode(record.key, record.value, list(record.headers or []))
            self.contract.validate(envelope.message_type, envelope.schema_version, envelope.payload)
            digest = payload_digest(envelope)
            if self._seen_before(envelope, digest, where):
                return []
            receipt = Receipt(envelope.message_id, envelope.message_type, digest, at=self.clock(), **where)
            if self.parking.must_wait(envelope):
                self.parking.park(envelope, record, f"waiting for order {envelope.key} or its earlier messages", self.clock())
                self.app.save(receipt)
                return []
            try:
                apply(self.app, envelope)
            except CannotApply as error:
                if not error.may_resolve or envelope.message_type in NOT_ABOUT_AN_ORDER:
                    raise
                self.app.discard_unsaved()
                self.parking.park(envelope, record, str(error), self.clock())
                self.app.save(receipt)
                return []
            self.app.save(receipt)
        except (BadEnvelope, ContractViolation, CannotApply) as error:
            self.app.discard_unsaved()
            return [self._rejection(Source.of(record), envelope, str(error), type(error).__name__)]
        except Exception as error:  # noqa: BLE001 - a poison message must never block the partition
            self.app.discard_unsaved()
            log.exception("unexpected error applying message", **where)
            return [self._rejection(Source.of(record), envelope, f"unexpected error: {error!r}", type(error).__name__)]
        log.info("message applied", order=envelope.key, message_type=envelope.message_type, message_id=envelope.message_id, **where)
        return self.parking.retry(envelope, self.clock(), self._rejection)

    def _seen_before(self, envelope: Envelope, digest: str, where: dict[str, Any]) -> bool:
        try:
            receipt = self.app.load(Receipt.create_id(envelope.message_id))
        except AggregateNotFoundError:
            return False
        if receipt.digest != digest:
            raise CannotApply(
                f"message id {envelope.message_id} was already used for a different payload (first seen at {receipt.source})"
            )
        log.info("duplicate message ignored", order=envelope.key, message_id=envelope.message_id, first_seen=receipt.source, **where)
        return True

    @staticmethod
    def _rejection(source: Source, envelope: Envelope | None, reason: str, error: str) -> Rejection:
        log.warning(
            "message rejected", topic=source.topic, partition=source.partition, offset=source.offset,
            order=envelope.key if envelope else None, reason=reason,
        )
        return Rejection(
            source=source, reason=reason, error=error,
            message_id=envelope.message_id if envelope else None,
            message_type=envelope.message_type if envelope else None,
        )
