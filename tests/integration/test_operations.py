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

import psycopg
import pytest
from kafka import KafkaAdminClient

from orderflow.application.orders import Orders
from orderflow.kafka import MissingTopics, NotCoPartitioned, ensure_topics
from orderflow.traffic.simulate import traffic
from tests.alerts import evaluate_rules
from tests.integration.engine import isolated_settings, placed, publish, read_topic
from tests.integration.processes import (
    EngineProcess,
    end_offsets,
    engine_env,
    outcome,
    publish_traffic,
    run_until_consumed,
    wait_until,
)


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


def test_a_database_write_that_hangs_shows_as_lag_turns_readiness_503_and_fires_the_stuck_alert(
        database_url, kafka_broker, tmp_path, monkeypatch):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ORDERFLOW_METRICS_PORT", str(port))
    monkeypatch.setenv("ORDERFLOW_METRICS_ADDRESS", "127.0.0.1")
    monkeypatch.setenv("ORDERFLOW_READY_MAX_LAG", "5")
    engine = EngineProcess(settings, tmp_path / "run.log")
    alive = lambda: engine.popen.poll() is None  # noqa: E731
    try:
        engine.wait_for_log("partition assigned", timeout=120)
        # From the moment partitions are assigned, every one has its lag series, before any record is read.
        lag = samples(get(base + "/metrics")[1], "orderflow_consumer_lag")
        assert {f'{{partition="{p}",topic="{t}"}}' for t in settings.topics.inbound for p in range(4)} <= set(lag)
        wait_until(lambda: get(base + "/health/ready")[0] == 200, 120, "/health/ready 200", alive=alive)
        blocker = psycopg.connect(database_url)
        try:
            # The engine's batch write takes this lock on the events table too: it waits until we let go.
            blocker.execute("LOCK TABLE orderflow_events IN EXCLUSIVE MODE")  # the event store's table
            publish(kafka_broker.bootstrap_servers, settings.topics.storefront,
                    [placed(f"SF-{i:05d}", i) for i in range(40)])

            def stalled() -> dict[str, float]:
                text = get(base + "/metrics")[1]
                return {"lag": sum(samples(text, "orderflow_consumer_lag").values()),
                        "read_ahead": sum(samples(text, "orderflow_consumer_read_ahead").values()),
                        "batches": sum(samples(text, "orderflow_batch_messages_total").values())}

            wait_until(lambda: stalled()["read_ahead"] > 0 and get(base + "/health/ready")[0] == 503, 60,
                       "records read but not recorded, and /health/ready 503", alive=alive)
            first = stalled()
            status, body = get(base + "/health/ready")
            assert status == 503 and "ORDERFLOW_READY_MAX_LAG=5" in body, body
            # Nothing is recorded: the lag counts every record published, read into memory or not.
            assert first["lag"] == sum(end_offsets(settings).values()) == 40, first
            assert 0 < first["read_ahead"] <= first["lag"]
            text = get(base + "/metrics")[1]
            assert stalled()["batches"] == first["batches"]  # still no batch recorded
            # What /metrics serves now, held for 20 minutes of the same stall: the documented alert fires.
            series = [{"series": "orderflow_consumer_lag" + labels, "values": f"{value:g}+0x30"}
                      for labels, value in samples(text, "orderflow_consumer_lag").items()]
            series.append({"series": "orderflow_batch_messages_total", "values": f"{first['batches']:g}+0x30"})
            fired = evaluate_rules(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": [
                {"eval_time": "20m", "alertname": "OrderflowPartitionStuck", "exp_alerts": [
                    {"exp_labels": {"severity": "critical"},
                     "exp_annotations": {"summary": "orderflow records nothing while 40 records wait"}}]}]}])
            assert fired.returncode == 0, fired.stdout + fired.stderr
        finally:
            blocker.close()  # the transaction ends, the lock with it: the engine records what waited
        wait_until(lambda: stalled()["lag"] == 0 and get(base + "/health/ready")[0] == 200, 60,
                   "everything recorded and /health/ready 200 again", alive=alive)
        engine.signal(signal.SIGTERM)
        assert engine.wait(30) == 0
    finally:
        engine.kill()


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


def test_a_second_consumer_group_on_the_same_database_is_refused_and_changes_nothing(database_url, kafka_broker,
                                                                                      tmp_path):
    settings = isolated_settings(database_url, kafka_broker.bootstrap_servers)
    ensure_topics(settings)
    publish_traffic(settings, traffic(30, 11))
    run_until_consumed(settings, tmp_path / "first.log")
    before = outcome(database_url)
    assert before.rejected == 0 and before.receipts
    ends = end_offsets(settings)
    renamed = replace(settings, consumer_group=f"{settings.consumer_group}-renamed")
    owner = EngineProcess(settings, tmp_path / "owner.log")  # the owning group runs while the other one starts
    try:
        owner.wait_for_log("partition assigned", timeout=120)
        for attempt in ("while the owner runs", "after it stopped"):
            refused = subprocess.run([sys.executable, "-m", "orderflow.cli", "run"], env=engine_env(renamed),
                                     capture_output=True, text=True, timeout=120)
            assert refused.returncode == 2, (attempt, refused.stderr[-2000:])
            last = refused.stderr.splitlines()[-1]
            assert last.startswith("orderflow run: the positions in database") and "Traceback" not in refused.stderr
            assert f"consumer group {settings.consumer_group!r}" in last and repr(renamed.consumer_group) in last
            assert f"ORDERFLOW_CONSUMER_GROUP={settings.consumer_group}" in last
            if owner.popen.poll() is None:
                owner.signal(signal.SIGTERM)
                assert owner.wait(30) == 0
    finally:
        owner.kill()
    assert read_topic(kafka_broker.bootstrap_servers, settings.topics.dead_letters, expected=1, timeout=5) == []
    assert outcome(database_url) == before, "the history changed"
    app = Orders(database_url)
    try:
        assert {name: app.position(name) for name in ends} == {name: end - 1 if end else None
                                                                for name, end in ends.items()}
    finally:
        app.close()
