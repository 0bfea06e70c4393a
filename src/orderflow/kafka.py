"""Kafka clients as orderflow builds them: the one producer factory, and the topics checked (or created) at start.

Every producer of the engine, the traffic tools and the benchmarks comes from
:func:`make_producer`: the settings' connection (bootstrap servers, TLS, SASL),
every record acknowledged by all in-sync replicas, idempotent, a 5 ms
linger that lets a burst share a request, and batches of up to 256 KiB per
partition (:data:`PRODUCER_DEFAULTS`).

:func:`ensure_topics` creates what is missing (``ORDERFLOW_CREATE_TOPICS``,
``ORDERFLOW_TOPIC_PARTITIONS``, ``ORDERFLOW_TOPIC_REPLICATION_FACTOR``) or,
with creation off, names what is missing; either way it refuses inbound
topics that cannot be merged partition by partition (:class:`NotCoPartitioned`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import TopicAlreadyExistsError

from orderflow.settings import Settings, Topics

log = structlog.get_logger("orderflow.kafka")

PRODUCER_DEFAULTS: Mapping[str, Any] = {"acks": "all", "enable_idempotence": True, "linger_ms": 5, "batch_size": 256 * 1024}
"""``batch_size``: kafka-python's 16 KiB default fills with about 13 outbound messages, and each new batch wakes
the producer's network thread and becomes a request of its own; the outbound publisher hands a page of about
800 messages over at once and flushes, so larger batches mean a few requests per page instead of dozens (its CPU
per event, issue 10). The buffer grows as records are appended: nothing is allocated up front, and the linger,
hence the latency of a lone record, is unchanged. Well below the broker's 1 MB ``message.max.bytes``."""


class NotCoPartitioned(RuntimeError):
    """The inbound topics cannot be merged partition by partition; the text says what differs."""


class MissingTopics(RuntimeError):
    """Topics orderflow needs do not exist and it may not create them (``ORDERFLOW_CREATE_TOPICS=false``)."""


def make_producer(settings: Settings | None = None, /, **config: Any) -> KafkaProducer:
    """A producer on ``settings``' connection with :data:`PRODUCER_DEFAULTS`; ``config`` adds or overrides.

    Without settings, ``config`` must name the ``bootstrap_servers``.
    """
    connection = settings.kafka_config() if settings is not None else {}
    return KafkaProducer(**{**PRODUCER_DEFAULTS, **connection, **config})


def co_partitioned(counts: Mapping[str, int], topics: Topics) -> int:
    """The inbound topics' common number of partitions, from ``counts`` (topic: partitions).

    :class:`NotCoPartitioned` when the two settings name one topic or the counts differ.
    """
    if topics.storefront == topics.erp:
        raise NotCoPartitioned(
            f"ORDERFLOW_TOPIC_STOREFRONT and ORDERFLOW_TOPIC_ERP both name {topics.storefront}: they must be two topics"
        )
    inbound = {topic: counts.get(topic, 0) for topic in topics.inbound}
    if len(set(inbound.values())) != 1:
        described = ", ".join(f"{topic} has {count}" for topic, count in inbound.items())
        raise NotCoPartitioned(
            f"the inbound topics must have the same number of partitions to be merged by event time: {described}; "
            "add partitions to the smaller one (kafka-topics --alter --partitions N), and note that keys then move"
        )
    return inbound[topics.storefront]


def ensure_topics(settings: Settings) -> dict[str, int]:
    """Check that orderflow's topics exist and fit, creating the missing ones if allowed; return partition counts.

    Raises :class:`MissingTopics` (creation off) or :class:`NotCoPartitioned`.
    """
    admin = KafkaAdminClient(**settings.kafka_config())
    try:
        missing = [topic for topic in settings.topics.all if topic not in set(admin.list_topics())]
        if missing and not settings.create_topics:
            raise MissingTopics(
                f"topics {', '.join(missing)} do not exist and ORDERFLOW_CREATE_TOPICS is false: create them "
                "(the storefront and ERP topics with the same number of partitions) or set it to true"
            )
        if missing:
            spec = {"num_partitions": settings.topic_partitions,
                    "replication_factor": settings.topic_replication_factor}
            try:
                admin.create_topics({topic: dict(spec) for topic in missing}, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                pass  # another process created them first
            log.info("topics created", topics=missing, **spec)
        described = admin.describe_topics(list(settings.topics.inbound))
        counts = {t.get("name", t.get("topic")): len(t.get("partitions") or ()) for t in described}
    finally:
        admin.close()
    co_partitioned(counts, settings.topics)
    return counts
