"""Dead letters and the error journal are bounded: a reason never quotes a value, an oversized record is cut, never lost."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from kafka.errors import MessageSizeTooLargeError

from orderflow.consumers.dead_letters import (
    MAX_JOURNAL_VALUE_BYTES,
    MAX_RECORD_BYTES,
    MIN_RECORD_BYTES,
    DeadLetterTopic,
    Rejection,
    Source,
    bounded_reason,
    record_size,
    unexpected_reason,
)
from orderflow.contract.schemas import MAX_REASON

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = "anna.lind@example.com"
HEADERS = [("message_id", b"m1"), ("message_type", b"order_placed"), ("schema_version", b"1"),
           ("occurred_at", b"2026-11-02T09:00:00Z")]


def rejection(key: bytes | None = b"SF-1", value: bytes | None = b"\x80", headers=None, reason: str = "bad") -> Rejection:
    source = Source("orderflow.storefront.v1", 0, 7, key, value, HEADERS if headers is None else headers)
    return Rejection(source, reason, "BadEnvelope")


# -- a null header value ----------------------------------------------------------------------------


def test_a_null_header_value_does_not_break_the_source_the_journal_or_the_dead_letter_headers():
    bad = rejection(headers=[*HEADERS, ("producer", None)])
    assert ["producer", ""] in bad.source.to_dict()["headers"]
    assert ("producer", b"") in bad.dead_letter_headers(AT)
    assert bad.journal_entry(AT).headers["producer"] == ""


def test_a_nul_character_in_a_key_or_header_never_reaches_the_journal_text():
    entry = rejection(key=b"SF\x00-1", headers=[("producer", b"p\x00")]).journal_entry(AT)
    assert "\x00" not in entry.key and "\x00" not in entry.headers["producer"]


# -- reasons ---------------------------------------------------------------------------------------------


def test_a_rejection_reason_is_cut_to_the_bound_whoever_wrote_it():
    bad = rejection(reason="x" * 1_000_000)
    assert len(bad.reason) == MAX_REASON
    assert len(bad.journal_entry(AT).reason) == MAX_REASON
    assert len(dict(bad.dead_letter_headers(AT))["dlq_reason"].decode()) == MAX_REASON


def test_a_reason_holds_no_nul_character():
    assert "\x00" not in bounded_reason("a\x00b")


@pytest.mark.parametrize(("error", "reason"), [
    (KeyError("lines"), "unexpected error: KeyError (field lines)"),
    (KeyError(SECRET), "unexpected error: KeyError"),
    (ValueError(SECRET * 50_000), "unexpected error: ValueError"),
    (TypeError(f"can't compare {SECRET!r}"), "unexpected error: TypeError"),
])
def test_an_unexpected_error_gives_its_class_and_a_field_name_but_never_its_text(error, reason):
    assert unexpected_reason(error) == reason


# -- oversized records ---------------------------------------------------------------------------------


def test_a_record_within_the_limit_is_dead_lettered_unchanged():
    key, value, headers = rejection(value=b"v" * 1000).dead_letter_record(AT)
    assert (key, value) == (b"SF-1", b"v" * 1000)
    assert "dlq_truncated" not in dict(headers)


def test_a_two_megabyte_value_is_dead_lettered_cut_to_the_limit_with_its_original_size_and_reason():
    big = rejection(value=b"v" * 2_000_000, reason="the value is 2000000 bytes; the limit is 1048576 bytes (1 MiB)")
    key, value, headers = big.dead_letter_record(AT)
    found = dict(headers)
    assert record_size(key, value, headers) <= MAX_RECORD_BYTES
    assert value == b"v" * len(value) and len(value) > 900_000
    assert found["dlq_truncated"] == b"true"
    assert found["dlq_original_size"] == str(big.source.size).encode()
    assert found["dlq_reason"].startswith(b"the value is 2000000 bytes")
    assert found["message_id"] == b"m1"


def test_a_600_kilobyte_header_and_a_huge_key_are_cut_too():
    big = rejection(key=b"K" * 300_000, headers=[*HEADERS, ("producer", b"p" * 600_000)], value=b"v" * 600_000)
    key, value, headers = big.dead_letter_record(AT)
    assert record_size(key, value, headers) <= MAX_RECORD_BYTES
    assert len(key) == 256 and len(dict(headers)["producer"]) == 1024
    assert dict(headers)["dlq_truncated"] == b"true"


class FakeProducer:
    """Accepts records up to ``limit`` bytes; larger ones fail in ``send`` (producer) or in the future (broker)."""

    def __init__(self, limit: int, where: str):
        self.limit, self.where, self.sent = limit, where, []

    def send(self, topic, key=None, value=None, headers=None):
        too_large = record_size(key, value, headers) > self.limit
        if too_large and self.where == "producer":
            raise MessageSizeTooLargeError("too large")
        if not too_large:
            self.sent.append((key, value, headers))
        return FakeFuture(too_large)

    def flush(self):
        pass


class FakeFuture:
    def __init__(self, fails: bool):
        self.fails = fails

    def get(self, timeout=None):
        if self.fails:
            raise MessageSizeTooLargeError("broker refused")


@pytest.mark.parametrize("where", ["producer", "broker"])
def test_a_dead_letter_the_topic_refuses_as_too_large_is_sent_again_cut_smaller_never_dropped(where):
    producer = FakeProducer(limit=100_000, where=where)
    DeadLetterTopic(producer, "dlq").publish([rejection(value=b"v" * 500_000), rejection(value=b"ok")], AT)
    assert len(producer.sent) == 2
    small = next(sent for sent in producer.sent if dict(sent[2]).get("dlq_truncated"))
    assert record_size(*small) <= MIN_RECORD_BYTES


def test_a_dead_letter_within_the_limit_is_published_as_is():
    producer = FakeProducer(limit=MAX_RECORD_BYTES, where="broker")
    DeadLetterTopic(producer, "dlq").publish([rejection(value=b"v" * 10)], AT)
    [(key, value, headers)] = producer.sent
    assert (key, value) == (b"SF-1", b"v" * 10) and dict(headers)["dlq_reason"] == b"bad"


# -- the journal --------------------------------------------------------------------------------------------


def test_the_journal_keeps_at_most_256_kib_of_a_value_and_says_it_cut_it():
    big = rejection(value=b"v" * 1_000_000)
    entry = big.journal_entry(AT)
    assert len(base64.b64decode(entry.value_b64)) == MAX_JOURNAL_VALUE_BYTES
    assert entry.headers["dlq_truncated"] == "true"
    assert entry.headers["dlq_original_size"] == str(big.source.size)


def test_the_journal_keeps_a_small_value_whole_and_unmarked():
    entry = rejection(value=b"small").journal_entry(AT)
    assert base64.b64decode(entry.value_b64) == b"small"
    assert "dlq_truncated" not in entry.headers
