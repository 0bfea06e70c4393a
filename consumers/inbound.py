"""The inbound consumer: the storefront and ERP topics into the event store, exactly once, in event-time order.

The two topics are co-partitioned (same key, same partitioner, same number
of partitions; checked at start) and the group's range assignor gives one
consumer partition *i* of both. Each poll's records go to the
:class:`~orderflow.consumers.pipeline.Pipeline`, which merges them by event
time and records each released batch, with every partition's position, in
one database transaction. The positions in the database, not Kafka's
committed offsets, are where a consumer resumes: on every assignment, and
after a conflict, it starts over from there.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from eventsourcing.persistence import IntegrityError
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError

from orderflow import metrics
from orderflow.application.orders import Orders
from orderflow.consumers.dead_letters import DeadLetterTopic
from orderflow.consumers.pipeline import Pipeline, position_name
from orderflow.contract.schemas import Contract
from orderflow.kafka import NotCoPartitioned, co_partitioned
from orderflow.settings import Topics

log = structlog.get_logger("orderflow.consumer")
Clock = Callable[[], datetime]

__all__ = ["InboundConsumer", "NotCoPartitioned", "position_name"]


def utc_now() -> datetime:
    return datetime.now(UTC)


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


def partition_count(consumer: KafkaConsumer, topics: Topics) -> int:
    """The inbound topics' common number of partitions; :class:`NotCoPartitioned` if they differ."""
    return co_partitioned({topic: len(consumer.partitions_for_topic(topic) or ()) for topic in topics.inbound}, topics)


class _Rebalances(ConsumerRebalanceListener):
    """Notes that the assignment changed; the poll loop starts over (never from this callback's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = False

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in revoked))
        with self._lock:
            self._changed = True

    def on_partitions_assigned(self, assigned: Any) -> None:
        with self._lock:
            self._changed = True

    def take(self) -> bool:
        with self._lock:
            changed, self._changed = self._changed, False
        return changed


def unparsed_partitions(consumer: Any) -> set[TopicPartition]:
    """The partitions whose fetched records kafka-python holds but has not parsed yet.

    A poll returns at most ``max_poll_records``; the fetch responses it did not get to stay in the client
    unparsed, and a partition's highwater is only updated when its response is parsed. Such a partition
    looks caught up (its position is the old highwater) while its records wait in the client: the merge
    must not let the other topic's later records go first (it did, under load: ERP messages released
    before their order's placement, rejected as ``OrderNeverArrived``). kafka-python 3.0 keeps them in
    ``Fetcher._completed_fetches`` (``tests/integration/test_consumer_client.py`` checks it still does).
    """
    completed = getattr(getattr(consumer, "_fetcher", None), "_completed_fetches", None)
    if not completed:
        return set()
    return {fetch.topic_partition for fetch in completed.copy()}  # copied at once, as kafka-python does


class InboundConsumer:
    """Polls the inbound topics and hands their records to the pipeline."""

    def __init__(
        self,
        app: Orders,
        contract: Contract,
        consumer: KafkaConsumer,
        dead_letters: DeadLetterTopic,
        topics: Topics,
        batch_size: int = 500,
        grace: timedelta = timedelta(milliseconds=20),
        max_idle: timedelta = timedelta(seconds=30),
        park_deadline: timedelta = timedelta(hours=1),
        clock: Clock = utc_now,
    ):
        self.app = app
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.topics = topics
        self.batch_size = batch_size
        self.pipeline = Pipeline(app, contract, topics, batch_size, grace, max_idle, park_deadline, clock)
        self.grace_ms = max(1, int(grace.total_seconds() * 1000))
        self.max_buffered = max(1000, 2 * batch_size)
        """Records buffered (decoded, in the merge) per partition at most (memory stays bounded in a backlog)."""
        self.max_waiting = self.max_buffered
        """Records kept per partition as polled, beyond its buffer, at most: a partition's polled records are not
        thrown away and fetched again whenever its buffer is full (they were, and the consumer waited on those
        fetches); past this, the partition is read again from the first record left out. About one fetch
        response's worth (1 MiB of records); more only costs memory (~2 KB a record, by partition)."""
        self._waiting: dict[TopicPartition, deque[Any]] = {}
        self.assigned_at: float | None = None
        """When partitions were last assigned (``time.monotonic()``); None before the first assignment."""
        self._more = False
        self.stall_after = 30.0
        """Seconds without a record while a partition is known to be behind before the consumer rejoins."""
        self._progress_at = time.monotonic()
        self._ends: dict[TopicPartition, tuple[int, float]] = {}
        self._next: dict[TopicPartition, int] = {}
        """The offset of the next record to read from each partition (no network call to know it)."""
        self._unrecorded: dict[TopicPartition, int] = {}
        """The offset of the first record of each partition not recorded yet: its stored position plus one."""
        self._rebalances = _Rebalances()
        _await_topic_metadata(consumer, topics.inbound)
        partition_count(consumer, topics)  # refuse at start, before joining the group
        consumer.subscribe(list(topics.inbound), listener=self._rebalances)

    @property
    def is_assigned(self) -> bool:
        """Whether the group has given this consumer partitions yet."""
        return bool(self.consumer.assignment())

    @property
    def buffered(self) -> int:
        """Records read but not released yet (waiting for the other topic's partition, or for room in the merge)."""
        return len(self.pipeline.merge) + sum(len(waiting) for waiting in self._waiting.values())

    def lag(self, ends: Mapping[TopicPartition, int] | None = None) -> dict[tuple[str, int], int] | None:
        """Records not recorded yet, per assigned partition whose end offset is known; None if it cannot tell.

        End offset minus the stored position plus one: what is read into memory
        but not yet recorded counts (it is in :meth:`read_ahead` too). The end
        offsets are ``ends`` where given (the monitor looks them up), else what
        the last fetch response or the look-up at assignment said: no broker
        call, so that another thread (the metrics monitor) may ask while this one polls.
        """
        try:
            lag = {}
            unrecorded = self._unrecorded
            for tp in self.consumer.assignment():
                end = (ends or {}).get(tp)
                if end is None:
                    end = self.consumer.highwater(tp)
                if end is None and tp in self._ends:
                    end = self._ends[tp][0]
                position = unrecorded.get(tp)
                if end is not None and position is not None:
                    lag[tp.topic, tp.partition] = max(0, end - position)
            return lag
        except (RuntimeError, KeyError, KafkaError):  # the assignment changed under us: ask again later
            return None

    @property
    def assignment(self) -> list[TopicPartition]:
        """The partitions the group gave this consumer (safe to ask from another thread)."""
        try:
            return sorted(self.consumer.assignment())
        except RuntimeError:  # it changed under us
            return []

    def read_ahead(self) -> dict[tuple[str, int], int]:
        """Records read from the broker but not recorded yet (in the merge or waiting for room), per partition."""
        try:
            unrecorded, waiting = self._unrecorded, self._waiting
            return {(tp.topic, tp.partition): max(0, read - unrecorded.get(tp, read) + len(waiting.get(tp, ())))
                    for tp, read in list(self._next.items())}
        except RuntimeError:  # the assignment changed under us
            return {}

    def _show_lag(self) -> None:
        lag = self.lag()
        if lag is not None:
            metrics.consumer_lag(lag, self.read_ahead())

    def close(self) -> None:
        """Leave the group; everything applied is already recorded."""
        self.consumer.close(autocommit=False)
        log.info("consumer stopped")

    def poll_once(self, timeout_ms: int = 500) -> int:
        """One poll and one transaction; return how many records were read or released.

        After any error but a conflict (which it handles), nothing of the
        transaction was recorded: call :meth:`start_over` before polling again.
        """
        if self._more:
            timeout_ms = 0
        elif self.buffered:
            timeout_ms = min(timeout_ms, self.grace_ms)  # what waits for its grace is due soon
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.batch_size)
        if self._rebalances.take():
            self.start_over(assigned=True)
            return 0
        now = time.monotonic()
        read = 0
        if polled or not self._behind():
            self._progress_at = now
        elif now - self._progress_at > self.stall_after:
            self._rejoin(now)
            return 0
        for tp, records in polled.items():
            self._keep(tp, records)
            read += len(records)
        self._feed(now)
        started = time.perf_counter()
        try:
            unparsed = unparsed_partitions(self.consumer)
            caught_up = (lambda tp: tp not in unparsed and self._caught_up(tp)) if unparsed else self._caught_up
            step = self.pipeline.step(caught_up, now, self._dead_letter)
        except IntegrityError as error:
            # Another consumer recorded some of this first (a rebalance), or a concurrent writer moved an
            # aggregate on: nothing of this transaction was recorded. Start over from the database.
            log.warning("batch conflicted, re-reading", error=str(error))
            self.start_over()
            return read
        if step is None:
            self._more = False
            return read
        self._more = step.full
        metrics.batch_recorded(step.outcomes, step.rejections, step.released, time.perf_counter() - started)
        self._unrecorded = {**self._unrecorded, **{TopicPartition(*tp): offset + 1
                                                   for tp, offset in step.positions.items()}}
        self._show_lag()
        # Kafka's committed offsets only inform lag monitoring: the database's positions are the truth.
        self.consumer.commit_async(
            {TopicPartition(*tp): OffsetAndMetadata(offset + 1, "", -1) for tp, offset in step.positions.items()}
        )
        log.info("batch recorded", messages=step.released, rejected=len(step.rejections),
                 seconds=round(time.perf_counter() - started, 4),
                 positions={position_name(*tp): offset for tp, offset in step.positions.items()})
        return read + step.released

    def start_over(self, assigned: bool = False) -> None:
        """Forget what is buffered; resume every assigned partition at the position the database recorded.

        ``assigned``: the group has just (re)assigned the partitions, which is logged per partition.
        """
        assignment = sorted(self.consumer.assignment())
        self._check_pairs(assignment)
        positions = self.pipeline.assign(assignment, partition_count(self.consumer, self.topics), time.monotonic())
        fresh = [tp for tp, recorded in positions.items() if recorded is None]
        beginnings = self.consumer.beginning_offsets(fresh) if fresh else {}
        self._next = {}
        self._waiting = {}
        for tp, recorded in positions.items():
            self._next[tp] = beginnings[tp] if recorded is None else recorded + 1
            self.consumer.seek(tp, self._next[tp])
        self._unrecorded = dict(self._next)
        self._look_up_ends(assignment)
        self._show_lag()  # from the moment partitions are assigned, not from the first fetch response
        if assigned:
            for tp, resume_at in self._next.items():
                log.info("partition assigned", topic=tp.topic, partition=tp.partition, resume_at=resume_at)
        self._more = False
        self.assigned_at = time.monotonic()

    def _look_up_ends(self, assignment: list[TopicPartition]) -> None:
        """Every assigned partition's end offset, in one request: the lag is known before the first fetch."""
        if not assignment:
            return
        try:
            ends = self.consumer.end_offsets(assignment, timeout_ms=5_000)
        except KafkaError as error:
            log.warning("end offset look-up failed", error=str(error))
            return
        now = time.monotonic()
        self._ends.update({tp: (end, now) for tp, end in ends.items()})

    def _check_pairs(self, assignment: list[TopicPartition]) -> None:
        numbers = {topic: {tp.partition for tp in assignment if tp.topic == topic} for topic in self.topics.inbound}
        if numbers[self.topics.storefront] != numbers[self.topics.erp]:
            log.error("partitions of the inbound topics assigned apart: the group must use the range assignor",
                      storefront=sorted(numbers[self.topics.storefront]), erp=sorted(numbers[self.topics.erp]))

    def _caught_up(self, tp: TopicPartition) -> bool:
        """Whether everything the broker had for ``tp`` at the last fetch (or look-up) has been read."""
        end = self.consumer.highwater(tp)
        if end is None:
            end = self._looked_up_end(tp)
        return end is not None and self._next.get(tp, 0) >= end

    def _looked_up_end(self, tp: TopicPartition) -> int | None:
        """The end offset from the broker, for a partition no fetch response told about yet.

        kafka-python learns an end offset from fetch responses only, and an
        incremental fetch session leaves out partitions where nothing changed:
        an empty partition may never be told about. Asked at most once a second.
        """
        looked_up = self._ends.get(tp)
        if looked_up is None or time.monotonic() - looked_up[1] > 1.0:
            try:
                end = self.consumer.end_offsets([tp], timeout_ms=5_000)[tp]
            except KafkaError as error:
                log.warning("end offset look-up failed", partition=str(tp), error=str(error))
                return None
            looked_up = self._ends[tp] = (end, time.monotonic())
        return looked_up[0]

    def _behind(self) -> bool:
        """Whether a fetch response said some partition holds records this consumer has not read."""
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is not None and end > self._next.get(tp, end):
                return True
        return False

    def _rejoin(self, now: float) -> None:
        """Leave and rejoin the group: records are there but none arrive.

        A safety net: under load, kafka-python 3.0 has been seen to stay in a
        rebalance for good (its partitions marked pending revocation) while
        the broker holds records for them.
        """
        log.warning("no records arrive though partitions are behind; rejoining the group",
                    seconds=round(now - self._progress_at, 1))
        self._progress_at = now
        self.consumer.unsubscribe()
        self.consumer.subscribe(list(self.topics.inbound), listener=self._rebalances)

    def _keep(self, tp: TopicPartition, records: list[Any]) -> None:
        """Keep polled records of ``tp`` until the merge has room for them; beyond :attr:`max_waiting`, read the
        partition again from the first record left out.

        A partition far ahead in event time would otherwise be held without bound while the merge waits for
        the others. (Not ``pause``/``resume``: in kafka-python 3.0.12 a resumed partition can stop being
        fetched for good.)
        """
        waiting = self._waiting.setdefault(tp, deque())
        waiting.extend(records)
        if len(waiting) > self.max_waiting:
            self.consumer.seek(tp, waiting[self.max_waiting].offset)
            while len(waiting) > self.max_waiting:
                waiting.pop()

    def _feed(self, now: float) -> None:
        """Move kept records into the merge as far as each partition's buffer has room: one ``add``, one query."""
        fed = {}
        for tp, waiting in self._waiting.items():
            room = min(len(waiting), self.max_buffered - self.pipeline.merge.buffered(tp))
            if room > 0:
                fed[tp] = [waiting.popleft() for _ in range(room)]
                self._next[tp] = fed[tp][-1].offset + 1
        if fed:
            self.pipeline.add(fed, now)

    def _dead_letter(self, rejections: list) -> None:
        self.dead_letters.publish(rejections, utc_now())
        metrics.dead_lettered(rejections)
