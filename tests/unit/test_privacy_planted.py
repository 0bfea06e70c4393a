"""Nothing personal leaves by accident: known personal values planted in every kind of bad message.

Each bad record goes through the real :class:`~orderflow.consumers.pipeline.Pipeline`
(as ``test_pipeline.py`` feeds it, without Kafka). The planted values must not
appear in any log line (rendered through the engine's log processors, the same
ones ``orderflow run`` uses), in the ``dlq_reason``/``dlq_error`` headers of the
dead letter, or in the reason and error of the error-journal entry. (The record
itself, its key, headers and bytes, travels on unchanged in the dead letter and
the journal by design: it is the message; see docs/security.md.)
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
import structlog
from kafka import TopicPartition

from orderflow import logs
from orderflow.application.orders import Orders
from orderflow.consumers.dead_letters import Source
from orderflow.consumers.pipeline import Pipeline, partition_for
from orderflow.contract.envelope import JSON, Envelope
from orderflow.contract.schemas import Contract
from orderflow.settings import Topics
from tests.messages import EXAMPLES, T0, envelope

TOPICS = Topics()
PARTITIONS = 2
CONTRACT = Contract()

EMAIL = "planted.anna@example.com"
PHONE = "+46 70 999 11 22"
NAME = "Plantedina Lindqvist"
SSN = "19850101-9999"
ADDRESS = "Plantedgatan 12"
PLANTED = (EMAIL, PHONE, NAME, SSN, ADDRESS, "planted.anna", "Plantedina")


def _placed(**changes):
    payload = copy.deepcopy(EXAMPLES["order_placed"])
    payload.update(changes)
    return payload


def _record(topic: str, key: str | bytes | None, value: bytes | None, headers, partition: int | None = None) -> Source:
    raw_key = key.encode() if isinstance(key, str) else key
    if partition is None:
        partition = partition_for(raw_key or b"", PARTITIONS)
    return Source(topic, partition, 0, raw_key, value, headers)


def _of(message: Envelope, topic: str | None = None, partition: int | None = None, headers=None, value=None) -> Source:
    return _record(topic or TOPICS.storefront, message.key, message.value() if value is None else value,
                   message.headers() if headers is None else headers, partition)


def _headers(message: Envelope, **replace: str) -> list[tuple[str, bytes]]:
    found = dict((name, raw.decode()) for name, raw in message.headers())
    found.update(replace)
    return [(name, text.encode()) for name, text in found.items() if text is not None]


def bad_messages():
    """(kind, records): every record after the first ones that set the stage is rejected."""
    good = envelope("order_placed", key=EMAIL)
    yield "undecodable msgpack", [_of(good, value=b"\xc1" + f"{NAME} {EMAIL} {PHONE}".encode())]
    yield "undecodable json", [_of(good, headers=_headers(good, content_type=JSON),
                                   value=f'{{"email": "{EMAIL}", "name": {NAME}}}'.encode())]
    yield "missing header", [_of(good, headers=[(n, r) for n, r in good.headers() if n != "message_type"])]
    yield "bad occurred_at", [_of(good, headers=_headers(good, occurred_at=EMAIL))]
    yield "bad occurred_at, no zone", [_of(good, headers=_headers(good, occurred_at=f"2026-11-02T10:00 {NAME}"))]
    yield "bad schema_version", [_of(good, headers=_headers(good, schema_version=PHONE))]
    yield "unsupported content_type", [_of(good, headers=_headers(good, content_type=NAME))]
    yield "no key", [_record(TOPICS.storefront, None, good.value(), good.headers(), partition=0)]
    yield "unknown message type", [_of(good, headers=_headers(good, message_type=EMAIL))]
    for n, payload in enumerate([
        _placed(email=EMAIL * 4), _placed(phone=[PHONE]), _placed(order_date=EMAIL), _placed(customer_type=NAME),
        _placed(b2c_customer={"ssn_reg_no": SSN * 3, "name": 42}), _placed(**{EMAIL: PHONE}),
        _placed(shipping={"address": ADDRESS * 30, EMAIL: NAME}),
    ]):
        yield f"schema violation {n}", [_of(envelope("order_placed", key=EMAIL, payload=payload))]
    yield "misrouted: wrong topic", [_of(good, topic=TOPICS.erp)]
    yield "misrouted: wrong partition", [_of(good, partition=1 - partition_for(EMAIL.encode(), PARTITIONS))]
    placed = envelope("order_placed", key=EMAIL, payload=_placed(email=EMAIL, sell_to_customer_name=NAME))
    yield "duplicate order", [_of(placed), _of(envelope("order_placed", 1, key=EMAIL, payload=_placed(phone=PHONE)))]
    first = envelope("order_placed", key=EMAIL, message_id=EMAIL)
    yield "message id reused", [_of(first), _of(envelope("order_placed", 1, key=EMAIL, message_id=EMAIL,
                                                         payload=_placed(phone=PHONE)))]
    actor = {"user_type": "Web Account", "user_no": "WA-1", "person_name": NAME}
    yield "refused by the order", [_of(placed), _of(envelope("customer_approval", 1, key=EMAIL,
                                                             payload={"actor": actor}))]
    comment = envelope("customer_comment", 0, key=EMAIL, payload={"actor": actor, "text": f"call {PHONE}"})
    later = envelope("order_placed", 120, key="SF-OTHER", payload=_placed())
    yield "order never arrived", [_of(comment), _of(later)]


KINDS = list(bad_messages())


def run(records: list[Source]):
    """Feed the records to a pipeline that owns every partition; return its rejections and log lines."""
    app = Orders("memory:")
    pipeline = Pipeline(app, CONTRACT, TOPICS, 500, grace=timedelta(0), max_idle=timedelta(hours=1),
                        park_deadline=timedelta(minutes=30), clock=lambda: T0)
    every = [TopicPartition(t, p) for t in TOPICS.inbound for p in range(PARTITIONS)]
    pipeline.assign(every, PARTITIONS, now=0.0)
    rejections = []
    with structlog.testing.capture_logs(processors=getattr(logs, "PRIVACY", [])) as lines:
        for n, record in enumerate(records):
            record = Source(record.topic, record.partition, n, record.key, record.value, record.headers)
            pipeline.add({TopicPartition(record.topic, record.partition): [record]}, now=0.0)
            while pipeline.step(lambda tp: True, 0.0, rejections.extend):
                pass
    return rejections, lines


def leaks(rejections, lines) -> list[str]:
    """Where a planted value shows: ``place: value``."""
    found = []
    places = {f"log {n}": json.dumps(line, default=str) for n, line in enumerate(lines)}
    for n, rejection in enumerate(rejections):
        headers = dict(rejection.dead_letter_headers(T0))
        entry = rejection.journal_entry(T0)
        places[f"dlq_reason {n}"] = headers["dlq_reason"].decode()
        places[f"dlq_error {n}"] = headers["dlq_error"].decode()
        places[f"journal reason {n}"] = entry.reason
        places[f"journal error {n}"] = entry.error
    for place, text in places.items():
        found += [f"{place}: {value}" for value in PLANTED if value in text]
    return found


@pytest.mark.parametrize("kind, records", KINDS, ids=[kind for kind, _ in KINDS])
def test_a_planted_personal_value_shows_in_no_log_line_dead_letter_reason_or_journal_reason(kind, records):
    rejections, lines = run(records)
    assert rejections, "the bad message is rejected"
    assert leaks(rejections, lines) == []


def test_the_planted_records_are_rejected_with_reasons_that_name_what_is_wrong():
    reasons = {kind: run(records)[0][-1].reason for kind, records in KINDS}
    assert "occurred_at" in reasons["bad occurred_at"]
    assert "schema_version" in reasons["bad schema_version"]
    assert "content_type" in reasons["unsupported content_type"]
    assert "/email: must be at most 80 characters long" in reasons["schema violation 0"]
    assert "partition" in reasons["misrouted: wrong partition"]
    assert "already placed" in reasons["duplicate order"]
    assert "never arrived" in reasons["order never arrived"]
