"""Every Prometheus metric orderflow exposes, and the monitor that keeps the lag gauges current.

Counters move once per recorded batch (the pipeline counts outcomes in a
plain dict while it works). The consumer lag gauges are set by the poll loop
when partitions are assigned and after each recorded batch, and between by
:class:`Monitor`, a supervised worker refreshing every lag gauge every few
seconds, which also tells the process's :class:`~orderflow.supervision.Health`
whether the consumer is caught up.
docs/operations.md lists them all with sample alerts.

Labels have bounded values: a message type the engine does not handle is
counted as ``other``, a rejection's reason as the name of its error class.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog
from kafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from orderflow.consumers.handlers import TOPIC_OF
from orderflow.supervision import Health

log = structlog.get_logger("orderflow.metrics")
disable_created_metrics()  # no ``*_created`` series beside every counter

MESSAGES = Counter(
    "orderflow_messages", "Inbound messages recorded, by outcome (applied, parked, duplicate) and message type",
    ["outcome", "message_type"],
)
REJECTED = Counter(
    "orderflow_messages_rejected", "Inbound messages that could not be applied, by message type and reason class",
    ["message_type", "reason"],
)
DEAD_LETTERS = Counter(
    "orderflow_dead_letters", "Records published to the dead-letter topic, by reason class", ["reason"],
)
BATCH_SECONDS = Histogram(
    "orderflow_batch_duration_seconds", "Time to apply and record one inbound batch (one database transaction)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BATCH_MESSAGES = Counter("orderflow_batch_messages", "Inbound records released into recorded batches")
CONSUMER_LAG = Gauge(
    "orderflow_consumer_lag",
    "Records not recorded yet: end offset minus (stored position + 1), per assigned inbound partition",
    ["topic", "partition"],
)
CONSUMER_READ_AHEAD = Gauge(
    "orderflow_consumer_read_ahead",
    "Records read from the broker but not recorded yet (part of the lag), per assigned inbound partition",
    ["topic", "partition"],
)
PROJECTION_LAG = Gauge("orderflow_projection_lag_events", "Events in the store not yet applied to a read model", ["view"])
OUTBOUND_LAG = Gauge("orderflow_outbound_lag_events", "Events in the store not yet published to an outbound topic",
                     ["topic"])
READY = Gauge("orderflow_ready", "1 while /health/ready answers 200")

OTHER = "other"


def message_type(name: str | None) -> str:
    """``name`` if the engine handles that message type, else ``other`` (a label's values stay bounded)."""
    return name if name in TOPIC_OF else OTHER


def batch_recorded(outcomes: Mapping[tuple[str, str], int], rejections: Iterable[Any], released: int,
                   seconds: float) -> None:
    """Count one recorded batch: its outcomes ``(outcome, message type): n``, its rejections and its duration."""
    for (outcome, kind), count in outcomes.items():
        MESSAGES.labels(outcome, message_type(kind)).inc(count)
    for rejection in rejections:
        REJECTED.labels(message_type(rejection.message_type), rejection.error).inc()
    BATCH_MESSAGES.inc(released)
    BATCH_SECONDS.observe(seconds)


def dead_lettered(rejections: Iterable[Any]) -> None:
    for rejection in rejections:
        DEAD_LETTERS.labels(rejection.error).inc()


_shown_lock = threading.Lock()
_shown: set[tuple[str, int]] = set()


def consumer_lag(lag: Mapping[tuple[str, int], int], read_ahead: Mapping[tuple[str, int], int]) -> None:
    """Show the lag and read-ahead of the partitions ``lag`` names; those no longer ours disappear (no stale figure).

    Called from the poll loop and from :class:`Monitor`'s thread.
    """
    with _shown_lock:
        for topic, partition in _shown - set(lag):
            for gauge in (CONSUMER_LAG, CONSUMER_READ_AHEAD):
                gauge.remove(topic, str(partition))
        for (topic, partition), records in lag.items():
            CONSUMER_LAG.labels(topic, str(partition)).set(records)
            CONSUMER_READ_AHEAD.labels(topic, str(partition)).set(read_ahead.get((topic, partition), 0))
        _shown.clear()
        _shown.update(lag)


class Monitor:
    """Refreshes the lag gauges and the ``catch-up`` health component; a :class:`~orderflow.supervision.Worker` step.

    ``consumer`` is the :class:`~orderflow.consumers.inbound.InboundConsumer`
    (its lag is read from memory), ``end_offsets(partitions)`` looks up the
    partitions' end offsets (a client of its own: the consumer's is busy in the
    poll loop), ``projections`` and
    ``outbound`` are runners with ``lag()`` (two small queries each).
    Ready means: partitions assigned and the consumer lag (records not
    recorded yet) at most ``max_lag``.
    """

    COMPONENT = "catch-up"

    def __init__(self, consumer: Any, projections: Any, outbound: Any, health: Health, max_lag: int,
                 end_offsets: Callable[[list[Any]], Mapping[Any, int]] | None = None):
        self.consumer, self.projections, self.outbound = consumer, projections, outbound
        self.health, self.max_lag = health, max_lag
        self.end_offsets = end_offsets
        health.set(self.COMPONENT, "unknown")

    def step(self) -> int:
        lag = self.consumer.lag(self._ends())
        if lag is not None:
            consumer_lag(lag, self.consumer.read_ahead())
            total = sum(lag.values())
            if self.consumer.is_assigned and total <= self.max_lag:
                self.health.set(self.COMPONENT, "caught up")
            else:
                self.health.set(self.COMPONENT, "behind", error="no partitions assigned" if not lag else
                                f"consumer lag {total} > ORDERFLOW_READY_MAX_LAG={self.max_lag}")
        for view, events in self.projections.lag().items():
            PROJECTION_LAG.labels(view).set(events)
        behind = self.outbound.lag()
        for view in self.outbound.views:
            OUTBOUND_LAG.labels(view.topic).set(behind.get(view.name, 0))
        READY.set(1 if self.health.ready() else 0)
        return 0

    def _ends(self) -> Mapping[Any, int] | None:
        """The assigned partitions' end offsets from the broker: the lag grows while the poll loop waits on the
        database (and reads no fetch responses). None without a look-up or while the broker does not answer."""
        if self.end_offsets is None or not (assignment := self.consumer.assignment):
            return None
        try:
            return self.end_offsets(assignment)
        except KafkaError as error:
            log.debug("end offset look-up failed", error=str(error))
            return None
