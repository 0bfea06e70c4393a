"""Kafka connections from settings over TLS: a real broker's SSL listener with a throwaway CA (``KafkaBroker(tls=True)``)."""

from __future__ import annotations

import logging
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError

from devservices.kafka_broker import KafkaBroker
from orderflow.bootstrap import bootstrap
from orderflow.settings import Settings
from tests.integration.engine import consume_until, placed

KEY_PASSWORD = "client-key-s3cret"  # a secret in the settings of the refused client: it must not be printed


@pytest.fixture(scope="module")
def tls_broker():
    with KafkaBroker(tls=True) as broker:
        yield broker


def tls_settings(broker: KafkaBroker, tmp_path, **extra: str) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return Settings.from_env({
        "ORDERFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'orderflow.db'}",
        "ORDERFLOW_KAFKA_BOOTSTRAP": broker.ssl_bootstrap_servers,
        "ORDERFLOW_KAFKA_SECURITY_PROTOCOL": "SSL",
        "ORDERFLOW_CONSUMER_GROUP": f"orderflow-{suffix}",
        "ORDERFLOW_TOPIC_STOREFRONT": f"sf-{suffix}", "ORDERFLOW_TOPIC_ERP": f"erp-{suffix}",
        "ORDERFLOW_TOPIC_STOREFRONT_SYNC": f"sync-{suffix}", "ORDERFLOW_TOPIC_NOTIFICATIONS": f"n-{suffix}",
        "ORDERFLOW_TOPIC_DEAD_LETTERS": f"dlq-{suffix}",
        **extra,
    })


def test_the_engine_creates_topics_publishes_and_applies_an_order_over_tls(tls_broker, tmp_path):
    settings = tls_settings(tls_broker, tmp_path, ORDERFLOW_KAFKA_SSL_CAFILE=str(tls_broker.ca_file))
    assert settings.kafka_config()["security_protocol"] == "SSL"
    assert settings.kafka_config()["ssl_check_hostname"] is True  # the certificate names 127.0.0.1
    engine = bootstrap(settings)
    consumer = None
    try:
        engine.ensure_topics()  # the admin client, over TLS
        order = placed("SF-TLS-1")
        producer = KafkaProducer(**settings.kafka_config(), acks="all")
        try:
            producer.send(settings.topics.storefront, key=order.key.encode(), value=order.value(),
                          headers=order.headers()).get(timeout=30)
        finally:
            producer.close()
        consumer = engine.inbound_consumer()  # consumer and dead-letter producer, over TLS

        def listed():
            engine.projections.catch_up()
            return engine.projections.views[0].list_orders(engine.db, limit=10)

        consume_until(consumer, lambda: len(listed()) == 1, timeout=60)
        assert [row["storefront_reference"] for row in listed()] == ["SF-TLS-1"]
    finally:
        if consumer is not None:
            consumer.close()
        engine.close()


def test_a_client_that_does_not_trust_the_broker_s_ca_is_refused_with_a_clear_reason(tls_broker, tmp_path, caplog):
    # No ORDERFLOW_KAFKA_SSL_CAFILE: the system's CAs, which did not sign the broker's certificate.
    # A client key password is set so that we can check no secret is printed.
    settings = tls_settings(tls_broker, tmp_path, ORDERFLOW_KAFKA_SSL_PASSWORD=KEY_PASSWORD)
    # INFO: more than orderflow shows (its root logger is at WARNING). At DEBUG kafka-python's admin client logs
    # its whole configuration, passwords included (docs/security.md).
    caplog.set_level(logging.INFO)
    with pytest.raises(KafkaError) as refused:  # kafka-python retries, then gives up: "Unable to bootstrap"
        KafkaAdminClient(**settings.kafka_config(), bootstrap_timeout_ms=8_000, request_timeout_ms=8_000).close()
    said = caplog.text  # every line as the log handler renders it, tracebacks included
    assert "Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed" in said
    assert [r for r in caplog.records if r.exc_info] == []  # a reason on one line, no traceback
    assert KEY_PASSWORD not in said + str(refused.value) + repr(refused.value) + repr(settings)


def test_a_plaintext_client_does_not_get_through_the_tls_listener(tls_broker, tmp_path):
    settings = tls_settings(tls_broker, tmp_path, ORDERFLOW_KAFKA_SECURITY_PROTOCOL="PLAINTEXT")
    with pytest.raises(KafkaError):
        KafkaAdminClient(**settings.kafka_config(), bootstrap_timeout_ms=5_000, request_timeout_ms=5_000).close()
