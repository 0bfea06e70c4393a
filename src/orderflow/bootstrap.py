"""The one composition root: settings in, a wired engine out."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, TopicPartition

from orderflow.application.orders import Orders
from orderflow.consumers.dead_letters import DeadLetterTopic
from orderflow.consumers.inbound import InboundConsumer
from orderflow.contract.schemas import Contract
from orderflow.db import Database, schema_lock
from orderflow.kafka import ensure_topics, make_producer
from orderflow.metrics import Monitor
from orderflow.outbound import OutboundPublisher
from orderflow.outbound.publisher import close_producer
from orderflow.ownership import claim
from orderflow.projections.catalog import all_views
from orderflow.projections.follow import CACHED_ORDERS
from orderflow.projections.inline import InlineProjection
from orderflow.projections.runner import ProjectionRunner
from orderflow.settings import Settings
from orderflow.supervision import Supervisor, Worker

MONITOR_INTERVAL = 2.0
"""Seconds between refreshes of the lag gauges and of the readiness they decide."""


class EndOffsets:
    """Partitions' end offsets from the broker, with a client of its own made on first use (a broker
    that does not answer is a ``KafkaError`` of the call, which the monitor rides out)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client: KafkaConsumer | None = None

    def __call__(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self.client is None:
            self.client = KafkaConsumer(**self.settings.kafka_config(), group_id=None, client_id="orderflow-monitor")
        return self.client.end_offsets(partitions, timeout_ms=2_000)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


@dataclass
class Engine:
    """Everything one orderflow process uses, built once."""

    settings: Settings
    app: Orders
    db: Database
    projections: ProjectionRunner
    contract: Contract
    _closers: list = field(default_factory=list)

    def inbound_consumer(self, client_id: str = "orderflow") -> InboundConsumer:
        """A consumer in the engine's group, with its own dead-letter producer.

        :class:`~orderflow.ownership.ForeignPositions` if the database's positions belong to another group.
        """
        s = self.settings
        claim(self.db, s.database_url, s.consumer_group, datetime.now(UTC))
        producer = make_producer(s)
        consumer = KafkaConsumer(
            **s.kafka_config(),
            group_id=s.consumer_group,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_size,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=max(1000, s.session_timeout_ms // 3),
            # Notice topics and partitions created after start within seconds, not minutes.
            metadata_max_age_ms=10_000,
            # kafka-python's default assignors put the range assignor first, which gives partition i of both
            # inbound topics to one member, as the merge by event time needs. (Naming it alone here made
            # rebalances hang now and then in kafka-python 3.0.)
        )
        self._closers.append(lambda: close_producer(producer, timeout=10))
        InlineProjection.install(self.app, self.db)  # the consumer's batches write the read models too
        return InboundConsumer(
            app=self.app,
            contract=self.contract,
            consumer=consumer,
            dead_letters=DeadLetterTopic(producer, s.topics.dead_letters),
            topics=s.topics,
            batch_size=s.batch_size,
            grace=timedelta(milliseconds=s.merge_grace_ms),
            max_idle=timedelta(milliseconds=s.max_idle_ms),
            park_deadline=timedelta(seconds=s.park_deadline_seconds),
        )

    def outbound_publisher(self) -> OutboundPublisher:
        """The publisher of the storefront-sync and notifications topics, with its own producer."""
        s = self.settings
        publisher = OutboundPublisher(
            self.app, self.db, None, s.topics, order_url_template=s.order_url_template, batch_size=s.batch_size,
            producer_factory=lambda: make_producer(s), lock=self.db.stream_lock("outbound"),
            send_timeout=s.send_timeout_seconds,
        )
        self._closers.append(publisher.close)
        return publisher

    def ensure_topics(self) -> None:
        ensure_topics(self.settings)

    def monitoring(self, consumer: InboundConsumer, outbound: OutboundPublisher, supervisor: Supervisor) -> list[Worker]:
        """With ``ORDERFLOW_METRICS_PORT`` set: the worker keeping the lag gauges and readiness current.

        Readiness waits for the consumer lag to be at most ``ORDERFLOW_READY_MAX_LAG``; the
        partitions' end offsets are looked up with a Kafka client of the monitor's own, closed
        with the engine. Without the setting: nothing (the HTTP server is ``orderflow run``'s).
        """
        s = self.settings
        if s.metrics_port is None:
            return []
        end_offsets = EndOffsets(s)
        self._closers.append(end_offsets.close)
        monitor = Monitor(consumer, self.projections, outbound, supervisor.health, s.ready_max_lag,
                          end_offsets=end_offsets)
        return [Worker("monitor", monitor.step, supervisor, idle_sleep=MONITOR_INTERVAL)]

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self.projections.close()
        self.db.close()
        self.app.close()


def bootstrap(settings: Settings | None = None) -> Engine:
    """Build the application, the read-model database and the projections from settings."""
    settings = settings or Settings.from_env()
    contract = Contract(settings.schema_dir)
    app = db = None
    try:
        # Processes starting together on a new database would race to create the same tables.
        with schema_lock(settings.database_url):
            app = Orders(settings.database_url, cipher_keys=settings.cipher_keys, cache_size=CACHED_ORDERS)
            db = Database(settings.database_url)
            projections = ProjectionRunner(app, db, all_views(db.is_postgres, app), lock=db.stream_lock("projections"))
    except BaseException:
        for part in (db, app):
            if part is not None:
                with suppress(Exception):
                    part.close()
        raise
    return Engine(settings=settings, app=app, db=db, projections=projections, contract=contract)
