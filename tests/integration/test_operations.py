"""Operations against the real engine: metrics and health endpoints, JSON logs, topic creation and its checks."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import replace

import pytest
from kafka import KafkaAdminClient

from orderflow.kafka import MissingTopics, NotCoPartitioned, ensure_topics
from tests.integration.engine import isolated_settings
from tests.integration.processes import EngineProcess, engine_env, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in Prometheus' text format."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(\{{[^}}]*\}})? (\S+)", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def test_a_running_engine_serves_metrics_and_health_and_logs_only_json_lines(database_url, kafka_broker, tmp_path,
                                                                           monkeypatch):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ORDERFLOW_METRICS_PORT", str(port))
    monkeypatch.setenv("ORDERFLOW_METRICS_ADDRESS", "127.0.0.1")
    monkeypatch.setenv("ORDERFLOW_READY_MAX_LAG", "0")
    engine = EngineProcess(settings, tmp_path / "run.log")
    try:
        engine.wait_for_log("orderflow running", timeout=120)
        wait_until(lambda: get(base + "/health/live")[0] == 200, 30, "/health/live 200",
                   alive=lambda: engine.popen.poll() is None)
        simulated = subprocess.run([sys.executable, "-m", "orderflow.cli", "simulate", "--count", "8", "--seed", "3"],
                                   env=engine_env(settings), capture_output=True, text=True, timeout=120)
        assert simulated.returncode == 0, simulated.stderr

        def applied() -> float:
            return sum(samples(get(base + "/metrics")[1], "orderflow_messages_total").values())

        wait_until(lambda: applied() > 0 and get(base + "/health/ready")[0] == 200, 120,
                   "messages applied and /health/ready 200", alive=lambda: engine.popen.poll() is None)
        text = get(base + "/metrics")[1]
        for name in ("orderflow_messages_total", "orderflow_batch_duration_seconds_bucket",
                     "orderflow_batch_duration_seconds_count", "orderflow_consumer_lag",
                     "orderflow_projection_lag_events", "orderflow_outbound_lag_events", "orderflow_ready"):
            assert samples(text, name), f"{name} missing from /metrics"
        assert any('outcome="applied"' in labels and value > 0
                   for labels, value in samples(text, "orderflow_messages_total").items())
        lag = samples(text, "orderflow_consumer_lag")
        for topic in settings.topics.inbound:
            assert {f'{{partition="{p}",topic="{topic}"}}' for p in range(4)} <= set(lag), lag
        assert set(samples(text, "orderflow_outbound_lag_events")) == {
            f'{{topic="{settings.topics.storefront_sync}"}}', f'{{topic="{settings.topics.notifications}"}}'}
        assert any('view="web_orders"' in labels for labels in samples(text, "orderflow_projection_lag_events"))
        status, body = get(base + "/health/ready")
        assert status == 200 and json.loads(body)["ready"] is True and json.loads(body)["reasons"] == []
        assert get(base + "/health/live")[0] == 200
        engine.signal(signal.SIGTERM)
        assert engine.wait(30) == 0
    finally:
        engine.kill()
    lines = (tmp_path / "run.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line one JSON record
    assert any(r.get("event") == "metrics and health served" for r in records)


def test_topics_are_created_with_the_configured_partitions(database_url, kafka_broker):
    settings = replace(isolated_settings(database_url, kafka_broker.bootstrap_servers), topic_partitions=3)
    assert ensure_topics(settings) == {topic: 3 for topic in settings.topics.inbound}


def test_with_creation_off_a_missing_topic_is_an_error_naming_it(database_url, kafka_broker):
    settings = replace(isolated_settings(database_url, kafka_broker.bootstrap_servers), create_topics=False)
    with pytest.raises(MissingTopics, match=re.escape(settings.topics.storefront)):
        ensure_topics(settings)
    env = {**engine_env(settings), "ORDERFLOW_CREATE_TOPICS": "false"}
    done = subprocess.run([sys.executable, "-m", "orderflow.cli", "run"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert settings.topics.dead_letters in done.stderr and "ORDERFLOW_CREATE_TOPICS is false" in done.stderr


def test_existing_inbound_topics_with_different_partition_counts_are_refused(database_url, kafka_broker):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
    try:
        admin.create_topics({settings.topics.storefront: {"num_partitions": 2, "replication_factor": 1},
                             settings.topics.erp: {"num_partitions": 4, "replication_factor": 1}},
                            wait_for_metadata=True)
    finally:
        admin.close()
    with pytest.raises(NotCoPartitioned, match="has 2.*has 4"):
        ensure_topics(settings)
