"""In JSON mode every line on stderr is one JSON record: ours and kafka-python's alike."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest
import structlog
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from orderflow import logs


@pytest.fixture
def stream(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    logs.configure("json")
    yield buffer
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []
    logging.captureWarnings(False)


def test_a_real_kafka_python_client_logs_json_lines_never_mixed_with_ours(stream):
    def ours():
        log = structlog.get_logger("orderflow.test")
        for n in range(300):
            log.info("batch recorded", n=n, email="anna@example.com")

    def libraries():
        for n in range(300):
            logging.getLogger("kafka.test").warning("library line %d\nwith a second line", n)
        with pytest.raises(KafkaError):  # an unreachable broker: kafka-python logs its connection errors
            KafkaAdminClient(bootstrap_servers="127.0.0.1:1", bootstrap_timeout_ms=1500, request_timeout_ms=1500)

    threads = [threading.Thread(target=ours), threading.Thread(target=libraries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = [json.loads(line) for line in stream.getvalue().splitlines()]  # every line parses
    assert sum(r["logger"] == "orderflow.test" for r in records) == 300
    assert sum(r["logger"] == "kafka.test" for r in records) == 300
    assert any(r["logger"].startswith("kafka.net") for r in records), "the real client logged nothing"
    assert all("anna@example.com" not in json.dumps(r) for r in records)
