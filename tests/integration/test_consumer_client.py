"""What the inbound loop relies on in kafka-python's consumer, on a real broker."""

from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.inbound import unparsed_partitions


def test_a_partition_whose_fetched_records_wait_unparsed_in_the_client_looks_caught_up_and_is_named(kafka_broker):
    """A poll that stops at ``max_records`` leaves the rest of the fetch response unparsed, and a partition's
    highwater is the one of its last *parsed* response: so it looks read to its end while its records wait in
    the client. ``unparsed_partitions`` names it (the merge then holds the other topic back)."""
    topic = f"client.{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topics([topic], partitions=2)
    servers = kafka_broker.bootstrap_servers
    a, b = TopicPartition(topic, 0), TopicPartition(topic, 1)
    producer = KafkaProducer(bootstrap_servers=servers)
    consumer = KafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                             fetch_min_bytes=40_000, fetch_max_wait_ms=5_000)
    try:
        consumer.assign([a, b])
        consumer.seek_to_beginning(a, b)

        def send_each(count: int) -> None:
            for partition in (0, 1):
                for _ in range(count):
                    producer.send(topic, value=b"x" * 5_000, partition=partition)
            producer.flush()

        def poll(max_records: int) -> dict:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                polled = consumer.poll(timeout_ms=500, max_records=max_records)
                if polled:
                    return polled
            raise AssertionError("nothing polled in 30 s")

        send_each(4)  # 40 kB: one response with both partitions
        read = 0
        while read < 8:
            read += sum(len(records) for records in poll(8 - read).values())
        assert consumer.highwater(a) == consumer.highwater(b) == 4 == consumer.position(a) == consumer.position(b)

        send_each(4)  # again one response with both; this poll parses one partition's part of it
        [first] = poll(1)
        other = b if first == a else a
        assert consumer.position(other) == consumer.highwater(other) == 4  # looks caught up ...
        assert unparsed_partitions(consumer) == {other}  # ... while its 4 records wait in the client
    finally:
        consumer.close()
        producer.close()
