"""Running ``orderflow run`` as a black box: real subprocesses, watched through the database.

Only the public surface is used, so that this keeps working while the engine's
insides change: the ``orderflow`` command and its ``ORDERFLOW_*`` environment,
its JSON log (one line, ``orderflow running``, to start the clock), the
positions it records (``Orders(url).position("topic:partition")``), the
read models' lag (``ProjectionRunner(...).lag()``) and the outbound rows of
``projection_tracking``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from bench.cpu import cpu_by_process, spent_per_message
from devservices.kafka_broker import KafkaBroker
from devservices.postgres_server import PostgresServer
from orderflow.application.orders import Orders
from orderflow.contract.envelope import Envelope
from orderflow.db import Database
from orderflow.kafka import ensure_topics, make_producer
from orderflow.projections.catalog import all_views
from orderflow.projections.runner import ProjectionRunner
from orderflow.settings import Settings, Topics
from orderflow.traffic.simulate import PRODUCERS


class BenchError(RuntimeError):
    """A stage could not produce its figure (the reason says why)."""


@dataclass
class Services:
    """The PostgreSQL server and Kafka broker of one benchmark run, and where its files go."""

    postgres: PostgresServer
    broker: KafkaBroker
    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def settings(self, name: str, inbound: Topics | None = None) -> Settings:
        """Settings of a fresh database, consumer group and outbound topics named after ``name``.

        ``inbound`` reuses the storefront and ERP topics of another stage (the same messages);
        otherwise the stage gets inbound topics of its own.
        """
        prefix = f"bench-{self.run_id}-{name}"
        url = self.postgres.create_database(f"bench_{self.run_id}_{name}".replace("-", "_"))
        own = Topics(storefront=f"{prefix}.storefront", erp=f"{prefix}.erp", storefront_sync=f"{prefix}.storefront-sync",
                     notifications=f"{prefix}.notifications", dead_letters=f"{prefix}.dead-letters")
        topics = own if inbound is None else replace(own, storefront=inbound.storefront, erp=inbound.erp)
        settings = Settings(database_url=url, kafka_bootstrap=self.broker.bootstrap_servers,
                            consumer_group=f"{prefix}-group", topics=topics)
        ensure_topics(settings)  # all five, the inbound ones with equal partition counts, as `orderflow run` makes them
        return settings


def orderflow_command() -> list[str]:
    """The installed ``orderflow`` command next to this interpreter, else ``python -m orderflow.cli``."""
    script = Path(sys.executable).parent / "orderflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "orderflow.cli"]


def engine_env(settings: Settings) -> dict[str, str]:
    """The environment of ``orderflow`` commands on these settings; batch size and timeouts stay the engine's defaults."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORDERFLOW_")}
    return {**env, **settings.where(), "ORDERFLOW_LOG_FORMAT": "json"}


def run_cli(settings: Settings, *args: str, timeout: float = 3600) -> float:
    """Run one ``orderflow`` command to its end; return its wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run([*orderflow_command(), *args], env=engine_env(settings), capture_output=True, text=True,
                            timeout=timeout)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise BenchError(f"orderflow {' '.join(args)} exited with {result.returncode}: {result.stderr[-2000:]}")
    return seconds


class EngineProcess:
    """One ``orderflow run`` subprocess with its JSON log in a file, and its memory high-water mark."""

    def __init__(self, settings: Settings, log_path: Path, command: list[str] | None = None):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.spawned = time.perf_counter()
        self.popen = subprocess.Popen(command or [*orderflow_command(), "run"], env=engine_env(settings),
                                      stdout=self._log, stderr=subprocess.STDOUT)
        self.running_at: float | None = None
        self.peak_rss_kib = 0

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def logged(self, name: str) -> bool:
        """Whether the JSON log has a line whose ``event`` is ``name``."""
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("event") == name:
                return True
        return False

    def wait_running(self, timeout: float = 60) -> float:
        """When the engine said ``orderflow running`` (built, topics ensured, about to poll): the clock's start.

        If the line never comes (a renamed message), the spawn time: a little pessimistic, never flattering.
        """
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.alive:
                raise BenchError(f"orderflow run exited with {self.popen.returncode}; log: {self.log_path}")
            if self.logged("orderflow running"):
                self.running_at = time.perf_counter()
                return self.running_at
            time.sleep(0.05)
        self.running_at = self.spawned
        return self.running_at

    def sample_memory(self) -> None:
        """Keep the peak resident set of the engine: the kernel's VmHWM (no peak between two samples is missed) of
        its process plus each of its child processes' (the followers'), an upper bound of the tree's peak."""
        self.peak_rss_kib = max(self.peak_rss_kib, sum(_peak_rss_kib(pid) for pid in _tree(self.popen.pid)))

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (the engine finishes its batch), SIGKILL after ``timeout``; safe to call twice."""
        if self.alive:
            self.sample_memory()
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux: /proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in children.read_text().split()]
            except OSError:
                continue
    return found


def _peak_rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def end_offsets(settings: Settings) -> dict[str, int]:
    """Each non-empty inbound partition's end offset, by its position name ``topic:partition``."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for topic in settings.topics.inbound
                      for p in consumer.partitions_for_topic(topic) or ()]
        return {f"{tp.topic}:{tp.partition}": end for tp, end in consumer.end_offsets(partitions).items() if end}
    finally:
        consumer.close()


class Watcher:
    """Reads, from the database, how far the engines have got: positions, read models, outbound topics."""

    def __init__(self, settings: Settings):
        self.app = Orders(settings.database_url)
        self.db = Database(settings.database_url)
        self.runner = ProjectionRunner(self.app, self.db, all_views(self.db.is_postgres, self.app))

    def recorded(self, ends: dict[str, int]) -> int:
        """How many records are recorded: a position is an offset, so a partition is done at ``end - 1``."""
        done = 0
        for name, end in ends.items():
            position = self.app.position(name)
            done += 0 if position is None else min(position + 1, end)
        return done

    def head(self) -> int:
        """How many events the store holds (the newest notification id)."""
        return self.runner.head()

    def all_recorded(self, ends: dict[str, int]) -> bool:
        return self.recorded(ends) >= sum(ends.values())

    def caught_up(self) -> bool:
        """Every read model and every outbound topic has followed the store to its head."""
        head = self.head()
        if any(self.runner.lag().values()):
            return False
        outbound = self.db.query("SELECT position FROM projection_tracking WHERE name LIKE ?", ("outbound:%",))
        return bool(outbound) and all(position >= head for (position,) in outbound)

    def close(self) -> None:
        self.db.close()
        self.app.close()


@dataclass
class RunTimes:
    """What one ``orderflow run`` stage measured."""

    messages: int
    store_seconds: float | None  # from `orderflow running` to every position recorded; None: not within the budget
    e2e_seconds: float | None  # ... to every read model and outbound topic caught up
    events: int
    peak_rss_mib: float
    recorded: int  # messages recorded when the stage ended (all, unless the budget ran out)
    budget: float
    cpu: dict[str, float] | None = None  # µs of CPU per message by kind of process (bench/cpu.py), if asked for

    @property
    def store_rate(self) -> float | None:
        return self.messages / self.store_seconds if self.store_seconds else None

    @property
    def e2e_rate(self) -> float | None:
        return self.messages / self.e2e_seconds if self.e2e_seconds else None


def run_engines(settings: Settings, logs: Path, label: str, processes: int = 1, budget: float = 3600,
                poll: float = 0.2, command: list[str] | None = None, cpu_roots: list[int] | None = None) -> RunTimes:
    """Start ``processes`` engines on a published backlog; time until recorded, then until caught up; stop them.

    A budget overrun raises nothing: the times stay ``None`` and ``recorded`` says how far it got. With
    ``cpu_roots`` (``bench.cpu.roots_of``) the CPU of every process of the benchmark is read before the first
    engine starts and once the store is caught up, before any engine stops (start-up included).
    """
    ends = end_offsets(settings)
    messages = sum(ends.values())
    before = cpu_by_process(cpu_roots) if cpu_roots is not None else None
    engines = [EngineProcess(settings, logs / f"{label}-1.log", command)]
    watcher = None
    try:
        started = engines[0].wait_running()
        for n in range(2, processes + 1):  # one after the other: two first starts would race to create the tables
            engines.append(EngineProcess(settings, logs / f"{label}-{n}.log", command))
            engines[-1].wait_running()
        watcher = Watcher(settings)
        store = e2e = None
        recorded = 0
        while time.perf_counter() < started + budget:
            for engine in engines:
                engine.sample_memory()
                if not engine.alive:
                    raise BenchError(f"orderflow run exited with {engine.popen.returncode}; log: {engine.log_path}")
            if store is None:
                recorded = watcher.recorded(ends)
                if recorded >= messages:
                    store = time.perf_counter() - started
            if store is not None and watcher.caught_up():
                e2e = time.perf_counter() - started
                break
            time.sleep(poll)
        cpu = (spent_per_message(before, cpu_by_process(cpu_roots), messages)
               if before is not None and cpu_roots is not None and e2e is not None else None)
        return RunTimes(messages=messages, store_seconds=store, e2e_seconds=e2e, events=watcher.head(),
                        peak_rss_mib=max(e.peak_rss_kib for e in engines) / 1024, recorded=recorded, budget=budget,
                        cpu=cpu)
    finally:
        for engine in engines:
            engine.stop()
        if watcher is not None:
            watcher.close()


def topic(settings: Settings, kind: str) -> str:
    """The inbound topic of a topic kind (``storefront`` or ``erp``, as :func:`orderflow.traffic.simulate.traffic` names them)."""
    if kind not in PRODUCERS:
        raise BenchError(f"unknown topic kind {kind!r}")
    return settings.topics.storefront if kind == "storefront" else settings.topics.erp


def publish(settings: Settings, messages: list[tuple[str, Envelope]]) -> int:
    """Publish ``(topic kind, envelope)`` pairs as the simulator does (the setup first); wait for every ack."""
    producer = make_producer(settings)
    try:
        for kind, envelope in messages:
            producer.send(topic(settings, kind), key=envelope.key.encode(), value=envelope.value(),
                          headers=envelope.headers())
            if envelope.message_type == "order_taking_configured":
                producer.flush()  # the setup goes first: the orders are taken under it
        producer.flush()
    finally:
        producer.close()
    return len(messages)


def wait_for(done: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)
