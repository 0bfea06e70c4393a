"""Publishes the outbound topics from the outbox: the relay sends bytes, in order, and nothing else.

The outbox (:mod:`orderflow.outbound.outbox`) holds every outbound message encoded, written with the events
that cause it. :class:`OutboxRelay` reads its rows after the relayed position, hands them to the one
producer, flushes once, checks every send, and only then records the new position and deletes the rows sent,
in one transaction. A crash between the acknowledgements and that commit sends that batch again, with the
same message ids: at least once on the wire, exactly once per message id. One process at a time relays
(the ``outbound`` stream lock), whatever the number of processes. No event is read, decoded or replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaProducer

from orderflow.db import Database, StreamLock
from orderflow.kafka import make_producer
from orderflow.outbound.outbox import OUTBOX, PUBLISHED_BEFORE, RELAYED, decode_headers
from orderflow.settings import Topics
from orderflow.supervision import STANDBY

log = structlog.get_logger("orderflow.outbound")

SEND_TIMEOUT = 30.0


def outbound_producer(bootstrap_servers: str, **config: Any) -> KafkaProducer:
    """A producer fit for the outbound topics: every message acknowledged by all replicas, idempotent."""
    return make_producer(bootstrap_servers=bootstrap_servers, **config)


def close_producer(producer: KafkaProducer, timeout: float) -> None:
    """Close ``producer``, waiting at most ``timeout`` s; then drop whatever it could not send.

    kafka-python's ``close`` flushes first and raises ``KafkaTimeoutError`` when the
    flush does not complete in time, leaving its sender thread running: a broker
    outage would keep the process from exiting, or an abandoned producer would
    send its records later. The sender is force-closed then.
    """
    try:
        producer.close(timeout=timeout)
    except Exception as error:  # noqa: BLE001 - it is being closed either way
        log.info("producer closed with records unsent", error=repr(error))
        sender = getattr(producer, "_sender", None)
        if sender is not None and sender.is_alive():
            sender.force_close()


@dataclass(frozen=True)
class Stream:
    """One outbound topic as the lag gauges name it."""

    name: str
    topic: str


class OutboxRelay:
    """Sends the outbox's rows to their topics, in order, each batch acknowledged before its position is recorded.

    ``run_once``, ``catch_up``, ``step`` and ``lag`` as a projection runner has them; ``views`` names the two
    topics for the lag gauges (``outbound:storefront_sync``, ``outbound:notifications``).
    """

    def __init__(
        self,
        app: Any,
        db: Database,
        producer: KafkaProducer | None,
        topics: Topics,
        batch_size: int = 500,
        producer_factory: Callable[[], KafkaProducer] | None = None,
        lock: StreamLock | None = None,
        send_timeout: float = SEND_TIMEOUT,
    ):
        if producer is None and producer_factory is None:
            raise ValueError("an outbox relay needs a producer or a producer factory")
        self.app, self.db = app, db
        self.producer, self.producer_factory = producer, producer_factory
        self.batch_size = batch_size
        self.lock = lock
        self.send_timeout = send_timeout
        self.views = [Stream(PUBLISHED_BEFORE[0], topics.storefront_sync), Stream(PUBLISHED_BEFORE[1], topics.notifications)]

    def head(self) -> int:
        """The position of the newest event in the store."""
        return self.app.recorder.max_notification_id() or 0

    def relayed(self) -> int:
        """The position up to which every outbox row was acknowledged (0 before any)."""
        rows = self.db.query("SELECT position FROM projection_tracking WHERE name = ?", (RELAYED,))
        return rows[0][0] if rows else 0

    def lag(self) -> dict[str, int]:
        """How many events of the store are not relayed yet, by outbound topic (both the same)."""
        behind = self.head() - self.relayed()
        return {stream.name: behind for stream in self.views}

    def run_once(self) -> int:
        """Relay at most one batch; return how many messages it sent (1 if none but the position moved, 0: idle)."""
        if self.producer is None:
            assert self.producer_factory is not None  # without a producer there is a factory (see __init__)
            self._use(self.producer_factory())  # raises a transient error while no broker answers
        with self.db.transaction(write=False) as cursor:
            cursor.execute("SELECT name, position FROM projection_tracking WHERE name IN (?, ?)", (RELAYED, OUTBOX))
            found = dict(cursor.fetchall())
            start, written = found.get(RELAYED, 0), found.get(OUTBOX, 0)
            if written <= start:
                return 0
            # Every row up to the outbox's position is committed (its position moves in the rows' transaction).
            cursor.execute(f"SELECT position, topic, key, value, headers FROM {OUTBOX} WHERE position > ? "
                           "AND position <= ? ORDER BY position, seq LIMIT ?", (start, written, self.batch_size + 1))
            rows = cursor.fetchall()
        reached = written
        if len(rows) > self.batch_size:  # more than a batch: up to the last whole event's messages
            last = rows[-1][0]
            kept = [row for row in rows if row[0] != last]
            if kept:
                rows, reached = kept, kept[-1][0]
        self._send(rows)
        with self.db.transaction() as cursor:
            cursor.execute("INSERT INTO projection_tracking (name, position) VALUES (?, ?) ON CONFLICT (name) "
                           "DO UPDATE SET position = excluded.position", (RELAYED, reached))
            cursor.execute(f"DELETE FROM {OUTBOX} WHERE position <= ?", (reached,))
        if rows:
            log.info("outbound batch published", messages=len(rows), last_position=reached)
        return len(rows) or 1

    def rewind(self, position: int = 0) -> None:
        """Publish again everything after ``position`` (0: the whole history), with the same ids and payloads: the
        outbox is rebuilt from there (by the followers' runner: it lags now) and relayed again."""
        with self.db.transaction() as cursor:
            for name in (OUTBOX, RELAYED):
                cursor.execute("UPDATE projection_tracking SET position = ? WHERE name = ?", (position, name))
        log.info("outbound rewound", position=position)

    def catch_up(self) -> int:
        """Relay batches until the outbox is sent; return how many messages were sent."""
        total = 0
        while (sent := self.run_once()) > 0:
            total += sent
        return total

    def step(self) -> int | None:
        """One batch, if this process relays: it holds :attr:`lock` (taken now if free) or there is none.

        :data:`~orderflow.supervision.STANDBY` while another process holds the lock.
        """
        if self.lock is not None and not self.lock.held():
            if not self.lock.acquire():
                return STANDBY
            log.info("stream lock taken: this process follows the stream", stream=self.lock.name)
        return self.run_once()

    def _send(self, rows: list[Any]) -> None:
        """Send every row and wait until the broker acknowledged all of them (else raise: nothing is recorded)."""
        if not rows:
            return
        assert self.producer is not None  # run_once made one
        send = self.producer.send
        futures = [send(topic, key=bytes(key), value=bytes(value), headers=decode_headers(bytes(headers)))
                   for _, topic, key, value, headers in rows]
        self.producer.flush(timeout=self.send_timeout)
        for future in futures:
            future.get(timeout=self.send_timeout)

    def reset_producer(self) -> None:
        """After a failed batch: drop the producer and what it still buffers; the next batch gets a new one.

        A producer whose flush timed out still holds the batch's records and would send them once the broker
        is back, beside the batch sent again: a fresh producer avoids that, and any state a broker restart left
        it in. Without a factory (tests that hand one producer in) the producer is kept.
        """
        if self.producer_factory is None or self.producer is None:
            return
        producer, self.producer = self.producer, None
        close_producer(producer, timeout=0)

    def close(self, timeout: float = 10) -> None:
        """Close the producer (waiting up to ``timeout`` s for what it holds) and let another process relay."""
        if self.producer is not None:
            close_producer(self.producer, timeout)
            self.producer = None
        if self.lock is not None:
            self.lock.release()

    def _use(self, producer: KafkaProducer) -> None:
        self.producer = producer
