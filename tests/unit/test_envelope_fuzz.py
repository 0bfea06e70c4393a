"""Random keys, headers and values against the strict envelope and the contract: a message or a bounded, specific refusal."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from orderflow.contract.envelope import BadEnvelope, Envelope, decode
from orderflow.contract.schemas import MAX_REASON, Contract, ContractViolation
from orderflow.settings import Settings
from tests.messages import EXAMPLES
from tests.strategies import SENTINEL, bad_records

CONTRACT = Contract(Settings().schema_dir)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bad_records(EXAMPLES))
def test_any_record_gives_a_valid_message_or_a_short_specific_reason_that_quotes_no_planted_value(record):
    key, value, headers = record
    try:
        envelope = decode(key, value, headers)
        CONTRACT.validate(envelope.message_type, envelope.schema_version, envelope.payload)
    except (BadEnvelope, ContractViolation) as refused:
        reason = str(refused)
        assert reason.strip(), "a refusal always says why"
        assert len(reason) <= MAX_REASON
        assert SENTINEL not in reason
        assert SENTINEL[:12] not in reason
        assert not reason.rstrip().endswith(":"), "no generic reason with nothing after the colon"
    else:
        assert isinstance(envelope, Envelope)


ODD_HEADERS = [
    [("x-note", b"a\x00b")], [("message_id", b"m-1"), ("message_id", b"m-2")], [("x-note", b"1"), ("x-note", b"2")],
    [("message_id", bytearray(b"m-1"))], [(b"message_id", b"m-1")], [("message_id", b"m\x01")], [("x-note", b"\x01")],
    [("message_id", b"\xff")], [("x-note", b"x" * 1025)], [("x" * 1025, b"1")], [("message_id", None)],
    [("x-note", memoryview(b"1"))], [(7, b"1")], [("x-note", b"1")] * 65,
]


@pytest.mark.parametrize("headers", ODD_HEADERS)
def test_the_quick_header_check_leaves_every_odd_header_to_the_full_check(headers):
    from orderflow.contract import envelope as wire

    quick = wire._plain_headers(headers)
    try:
        full = wire._checked_headers(headers)
    except BadEnvelope:
        assert quick is None
    else:
        assert quick is None or quick == full


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bad_records(EXAMPLES))
def test_the_quick_checks_of_usual_records_accept_only_what_the_full_checks_accept(record):
    """The fast paths of decode (headers, a plain JSON payload) agree with the full checks whenever they decide."""
    from orderflow.contract import envelope as wire

    _, value, headers = record
    quick = wire._plain_headers(headers)
    if quick is not None:
        assert quick == wire._checked_headers(headers)
    if isinstance(value, bytes) and wire._plain_json(value):
        try:
            payload = wire._parse_json(value)
        except BadEnvelope:
            return
        assert wire._fine(payload, 1), "a plain JSON text holds nothing the full walk would refuse"
