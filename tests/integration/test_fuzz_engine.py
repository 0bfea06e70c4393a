"""A Hypothesis fuzz of bad records against the real engine: Kafka, PostgreSQL and an in-process inbound consumer.

Each example publishes a few bad records (``tests.strategies.bad_records``:
null, duplicated and oversized headers, non-canonical versions, oversized
keys and values up to the broker's limit, NUL characters, deep nesting,
wrong types, unknown types, planted personal values), each to a topic and an
explicit partition drawn for it (its own, the other topic, or a partition
its key does not hash to), with kafka-python's plain producer, and the next
slice of a small valid traffic; then the consumer polls until every record
is recorded. Every bad record must have exactly one error-journal row with a
specific reason of at most 1,000 characters that quotes no planted value.
After the last example the rest of the valid traffic is published: the
consumer is still alive and applies it, and every valid order ends with the
history a run of the valid traffic alone gives it.

``ORDERFLOW_FUZZ_EXAMPLES`` (default 30) sets the number of examples; a
larger run also shrinks a failing example: see docs/reliability.md.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable
from itertools import islice

from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.record.default_records import DefaultRecordBatchBuilder

from orderflow.consumers.pipeline import partition_for
from orderflow.contract.envelope import decode
from orderflow.contract.schemas import MAX_REASON
from orderflow.traffic.simulate import traffic
from tests.integration.engine import consume_until, isolated_settings, read_topic, start_engine
from tests.integration.processes import assert_read_models_equal_a_rebuild, end_offsets, outcome, publish_traffic
from tests.messages import EXAMPLES
from tests.strategies import SENTINEL, bad_records

EXAMPLES_RUN = int(os.environ.get("ORDERFLOW_FUZZ_EXAMPLES", "30"))
PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if EXAMPLES_RUN > 30 else [])
VALID_ORDERS, SEED = 6, 20261130
PARTITIONS = 4
BROKER_LIMIT = 1_048_588  # the broker's default message.max.bytes: a record batch up to this size is accepted

class NullHeader(bytes):
    """Stands for a header whose value is null: kafka-python's ``send`` takes only bytes, its record builder None too."""


NULL = NullHeader(b"")


def with_null_headers(monkeypatch) -> None:
    """Let the producer write :data:`NULL` header values as null, as other clients (Java, librdkafka) can."""
    append = DefaultRecordBatchBuilder.append

    def patched(self, offset, timestamp, key, value, headers, **kwargs):
        headers = [(name, None if isinstance(v, NullHeader) else v) for name, v in headers]
        return append(self, offset, timestamp, key, value, headers, **kwargs)

    monkeypatch.setattr(DefaultRecordBatchBuilder, "append", patched)


routing = st.tuples(st.sampled_from(["storefront", "erp"]), st.sampled_from(["home", "home", "other"]),
                    st.integers(1, PARTITIONS - 1))
"""The topic a record is sent to, whether to the partition its key hashes to, and if not how many partitions off."""


def consumed_all(engine, settings) -> Callable[[], bool]:
    """True once the database records every inbound partition's position up to its end offset of now."""
    ends = end_offsets(settings)
    return lambda: all(engine.app.position(name) == end - 1 for name, end in ends.items() if end)


ENGINE_CODE = {"orderflow", "kafka", "eventsourcing", "psycopg", "psycopg_pool", "msgpack", "jsonschema", "structlog"}


def retained_mb(snapshot: tracemalloc.Snapshot) -> dict[str, float]:
    """MB still allocated, by the package whose code allocated it (the innermost frame): site-packages by name,
    this project's code as ``orderflow`` (``src/orderflow``, ``consumers``), the tests, the rest as ``stdlib``."""
    by: Counter = Counter()
    for stat in snapshot.statistics("filename"):
        path = stat.traceback[0].filename
        if "site-packages/" in path:
            who = path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        elif "/tests/" in path:
            who = "tests"
        elif "/src/orderflow/" in path or "/consumers/" in path:
            who = "orderflow"
        else:
            who = "stdlib"
        by[who] += stat.size
    return {who: round(size / 2**20, 1) for who, size in by.most_common() if size >= 2**16}


def resident_mb() -> float:
    """The resident memory of this process now (not its peak), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def valid_by_contract(engine, key, value, headers) -> bool:
    try:
        envelope = decode(key, value, headers)
        engine.contract.validate(envelope.message_type, envelope.schema_version, envelope.payload)
    except Exception:  # noqa: BLE001 - anything the envelope or the contract refuses
        return False
    return True


def reference_outcome(postgres_server, kafka_broker, messages):
    """The valid traffic alone, consumed the same way on its own database and topics."""
    settings = isolated_settings(postgres_server.create_database(f"fuzzref_{uuid.uuid4().hex[:12]}"),
                                 kafka_broker.bootstrap_servers)
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    try:
        publish_traffic(settings, messages)
        consume_until(consumer, consumed_all(engine, settings), timeout=120)
    finally:
        consumer.close()
        engine.close()
    return outcome(settings.database_url)


def test_bad_records_among_valid_traffic_are_each_refused_once_with_a_specific_reason_and_change_no_valid_order(
    postgres_server, kafka_broker, monkeypatch
):
    with_null_headers(monkeypatch)
    messages = traffic(VALID_ORDERS, SEED)
    reference = reference_outcome(postgres_server, kafka_broker, messages)
    settings = isolated_settings(postgres_server.create_database(f"fuzz_{uuid.uuid4().hex[:12]}"),
                                 kafka_broker.bootstrap_servers)
    engine = start_engine(settings)
    consumer = engine.inbound_consumer()
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=BROKER_LIMIT + 4096)
    valid = iter(messages)
    counts = {"examples": 0, "bad sent": 0, "with a null header": 0, "largest sent": 0, "rejected": 0}
    unpublishable: Counter = Counter()  # why the client or the broker refused a drawn record
    rss: list[float] = []  # the process's resident memory after each example, MB

    def send(topic, partition, key, value, headers):
        """The record's (topic, partition, offset), or None if the client or the broker refuses it (too large, ...)."""
        headers = [(name, NULL if v is None else v) for name, v in headers]
        try:
            meta = producer.send(topic, key=key, value=value, headers=headers, partition=partition).get(timeout=30)
        except (KafkaError, ValueError, TypeError, UnicodeError, AssertionError) as refused:
            unpublishable[type(refused).__name__] += 1
            return None
        counts["with a null header"] += any(v is NULL for _, v in headers)
        counts["largest sent"] = max(counts["largest sent"], meta.serialized_value_size + max(meta.serialized_key_size, 0)
                                     + meta.serialized_header_size)
        return meta.topic, meta.partition, meta.offset

    big = SENTINEL * (1_040_000 // len(SENTINEL))

    @fuzz_settings(max_examples=EXAMPLES_RUN, deadline=None, phases=PHASES, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(st.lists(st.tuples(bad_records(EXAMPLES), routing), min_size=1, max_size=4))
    @example([((b"SF-1", b'{"text": "' + big.encode() + b'"}', [("content_type", b"application/json")]), ("storefront", "home", 1))])
    @example([((b"SF-1", b"{}", [("message_id", None), ("message_type", b"order_placed")]), ("storefront", "home", 1))])
    @example([((big[:300_000].encode(), b"x", [("message_id", b"m-2"), ("message_type", b"order_placed")]), ("storefront", "home", 1))])
    @example([((b"SF-1", b"x", [("producer", big[:600_000].encode()), ("message_type", b"order_placed")]), ("erp", "home", 1))])
    def fuzz(drawn):
        counts["examples"] += 1
        sent = []
        for (key, value, headers), (kind, where, shift) in drawn:
            home = partition_for(key or b"", PARTITIONS)
            topic = settings.topics.erp if kind == "erp" else settings.topics.storefront
            partition = home if where == "home" else (home + shift) % PARTITIONS
            if partition == home and valid_by_contract(engine, key, value, headers):
                # A valid record on its own partition applies (or, its id seen before, is ignored as a duplicate):
                # on another partition it is a misrouted one, refused whatever its topic.
                partition = (home + shift) % PARTITIONS
            landed = send(topic, partition, key, value, headers)
            if landed is not None:
                sent.append(landed)
        publish_traffic(settings, list(islice(valid, 3)))
        consume_until(consumer, consumed_all(engine, settings), timeout=60)
        engine.projections.catch_up()
        for topic, partition, offset in sent:
            rows = engine.db.query(
                "SELECT reason FROM error_journal WHERE topic = ? AND partition = ? AND record_offset = ?",
                [topic, partition, offset],
            )
            assert len(rows) == 1, f"{len(rows)} error-journal rows for the bad record at {topic}:{partition}@{offset}"
            reason = rows[0][0]
            assert reason.strip() and len(reason) <= MAX_REASON, reason
            assert SENTINEL not in reason and SENTINEL[:12] not in reason, reason
            assert not reason.rstrip().endswith(":"), reason
        counts["bad sent"] += len(sent)
        gc.collect()
        rss.append(resident_mb())

    tracemalloc.start()
    try:
        fuzz()
        rest = list(valid)
        publish_traffic(settings, rest)  # the consumer is alive: what follows the fuzz is applied
        consume_until(consumer, consumed_all(engine, settings), timeout=120)
        gc.collect()
        retained = retained_mb(tracemalloc.take_snapshot())  # what the live objects took, by who allocated it
    finally:
        tracemalloc.stop()
        producer.close()
        consumer.close()
        engine.close()
    dead_letters = read_topic(settings.kafka_bootstrap, settings.topics.dead_letters, expected=counts["bad sent"])
    early = sorted(rss[:10])[len(rss[:10]) // 2]  # once the first examples' large values are in use
    actual = outcome(settings.database_url)
    counts.update(rejected=actual.rejected, valid=len(messages), recorded=len(actual.receipts),
                  lost=len(set(reference.receipts) - set(actual.receipts)),
                  doubled=sum(c - 1 for c in actual.by_record.values() if c > 1),
                  reordered=sum(actual.event_log.get(ref) != rows for ref, rows in reference.event_log.items()),
                  dead_letters=len(dead_letters), rss_mb=f"{early:.0f} early, {max(rss):.0f} at most, {rss[-1]:.0f} at the end",
                  retained_mb=retained)
    print("engine fuzz:", counts, "not publishable:", dict(unpublishable))
    assert reference.rejected == 0 and len(reference.receipts) == len(messages), "the valid traffic alone was not all applied"
    assert counts["bad sent"] > counts["examples"] // 2, "hardly any bad record reached the broker"
    assert actual.rejected == counts["bad sent"], "a valid message was rejected, or a bad one applied"
    assert len(dead_letters) == counts["bad sent"], "a bad record was not dead-lettered, or twice"
    assert set(actual.receipts) == set(reference.receipts) and counts["doubled"] == 0
    assert actual.event_counts == reference.event_counts
    assert actual.web_orders == reference.web_orders
    assert actual.event_log == reference.event_log, "a valid order's history differs from the valid traffic's alone"
    # The process's memory also holds Hypothesis's record of every example drawn (hundreds of MB over hundreds of
    # examples of this strategy, measured alone): what the engine's code and its libraries still hold is the bound.
    engine_mb = sum(mb for who, mb in retained.items() if who in ENGINE_CODE)
    assert engine_mb < 100, f"the engine holds {engine_mb:.0f} MB after the fuzz: {retained}"
    assert_read_models_equal_a_rebuild(settings.database_url, actual)
