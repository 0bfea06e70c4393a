"""Publishes the outbound topics by following the event store like a projection.

Each outbound topic is a :class:`~orderflow.projections.base.View` whose "rows"
are Kafka messages: ``apply`` builds the messages of one event and keeps them;
at the end of the batch, before the runner records the position, they are
sent, flushed, and every send is checked. So a batch's position is recorded
only once the broker has acknowledged all of its messages. A crash between the
acknowledgement and the position commit sends that batch again, with the same
message ids: at least once on the wire, exactly once per message id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from kafka import KafkaProducer

from orderflow.aggregates.web_order import WebOrder
from orderflow.application import Orders
from orderflow.db import Cursor, Database
from orderflow.outbound.messages import DEFAULT_ORDER_URL_TEMPLATE, notification_messages, storefront_sync_messages
from orderflow.projections.base import View
from orderflow.projections.follow import AggregateFollower
from orderflow.projections.runner import ProjectionRunner
from orderflow.settings import Topics
from orderflow.wire import Envelope

log = structlog.get_logger("orderflow.outbound")

SEND_TIMEOUT = 30.0


def outbound_producer(bootstrap_servers: str, **config: Any) -> KafkaProducer:
    """A producer fit for the outbound topics: every message acknowledged by all replicas, idempotent."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5, **config
    )


class OutboundView(View):
    """One outbound topic: the messages ``build(event, order)`` gives for each web order event."""

    tables = ()

    def __init__(
        self,
        name: str,
        app: Orders,
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
        self.follower = AggregateFollower(app)
        self._pending: list[Envelope] = []

    def create_tables(self, cursor: Cursor) -> None:
        """An outbound view has no tables: its position row is all it keeps."""

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        if isinstance(event, WebOrder.Event):
            self._pending.extend(self.build(event, self.follower.advance(event)))

    def before_commit(self, cursor: Cursor) -> None:
        """Send the batch's messages and wait until the broker acknowledged every one.

        Raises the producer's error if any send failed: the runner then rolls
        back, records no position, and the next run sends the batch again.
        """
        futures = [
            self.producer.send(self.topic, key=e.key.encode(), value=e.value(), headers=e.headers())
            for e in self._pending
        ]
        self.producer.flush(timeout=SEND_TIMEOUT)
        for future in futures:
            future.get(timeout=SEND_TIMEOUT)
        log.info("outbound batch published", topic=self.topic, messages=len(self._pending))
        self._pending = []

    def forget(self) -> None:
        self._pending = []
        self.follower.forget()


class OutboundPublisher(ProjectionRunner):
    """Keeps the storefront-sync and notifications topics caught up with the event store.

    ``run_once``, ``catch_up``, ``run(stop)`` and ``lag`` are the runner's; positions are
    rows ``outbound:storefront_sync`` and ``outbound:notifications`` of ``projection_tracking``.
    """

    def __init__(
        self,
        app: Orders,
        db: Database,
        producer: KafkaProducer,
        topics: Topics,
        order_url_template: str = DEFAULT_ORDER_URL_TEMPLATE,
        batch_size: int = 500,
    ):
        views = [
            OutboundView("outbound:storefront_sync", app, producer, topics.storefront_sync, storefront_sync_messages),
            OutboundView(
                "outbound:notifications", app, producer, topics.notifications,
                lambda event, order: notification_messages(event, order, order_url_template),
            ),
        ]
        super().__init__(app, db, views, batch_size)
