"""Bad records through the pipeline: each is rejected with a bounded reason that quotes no value, and the partition goes on."""

from __future__ import annotations

import msgpack
import pytest
from kafka import TopicPartition

from orderflow.application.orders import Orders
from orderflow.consumers import handlers
from orderflow.consumers.dead_letters import Source
from orderflow.consumers.handlers import SETUP_KEY
from orderflow.consumers.pipeline import partition_for
from orderflow.contract.schemas import MAX_REASON
from tests.messages import EXAMPLES, KEY, envelope
from tests.unit.test_pipeline import PARTITIONS, TOPICS, Harness, as_records

SECRET = "anna.lind@example.com"


def run_records(*records: tuple[bytes, bytes | None, list]) -> tuple[Orders, Harness]:
    """Raw storefront records (key, value, headers) on their key's partition, then drained."""
    log: dict[TopicPartition, list[Source]] = {}
    for key, value, headers in records:
        tp = TopicPartition(TOPICS.storefront, partition_for(key, PARTITIONS))
        log.setdefault(tp, []).append(Source(tp.topic, tp.partition, len(log[tp]), key, value, headers))
    app = Orders("memory:")
    harness = Harness(app, log)
    harness.drain()
    return app, harness


def raw(message) -> tuple[bytes, bytes, list]:
    return message.key.encode(), message.value(), message.headers()


def test_a_record_with_a_null_header_is_rejected_by_name_and_the_next_message_applies():
    placed, comment = envelope("order_placed", 0), envelope("customer_comment", 1)
    key, value, headers = raw(comment)
    app, harness = run_records(raw(placed), (key, value, [*headers, ("traceparent", None)]),
                               raw(envelope("customer_comment", 2)))
    [rejection] = harness.rejections
    assert rejection.reason == "header traceparent has no value (null)"
    assert rejection.journal_entry(placed.occurred_at).headers["traceparent"] == ""
    assert len(app.get_order(KEY).comments) == 1


def test_a_duplicated_message_id_header_is_rejected_not_read_as_the_last_one():
    key, value, headers = raw(envelope("order_placed"))
    _, harness = run_records((key, value, [*headers, ("message_id", b"other")]))
    assert [r.reason for r in harness.rejections] == ["header message_id appears 2 times"]


def test_an_order_keyed_by_the_setup_key_is_rejected_naming_the_reserved_key():
    placed = envelope("order_placed", key=SETUP_KEY)
    _, harness = run_records(raw(placed))
    [rejection] = harness.rejections
    assert rejection.reason.startswith(f"the key {SETUP_KEY} is reserved for order_taking_configured")


def test_a_comment_keyed_by_the_setup_key_is_rejected_at_once_not_parked():
    _, harness = run_records(raw(envelope("customer_comment", key=SETUP_KEY)))
    [rejection] = harness.rejections
    assert "is reserved for order_taking_configured" in rejection.reason
    assert harness.pipeline.parking.arrived(SETUP_KEY) == []


def test_the_setup_itself_may_use_the_setup_key():
    setup = envelope("order_taking_configured")
    log = as_records([setup])
    harness = Harness(Orders("memory:"), log)
    harness.drain()
    assert harness.rejections == []


def test_a_megabyte_string_in_a_field_gives_a_short_reason_without_the_value():
    payload = {**EXAMPLES["customer_comment"], "text": SECRET * 40_000}
    _, harness = run_records(raw(envelope("order_placed", 0)), raw(envelope("customer_comment", 1, payload)))
    [rejection] = harness.rejections
    assert "/text: must be at most 2000 characters long (maxLength)" in rejection.reason
    assert SECRET not in rejection.reason and len(rejection.reason) <= MAX_REASON


def test_a_nul_character_in_a_name_is_rejected_naming_the_field_before_it_reaches_a_view():
    payload = {**EXAMPLES["order_placed"], "sell_to_customer_name": "Anna\x00Lind"}
    _, harness = run_records(raw(envelope("order_placed", payload=payload)))
    [rejection] = harness.rejections
    assert rejection.reason == "payload field /sell_to_customer_name contains a NUL character (U+0000), which text cannot store"


def test_an_unexpected_error_rejects_the_message_with_its_class_only(monkeypatch):
    def explode(app, message):
        raise ValueError(f"cannot handle {SECRET}" * 10_000)

    monkeypatch.setitem(handlers.HANDLERS, "customer_comment", explode)
    app, harness = run_records(raw(envelope("order_placed", 0)), raw(envelope("customer_comment", 1)))
    [rejection] = harness.rejections
    assert rejection.reason == "unexpected error: ValueError"
    assert rejection.error == "ValueError"


@pytest.mark.parametrize("version", [b"01", b"+1", "１".encode()])
def test_a_schema_version_not_written_canonically_is_rejected_not_read_as_1(version):
    key, value, headers = raw(envelope("order_placed"))
    headers = [(name, version if name == "schema_version" else raw_value) for name, raw_value in headers]
    _, harness = run_records((key, value, headers))
    [rejection] = harness.rejections
    assert rejection.reason.startswith("bad schema_version header")


def test_an_oversized_value_is_rejected_naming_the_limit_and_dead_lettered_cut():
    key, _, headers = raw(envelope("order_placed"))
    value = msgpack.packb({"customer_comment": SECRET * 60_000})
    _, harness = run_records((key, value, headers))
    [rejection] = harness.rejections
    assert rejection.reason == f"the value is {len(value)} bytes; the limit is 1048576 bytes (1 MiB)"
    _, cut, dlq_headers = rejection.dead_letter_record(envelope("order_placed").occurred_at)
    assert dict(dlq_headers)["dlq_truncated"] == b"true" and len(cut) < len(value)
