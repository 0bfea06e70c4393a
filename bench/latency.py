"""Publish→visible latency in ``web_orders`` at a steady rate.

A running, caught-up ``orderflow run`` receives the simulator's traffic at a
steady ``rate`` (each send scheduled at ``start + i / rate``, so a slow send
does not lower the rate after it). The ``web_orders`` table is polled every
``poll`` seconds for rows that changed (``position`` grew). A message counts
as visible once its order's row shows a ``last_change_at`` at or after the
message's ``occurred_at``: an order's messages carry increasing times, and the
row's time is that of the last event applied to it. Latency = the poll that
first saw it minus the moment just before ``send``; the poll interval bounds
its resolution.

A message that changes no row (one the engine rejects, say) becomes visible
only with its order's next change, or never: those are counted, not timed.

The sender plays the storefront and the ERP: by default a librdkafka producer
(confluent-kafka, as most shops' clients: Java's and librdkafka's) with its
defaults, a 5 ms linger included (in the latency: the clock starts before
``produce``), and the murmur2 partitioner ``docs/messages.md`` asks of it.
kafka-python's producer (``client="kafka-python"``, linger 0) costs this
2-core machine about 0.6 of a core at 1,000 msg/s, and the broker's handling of
its one request per record another 0.8: together more than orderflow itself, so
that what the row measured was the machine's saturation, not the engine.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from bench.harness import EngineProcess, Watcher, end_offsets, publish, topic, wait_for
from orderflow.kafka import make_producer
from orderflow.settings import Settings
from orderflow.traffic.simulate import traffic


@dataclass
class Latency:
    sent: int
    visible: int
    send_rate: float  # the rate achieved by the sender
    p50_ms: float | None
    p99_ms: float | None
    unseen: dict[str, int]  # message type -> how many never showed in web_orders


def measure_latency(settings: Settings, logs: Path, seconds: float, rate: float = 1000, seed: int = 13,
                    drain: float = 300, poll: float = 0.01, client: str = "librdkafka") -> Latency:
    """Stream ``seconds × rate`` messages into a running engine; return the publish→visible percentiles."""
    count = int(seconds * rate)
    messages = traffic(max(1, count // 8 + 10), seed)
    setup, stream = messages[:1], messages[1:count + 1]
    engine = EngineProcess(settings, logs / "latency.log")
    try:
        engine.wait_running()
        publish(settings, setup)
        watcher = Watcher(settings)
        try:
            ends = end_offsets(settings)
            wait_for(lambda: watcher.all_recorded(ends), 120, "the setup message to be recorded")
            return _stream_and_watch(settings, watcher, stream, rate, drain, poll, client)
        finally:
            watcher.close()
    finally:
        engine.stop()


def _sender(settings: Settings, client: str) -> tuple[Callable[..., None], Callable[[], None], Callable[[], None]]:
    """``produce(topic, key, value, headers)``, ``flush()`` and ``close()`` of the sending client."""
    if client == "kafka-python":
        producer = make_producer(settings, linger_ms=0)
        return (lambda name, key, value, headers: producer.send(name, key=key, value=value, headers=headers),
                producer.flush, producer.close)
    from confluent_kafka import Producer

    if settings.kafka_security.protocol.upper() != "PLAINTEXT":
        raise ValueError("the librdkafka sender speaks PLAINTEXT only: use client='kafka-python'")
    rd = Producer({"bootstrap.servers": settings.kafka_bootstrap, "partitioner": "murmur2_random",
                   "enable.idempotence": True, "acks": "all"})

    def produce(name: str, key: bytes, value: bytes, headers: list) -> None:
        rd.produce(name, value=value, key=key, headers=headers)
        rd.poll(0)

    return produce, lambda: rd.flush(60), lambda: None


def _stream_and_watch(settings: Settings, watcher: Watcher, stream: list, rate: float, drain: float,
                      poll: float, client: str = "librdkafka") -> Latency:
    """Send ``stream`` at ``rate`` from a thread while polling ``web_orders``; stop when all are seen or the
    engine has caught up with everything sent (what is still unseen then never will be), at most ``drain``
    seconds after the last send."""
    records = [(topic(settings, kind), e.key.encode(), e.value(), e.headers()) for kind, e in stream]
    pending: dict[str, deque] = defaultdict(deque)  # order key -> (occurred_at, index), in sending order
    for index, (_, envelope) in enumerate(stream):
        pending[envelope.key].append((envelope.occurred_at, index))
    sent_at: list[float | None] = [None] * len(stream)
    seen_at: list[float | None] = [None] * len(stream)
    produce, flush, close = _sender(settings, client)

    def send() -> None:
        start = time.perf_counter()
        for index, (name, key, value, headers) in enumerate(records):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent_at[index] = time.perf_counter()
            produce(name, key, value, headers)
        flush()

    sender = threading.Thread(target=send, name="steady-sender")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        sender.start()
        last_position, remaining = 0, len(stream)
        deadline = ends = None
        next_check = 0.0
        while remaining:
            if deadline is None and not sender.is_alive():
                deadline, ends = time.perf_counter() + drain, end_offsets(settings)
            if deadline is not None:
                if time.perf_counter() > deadline:
                    break
                if time.perf_counter() > next_check:  # caught up with all sent: a last poll, then stop
                    next_check = time.perf_counter() + 0.5
                    if watcher.all_recorded(ends) and watcher.caught_up():
                        deadline = 0.0
            rows = conn.execute("SELECT storefront_reference, last_change_at, position FROM web_orders "
                                "WHERE position > %s", (last_position,)).fetchall()
            now = time.perf_counter()
            for key, changed, position in rows:
                last_position = max(last_position, position)
                changed = changed if isinstance(changed, datetime) else datetime.fromisoformat(str(changed))
                queue = pending.get(key, ())
                while queue and queue[0][0] <= changed and sent_at[queue[0][1]] is not None:
                    seen_at[queue.popleft()[1]] = now
                    remaining -= 1
            time.sleep(poll)
        sender.join()
    close()
    unseen = Counter(envelope.message_type for (_, envelope), seen in zip(stream, seen_at, strict=True) if seen is None)
    latencies = sorted((seen - sent) * 1000 for sent, seen in zip(sent_at, seen_at, strict=True) if seen is not None)
    send_rate = len(stream) / (sent_at[-1] - sent_at[0]) if len(stream) > 1 else 0.0
    if len(latencies) < 2:
        return Latency(len(stream), len(latencies), send_rate, None, None, dict(unseen))
    centiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return Latency(len(stream), len(latencies), send_rate, statistics.median(latencies), centiles[98], dict(unseen))


def main(argv: list[str] | None = None) -> int:
    """Row 6 on its own: ``.venv/bin/python -m bench.latency --seconds 10`` (own services, logs in --out)."""
    import argparse
    import tempfile

    import structlog

    from bench.harness import Services
    from devservices.kafka_broker import KafkaBroker
    from devservices.postgres_server import PostgresServer

    parser = argparse.ArgumentParser(description="publish→visible latency at a steady rate, on its own services")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="where the engine's log goes (default: a temp dir)")
    parser.add_argument("--client", choices=("librdkafka", "kafka-python"), default="librdkafka")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    out = args.out or Path(tempfile.mkdtemp(prefix="orderflow-latency-"))
    out.mkdir(parents=True, exist_ok=True)
    with PostgresServer() as postgres, KafkaBroker() as broker:
        services = Services(postgres, broker, out)
        result = measure_latency(services.settings("latency"), out, args.seconds, rate=args.rate, client=args.client)
    print(f"sent {result.sent:,} at {result.send_rate:,.0f} msg/s, seen {result.visible:,}; "
          f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; engine log {out / 'latency.log'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
