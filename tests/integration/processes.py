"""Helpers for running ``orderflow run`` as real processes and reading back what they recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from orderflow.aggregates.inbox import Receipt
from orderflow.application.orders import Orders
from orderflow.application.positions import RECEIPTS
from orderflow.consumers.handlers import topic_for
from orderflow.consumers.inbound import position_name
from orderflow.contract.envelope import Envelope
from orderflow.db import Database
from orderflow.ownership import TABLE as OWNER_TABLE
from orderflow.projections.catalog import all_views
from orderflow.projections.event_log import COLUMNS as EVENT_LOG_COLUMNS
from orderflow.projections.rebuild import rebuild
from orderflow.projections.runner import ProjectionRunner
from orderflow.projections.web_orders import COLUMNS as WEB_ORDER_COLUMNS
from orderflow.settings import Settings

# Columns that depend on the order in which partitions happened to be read, not on what an order went through.
ARRIVAL_COLUMNS = {"id", "web_order_no", "position"}


def engine_env(settings: Settings, batch_size: int = 20) -> dict[str, str]:
    """The environment under which ``orderflow run`` uses these settings, logging JSON lines."""
    return {
        **os.environ,
        **settings.where(),
        "ORDERFLOW_BATCH_SIZE": str(batch_size),
        # The broker's minimum: a killed member leaves the group as soon as the broker allows.
        "ORDERFLOW_SESSION_TIMEOUT_MS": "6000",
        "ORDERFLOW_LOG_FORMAT": "json",
        # One producer publishes both topics here, so a record and the one before it on the other topic can
        # reach the broker out of order by the producer's linger: a grace well beyond it keeps runs comparable.
        "ORDERFLOW_MERGE_GRACE_MS": "250",
    }


class EngineProcess:
    """One ``orderflow run`` subprocess, its JSON log in a file."""

    def __init__(self, settings: Settings, log_path: Path, *args: str, batch_size: int = 20):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "orderflow.cli", "run", *args],
            env=engine_env(settings, batch_size), stdout=self._log, stderr=subprocess.STDOUT,
        )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The log lines written so far (only those with ``event == name`` if given)."""
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and (name is None or entry.get("event") == name):
                entries.append(entry)
        return entries

    def wait_for_log(self, name: str, timeout: float = 60) -> None:
        """Wait until the log has a ``name`` line; fail if the process ends or ``timeout`` passes first."""
        wait_until(lambda: bool(self.events(name)), timeout, f"{name!r} in {self.log_path}",
                   alive=lambda: self.popen.poll() is None)

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """The exit code; fails the test (killing the process) after ``timeout`` seconds."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"orderflow run did not exit within {timeout} s; log: {self.log_path}") from None

    def kill(self) -> None:
        """SIGKILL (if still running) and reap; safe to call more than once."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        self._log.close()


def wait_until(done: Callable[[], bool], timeout: float, what: str, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert alive(), f"the process ended while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def hand_over(database_url: str, group: str) -> None:
    """Hand the database's positions to consumer group ``group``, as docs/operations.md tells an operator to once
    every process of the old group has stopped."""
    db = Database(database_url)
    try:
        with db.transaction() as cursor:
            cursor.execute(f"UPDATE {OWNER_TABLE} SET consumer_group = ?", (group,))
    finally:
        db.close()


def end_offsets(settings: Settings) -> dict[str, int]:
    """Each inbound partition's end offset, by its position name."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for topic in set(settings.topics.inbound)
                      for p in consumer.partitions_for_topic(topic) or ()]
        return {position_name(tp.topic, tp.partition): end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def wait_until_recorded(settings: Settings, ends: dict[str, int], timeout: float, alive: Callable[[], bool]) -> None:
    """Wait until the database records every partition's position up to ``ends``."""
    app = Orders(settings.database_url)
    try:
        wait_until(lambda: all(app.position(name) == end - 1 for name, end in ends.items() if end),
                   timeout, f"positions {ends} to be recorded", alive=alive)
    finally:
        app.close()


def run_until_consumed(settings: Settings, log_path: Path, timeout: float = 120) -> EngineProcess:
    """Run ``orderflow run`` until everything published so far is recorded, then stop it with SIGTERM.

    The positions in the database, not an idle timer, say when it is done.
    """
    ends = end_offsets(settings)
    process = EngineProcess(settings, log_path)
    try:
        wait_until_recorded(settings, ends, timeout, alive=lambda: process.popen.poll() is None)
        process.wait_for_log("orderflow running")  # its SIGTERM handler is installed by then
        process.signal(signal.SIGTERM)
        assert process.wait(15) == 0, f"orderflow run failed; log: {log_path}"
    finally:
        process.kill()
    return process


def inbound_records(settings: Settings) -> set[tuple[str, int, int]]:
    """``(topic, partition, offset)`` of every record published so far to the inbound topics."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for topic in set(settings.topics.inbound)
                      for p in consumer.partitions_for_topic(topic) or ()]
        begin, end = consumer.beginning_offsets(partitions), consumer.end_offsets(partitions)
        return {(tp.topic, tp.partition, offset) for tp in partitions for offset in range(begin[tp], end[tp])}
    finally:
        consumer.close()


def publish_traffic(settings: Settings, messages: list[tuple[str, Envelope]]) -> None:
    """Publish :func:`orderflow.traffic.simulate.traffic` to the settings' topics, as ``publish_orders`` does; wait for acks."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    try:
        futures = []
        for _, envelope in messages:
            futures.append(producer.send(topic_for(envelope.message_type, settings.topics), key=envelope.key.encode(),
                                         value=envelope.value(), headers=envelope.headers()))
            if envelope.message_type == "order_taking_configured":
                producer.flush()  # the setup goes first
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


@dataclass
class Outcome:
    """What a database holds after the engine consumed some traffic, in arrival-independent terms."""

    receipts: Counter  # message id -> how many receipts
    distinct_web_order_nos: int  # numbers of the placed orders, duplicates counted once
    event_counts: dict[str, int]  # storefront reference -> the order's version
    web_orders: dict[str, dict[str, Any]]  # storefront reference -> business columns
    event_log: dict[str, list[tuple]]  # storefront reference -> rows in event order, minus arrival columns
    rejected: int
    by_record: Counter  # (topic, partition, offset) of an inbound record -> receipts plus error-journal rows
    reasons: list[str]  # the error journal's reasons


def outcome(database_url: str) -> Outcome:
    """Read the event store and the read models (caught up first) of ``database_url``."""
    app, db = Orders(database_url), Database(database_url)
    try:
        ProjectionRunner(app, db, all_views(db.is_postgres, app)).catch_up()
        receipts: Counter = Counter()
        by_record: Counter = Counter()
        for message_id, source in db.query(f"SELECT message_id, source FROM {RECEIPTS}"):
            receipts[message_id] += 1
            where, offset = source.rsplit("@", 1)
            topic, partition = where.rsplit(":", 1)
            by_record[(topic, int(partition), int(offset))] += 1
        start = 1
        while notifications := app.recorder.select_notifications(start=start, limit=1000):
            for n in notifications:  # receipts of a store written before they were rows
                if n.topic.endswith(f"{Receipt.__qualname__}.Applied"):
                    applied = app.mapper.to_domain_event(n)
                    receipts[applied.message_id] += 1
                    by_record[(applied.topic, applied.partition, applied.offset)] += 1
            start = notifications[-1].id + 1
        rejections = db.query("SELECT topic, partition, record_offset, reason FROM error_journal")
        for topic, partition, offset, _ in rejections:
            by_record[(topic, partition, offset)] += 1
        web_orders = {row["storefront_reference"]: row for row in _rows(db, "web_orders", WEB_ORDER_COLUMNS)}
        event_log: dict[str, list[tuple]] = {}
        for row in _rows(db, "event_log", EVENT_LOG_COLUMNS, "storefront_reference, event_version"):
            event_log.setdefault(row.pop("storefront_reference"), []).append(tuple(row.items()))
        return Outcome(
            receipts=receipts,
            distinct_web_order_nos=len({app.get_order(ref).web_order_no for ref in web_orders}),
            event_counts={ref: app.get_order(ref).version for ref in web_orders},
            web_orders=web_orders,
            event_log=event_log,
            rejected=len(rejections),
            by_record=by_record,
            reasons=[row[3] for row in rejections],
        )
    finally:
        db.close()
        app.close()


def assert_read_models_equal_a_rebuild(database_url: str, live: Outcome) -> None:
    """Rebuild every read model from the event store and compare it with the live one, ``outcome(database_url)``."""
    app, db = Orders(database_url), Database(database_url)
    try:
        rebuild(app, db)
    finally:
        db.close()
        app.close()
    rebuilt = outcome(database_url)
    assert rebuilt.web_orders == live.web_orders, "the Web Orders read model differs from a rebuild"
    assert rebuilt.event_log == live.event_log, "the Event Log read model differs from a rebuild"
    assert sorted(rebuilt.reasons) == sorted(live.reasons), "the error journal differs from a rebuild"


def _rows(db: Database, table: str, columns: tuple[str, ...], order_by: str = "storefront_reference") -> list[dict[str, Any]]:
    """The table's rows without the columns that record arrival order."""
    kept = [c for c in columns if c not in ARRIVAL_COLUMNS]
    return [dict(zip(kept, row, strict=True)) for row in db.query(f"SELECT {', '.join(kept)} FROM {table} ORDER BY {order_by}")]
