"""Publishes the outbound topics by following the event store like a projection.

Each outbound topic is a :class:`~orderflow.projections.base.View` whose "rows"
are Kafka messages: ``apply`` builds the messages of one event and keeps them;
at the end of the batch both topics' messages are handed to the one producer,
flushed once, and every send is checked before the runner records the
positions. So a batch's position is recorded only once the broker has
acknowledged all of its messages. A crash between the
acknowledgement and the position commit sends that batch again, with the same
message ids: at least once on the wire, exactly once per message id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from kafka import KafkaProducer

from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.contract.envelope import Envelope
from orderflow.db import Cursor, Database, Position, StreamLock
from orderflow.kafka import make_producer
from orderflow.outbound.messages import DEFAULT_ORDER_URL_TEMPLATE, notification_messages, storefront_sync_messages
from orderflow.projections.base import View
from orderflow.projections.runner import ProjectionRunner
from orderflow.settings import Topics

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


class OutboundView(View):
    """One outbound topic: the messages ``build(event, order)`` gives for each web order event."""

    tables = ()
    handles = (WebOrder.Event,)
    follows = (WebOrder.Event,)

    def __init__(
        self,
        name: str,
        producer: KafkaProducer,
        topic: str,
        build: Callable[[Any, WebOrder], list[Envelope]],
        suffix: str = "",
    ):
        super().__init__(is_postgres=False, suffix=suffix)
        self.name = name
        self.topic = topic
        self.producer = producer
        self.build = build
        self.send_timeout = SEND_TIMEOUT
        self._pending: list[Envelope] = []
        self._futures: list[Any] = []

    def create_tables(self, cursor: Cursor) -> None:
        """An outbound view has no tables: its position row is all it keeps."""

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        # Built now: the message describes the order as this event left it.
        self._pending.extend(self.build(event, aggregate))

    def flush(self, cursor: Cursor) -> None:
        """Hand the batch's messages to the producer, which sends them in batches of its own."""
        send, topic = self.producer.send, self.topic
        self._futures = [
            send(topic, key=e.key.encode(), value=e.value(), headers=e.headers()) for e in self._pending
        ]
        self._pending = []

    def before_commit(self, cursor: Cursor) -> None:
        """Wait until the broker acknowledged every message of the batch.

        Raises the producer's error if any send failed: the runner then rolls
        back, records no position, and the next run sends the batch again.
        """
        futures, self._futures = self._futures, []
        if not futures:
            return
        self.producer.flush(timeout=self.send_timeout)  # a no-op for the second topic: one producer, one flush
        for future in futures:
            future.get(timeout=self.send_timeout)
        log.info("outbound batch published", topic=self.topic, messages=len(futures))

    def forget(self) -> None:
        self._pending, self._futures = [], []


class OutboundPublisher(ProjectionRunner):
    """Keeps the storefront-sync and notifications topics caught up with the event store.

    ``run_once``, ``catch_up``, ``run(stop)`` and ``lag`` are the runner's; positions are
    rows ``outbound:storefront_sync`` and ``outbound:notifications`` of ``projection_tracking``.
    """

    def __init__(
        self,
        app: Orders,
        db: Database,
        producer: KafkaProducer | None,
        topics: Topics,
        order_url_template: str = DEFAULT_ORDER_URL_TEMPLATE,
        batch_size: int = 500,
        producer_factory: Callable[[], KafkaProducer] | None = None,
        lock: StreamLock | None = None,
        send_timeout: float = SEND_TIMEOUT,
    ):
        if producer is None and producer_factory is None:
            raise ValueError("an outbound publisher needs a producer or a producer factory")
        self.producer_factory = producer_factory
        self.producer = producer
        views = [
            OutboundView("outbound:storefront_sync", producer, topics.storefront_sync, storefront_sync_messages),
            OutboundView(
                "outbound:notifications", producer, topics.notifications,
                lambda event, order: notification_messages(event, order, order_url_template),
            ),
        ]
        for view in views:
            view.send_timeout = send_timeout
        super().__init__(app, db, views, batch_size, lock=lock)

    def run_once(self) -> int:
        if self.producer is None:
            assert self.producer_factory is not None  # without a producer there is a factory (see __init__)
            self._use(self.producer_factory())  # raises a transient error while no broker answers
        return super().run_once()

    def reset_producer(self) -> None:
        """After a failed batch: drop the producer and what it still buffers; the next batch gets a new one.

        A producer whose flush timed out still holds the batch's records and
        would send them once the broker is back, beside the batch sent again:
        a fresh producer avoids that, and any state a broker restart left it in.
        Without a factory (tests that hand one producer in) the producer is kept.
        """
        if self.producer_factory is None or self.producer is None:
            return
        producer, self.producer = self.producer, None
        close_producer(producer, timeout=0)

    def close(self, timeout: float = 10) -> None:
        """Close the producer (waiting up to ``timeout`` s for what it holds) and let another process publish."""
        if self.producer is not None:
            close_producer(self.producer, timeout)
            self.producer = None
        super().close()

    def _use(self, producer: KafkaProducer) -> None:
        self.producer = producer
        for view in self.views:
            view.producer = producer  # type: ignore[attr-defined]
