"""Kafka connections from settings with SASL/SCRAM: a real broker's SASL_PLAINTEXT listener whose SCRAM-SHA-256 and
SCRAM-SHA-512 credentials were written at format time (``KafkaBroker(sasl_mechanisms=...)``, ``--add-scram``), and the
same logins over its SASL_SSL listener (``tls=True``)."""

from __future__ import annotations

import logging

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from devservices.kafka_broker import KafkaBroker
from orderflow.kafka import ensure_topics
from orderflow.settings import Settings
from tests.integration.engine import sasl_settings

PASSWORD = "alice-scram-s3cret"
WRONG = "not-alice-s-password"
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@pytest.fixture(scope="module")
def scram_broker():
    with KafkaBroker(sasl_users={"alice": PASSWORD}, sasl_mechanisms=MECHANISMS, tls=True) as broker:
        yield broker


def scram_settings(broker: KafkaBroker, mechanism: str, password: str, tmp_path, **extra: str) -> Settings:
    return sasl_settings(broker.sasl_bootstrap_servers, mechanism, password, tmp_path, **extra)


@pytest.mark.parametrize("mechanism, protocol", [(m, "SASL_PLAINTEXT") for m in MECHANISMS] + [(m, "SASL_SSL") for m in MECHANISMS])
def test_the_engine_s_clients_log_in_with_scram_and_carry_messages(scram_broker, mechanism, protocol, tmp_path, caplog):
    caplog.set_level(logging.INFO)  # more than orderflow shows (WARNING)
    tls = {"ORDERFLOW_KAFKA_BOOTSTRAP": scram_broker.sasl_ssl_bootstrap_servers,
           "ORDERFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "ORDERFLOW_KAFKA_SSL_CAFILE": str(scram_broker.ca_file)}
    settings = scram_settings(scram_broker, mechanism, PASSWORD, tmp_path, **(tls if protocol == "SASL_SSL" else {}))
    assert settings.kafka_config()["security_protocol"] == protocol
    assert settings.kafka_config()["sasl_mechanism"] == mechanism
    ensure_topics(settings)  # the admin client
    producer = KafkaProducer(**settings.kafka_config(), acks="all")
    producer.send(settings.topics.storefront, key=b"SF-1", value=mechanism.encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(settings.topics.storefront, **settings.kafka_config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=15_000)
    try:
        assert next(iter(consumer)).value == mechanism.encode()  # StopIteration after 15 s without a record
    finally:
        consumer.close()
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_wrong_password_is_refused_and_never_printed(scram_broker, mechanism, tmp_path,
                                                                               caplog):
    caplog.set_level(logging.INFO)
    settings = scram_settings(scram_broker, mechanism, WRONG, tmp_path)
    with pytest.raises(KafkaError) as refused:  # kafka-python retries, then gives up: "Unable to bootstrap"
        KafkaAdminClient(**settings.kafka_config(), bootstrap_timeout_ms=4_000, request_timeout_ms=4_000).close()
    said = caplog.text  # tracebacks included
    # Why each attempt failed. The broker answers the SCRAM client-final message with "invalid credentials" and closes
    # the connection; now and then (seen on a fresh broker) it closes without the answer, and kafka-python can only
    # say "socket disconnected" (docs/security.md).
    reasons = {r.getMessage().rsplit("failed: ", 1)[1] for r in caplog.records
               if r.getMessage().startswith("Bootstrap connection to bootstrap-0 failed: ")}
    refused_clearly = ("[Error 58] SaslAuthenticationFailedError: SaslAuthenticationFailedError: Authentication failed "
                       f"during authentication due to invalid credentials with SASL mechanism {mechanism}")
    assert reasons and all(r.startswith((refused_clearly, "KafkaConnectionError: socket disconnected")) for r in reasons), reasons
    assert [r for r in caplog.records if r.exc_info] == []  # reasons on one line, no traceback
    for secret in (WRONG, PASSWORD):
        assert secret not in said + str(refused.value) + repr(refused.value) + repr(settings)


def test_a_user_without_scram_credentials_is_refused(scram_broker):
    settings = Settings.from_env({"ORDERFLOW_KAFKA_BOOTSTRAP": scram_broker.sasl_bootstrap_servers,
                                  "ORDERFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                                  "ORDERFLOW_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                                  "ORDERFLOW_KAFKA_SASL_USERNAME": "mallory", "ORDERFLOW_KAFKA_SASL_PASSWORD": PASSWORD})
    with pytest.raises(KafkaError):
        KafkaAdminClient(**settings.kafka_config(), bootstrap_timeout_ms=4_000, request_timeout_ms=4_000).close()


def test_the_broker_keeps_no_scram_password_in_its_configuration_or_log(scram_broker):
    # The SCRAM credentials live in the cluster metadata as salted hashes (written by ``format --add-scram``).
    for name in ("server.properties", "broker.log"):
        assert PASSWORD not in (scram_broker.scratch_dir / name).read_text(errors="replace")
