"""The metrics and health HTTP endpoints answer from the process's one Health."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from orderflow.health import HealthServer
from orderflow.metrics import CONSUMER_LAG, CONSUMER_READ_AHEAD, Monitor
from orderflow.supervision import Health


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Runner:
    def __init__(self, lag: dict[str, int], views=()):
        self._lag, self.views = lag, list(views)

    def lag(self) -> dict[str, int]:
        return self._lag


class Consumer:
    def __init__(self, lag):
        self._lag = lag
        self.is_assigned = bool(lag)

    def lag(self, ends=None):
        return self._lag

    def read_ahead(self):
        return {partition: 1 for partition in self._lag}


@pytest.fixture
def served():
    clock = Clock()
    health = Health(stall_after=10, clock=clock)
    server = HealthServer(health, port=0, address="127.0.0.1")
    yield health, clock, f"http://127.0.0.1:{server.port}"
    server.close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_live_is_503_until_the_loop_turns_and_again_once_it_stalls(served):
    health, clock, base = served
    assert get(base + "/health/live")[0] == 503
    health.beat()
    assert get(base + "/health/live")[0] == 200
    clock.now += 11
    status, body = get(base + "/health/live")
    assert status == 503 and "last turned 11.0 s ago" in json.loads(body)["reasons"][0]


def test_ready_says_which_component_is_not_ready(served):
    health, _clock, base = served
    health.set("inbound", "starting")
    status, body = get(base + "/health/ready")
    assert status == 503 and json.loads(body)["reasons"] == ["inbound: starting"]
    health.set("inbound", "running")
    assert get(base + "/health/ready")[0] == 200


def test_the_monitor_makes_ready_wait_for_the_consumer_to_catch_up(served):
    health, _clock, base = served
    health.set("inbound", "running")
    outbound = Runner({"outbound:notifications": 3}, [SimpleNamespace(name="outbound:notifications", topic="n.v1")])
    monitor = Monitor(Consumer({("s.v1", 0): 5000, ("e.v1", 0): 0}), Runner({"web_orders": 7}), outbound, health,
                      max_lag=100)
    monitor.step()
    status, body = get(base + "/health/ready")
    assert status == 503 and "consumer lag 5000 > ORDERFLOW_READY_MAX_LAG=100" in body
    monitor.consumer = Consumer({("s.v1", 0): 2, ("e.v1", 0): 0})
    monitor.step()
    assert get(base + "/health/ready")[0] == 200
    text = get(base + "/metrics")[1]
    assert 'orderflow_consumer_lag{partition="0",topic="s.v1"} 2.0' in text
    assert 'orderflow_consumer_read_ahead{partition="0",topic="s.v1"} 1.0' in text
    assert 'orderflow_projection_lag_events{view="web_orders"} 7.0' in text
    assert 'orderflow_outbound_lag_events{topic="n.v1"} 3.0' in text
    monitor.consumer = Consumer({("e.v1", 0): 0})
    monitor.step()  # a partition no longer ours is no longer reported
    assert 'topic="s.v1"' not in get(base + "/metrics")[1]
    CONSUMER_LAG.clear()
    CONSUMER_READ_AHEAD.clear()


def test_anything_else_is_404(served):
    assert get(served[2] + "/")[0] == 404
