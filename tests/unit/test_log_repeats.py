"""kafka-python's repeated warnings during an outage: one line per message text every 10 s, with a count."""

from __future__ import annotations

import io
import logging

from orderflow import logs
from orderflow.logs import RepeatLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(name: str, level: int, msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_the_same_kafka_error_passes_once_per_interval_then_says_how_many_were_dropped():
    clock = Clock()
    limiter = RepeatLimiter("kafka", interval=10.0, clock=clock)
    passed = []
    for second in range(25):  # one attempt a second, 25 s of outage
        clock.now = 1000.0 + second
        r = record("kafka.conn", logging.ERROR, "Connect attempt to %s returned error %s", "<BrokerConnection node_id=1>", 111)
        if limiter.filter(r):
            passed.append(r.getMessage())
    assert passed == [
        "Connect attempt to <BrokerConnection node_id=1> returned error 111",
        "Connect attempt to <BrokerConnection node_id=1> returned error 111 (repeated 9 times in the last 10 s)",
        "Connect attempt to <BrokerConnection node_id=1> returned error 111 (repeated 9 times in the last 10 s)",
    ]


def test_different_texts_other_loggers_and_lower_levels_are_not_limited():
    clock = Clock()
    limiter = RepeatLimiter("kafka", interval=10.0, clock=clock)
    assert [limiter.filter(record("kafka.client", logging.WARNING, "node 1 down")) for _ in range(3)] == [True, False, False]
    assert [limiter.filter(record("kafka.client", logging.WARNING, f"node {n} down")) for n in range(2, 5)] == [True] * 3
    assert all(limiter.filter(record("orderflow.cli", logging.ERROR, "same")) for _ in range(5))
    assert all(limiter.filter(record("kafkaesque", logging.ERROR, "same")) for _ in range(5))
    assert all(limiter.filter(record("kafka.conn", logging.INFO, "same")) for _ in range(5))


def test_the_kinds_remembered_are_bounded():
    clock = Clock()
    limiter = RepeatLimiter("kafka", interval=10.0, clock=clock, max_keys=50)
    for n in range(10_000):
        limiter.filter(record("kafka.conn", logging.ERROR, f"error {n}"))
    assert len(limiter._seen) <= 50


def test_the_configured_handler_rate_limits_kafka_python_lines(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("json")
        for _ in range(40):
            logging.getLogger("kafka.conn").error("Connect attempt to %s returned error 111", "localhost:9092")
        logging.getLogger("orderflow.test").warning("ours")
        logging.getLogger("orderflow.test").warning("ours")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert sum("Connect attempt" in line for line in lines) == 1
    assert sum('"ours"' in line for line in lines) == 2
