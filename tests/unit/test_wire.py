"""The envelope on the wire: what a producer sends is what the consumer reads, and nothing else gets in."""

import json
from datetime import UTC, datetime

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderflow.contract.envelope import (
    JSON,
    MAX_DEPTH,
    MAX_HEADER_BYTES,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    MSGPACK,
    TIME_RANGE,
    BadEnvelope,
    Envelope,
    decode,
)

text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
payloads = st.dictionaries(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**31), 2**31) | text,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=10,
    ),
    max_size=5,
)
envelopes = st.builds(
    Envelope,
    key=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(str.strip),
    message_id=st.uuids().map(str),
    message_type=st.sampled_from(["order_placed", "customer_comment", "shipment_posted"]),
    occurred_at=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)),
    payload=payloads,
    schema_version=st.integers(1, 9),
    producer=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10),
    content_type=st.sampled_from([MSGPACK, JSON]),
)
SECRET = "anna.lind@example.com"


def roundtrip(envelope: Envelope) -> Envelope:
    return decode(envelope.key.encode(), envelope.value(), envelope.headers())


@given(envelopes)
def test_every_envelope_survives_the_wire_round_trip(envelope):
    assert roundtrip(envelope) == envelope


def test_times_on_the_wire_are_utc_with_a_z():
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    envelope = Envelope(key="SF-1", message_id="m1", message_type="order_placed", occurred_at=at, payload={})
    assert ("occurred_at", b"2026-11-02T09:30:00Z") in envelope.headers()


def headers(**overrides):
    values = {"message_id": "m1", "message_type": "order_placed", "schema_version": "1",
              "occurred_at": "2026-11-02T09:30:00Z", **overrides}
    return [(k, v.encode()) for k, v in values.items() if v is not None]


def reason_of(key=b"SF-1", value=None, hdrs=None) -> str:
    with pytest.raises(BadEnvelope) as raised:
        decode(key, msgpack.packb({}) if value is None else value, headers() if hdrs is None else hdrs)
    return str(raised.value)


@pytest.mark.parametrize(
    ("key", "value", "hdrs", "reason"),
    [
        (b"SF-1", b"\xc1", headers(), "undecodable application/msgpack payload: not msgpack"),
        (b"SF-1", msgpack.packb([1, 2]), headers(), "the payload must be a map, not an array"),
        (None, msgpack.packb({}), headers(), "has no key"),
        (b"SF-1", msgpack.packb({}), headers(message_id=None), "missing headers: message_id"),
        (b"SF-1", msgpack.packb({}), headers(occurred_at="yesterday"), "bad occurred_at header: must be ISO 8601"),
        (b"SF-1", msgpack.packb({}), headers(occurred_at="2026-11-02T09:30:00"), "with seconds and a UTC offset"),
        (b"SF-1", msgpack.packb({}), headers(schema_version="one"), "bad schema_version"),
        (b"SF-1", b"{}", headers(content_type="text/xml"), "unsupported content_type"),
        (b"SF-1", b"{not json", headers(content_type=JSON), "undecodable application/json payload: Expecting"),
        (b"SF-1", None, headers(), "has no value"),
    ],
)
def test_a_record_that_is_not_an_orderflow_message_is_refused_with_its_reason(key, value, hdrs, reason):
    with pytest.raises(BadEnvelope, match=reason):
        decode(key, value, hdrs)


# -- headers: each of ours once, present, canonical, bounded -------------------------------------------


@pytest.mark.parametrize("name", ["message_id", "message_type", "schema_version", "occurred_at", "content_type", "producer"])
def test_a_header_of_ours_sent_twice_is_refused_by_name(name):
    value = {"content_type": MSGPACK, "producer": "p"}.get(name)
    hdrs = headers(**({name: value} if value else {}))
    duplicate = next(raw for header, raw in hdrs if header == name)
    assert reason_of(hdrs=[*hdrs, (name, duplicate)]) == f"header {name} appears 2 times"


@pytest.mark.parametrize("name", ["message_id", "occurred_at", "producer", "traceparent"])
def test_a_header_whose_value_is_null_is_refused_by_name_not_a_crash(name):
    assert reason_of(hdrs=[*headers(), (name, None)] if name not in dict(headers()) else
                     [(n, None if n == name else v) for n, v in headers()]) == f"header {name} has no value (null)"


@pytest.mark.parametrize("version", ["01", " 1", "1 ", "+1", "-1", "0", "１", "1.0", "1e0", "٣", ""])
def test_a_schema_version_not_written_canonically_is_refused(version):
    assert reason_of(hdrs=headers(schema_version=version)).startswith("bad schema_version header: must be a whole number")


def test_a_canonical_schema_version_is_read_as_a_number():
    assert decode(b"SF-1", msgpack.packb({}), headers(schema_version="12")).schema_version == 12


def test_a_header_over_its_size_limit_is_refused_naming_the_header_and_the_limit():
    reason = reason_of(hdrs=headers(producer=SECRET * 30_000))
    assert reason == f"header producer is {len(SECRET) * 30_000} bytes; the limit is {MAX_HEADER_BYTES} bytes"


def test_a_message_id_longer_than_128_characters_is_refused():
    assert "1..128 visible ASCII characters" in reason_of(hdrs=headers(message_id="m" * 129))
    assert decode(b"SF-1", msgpack.packb({}), headers(message_id="m" * 128)).message_id == "m" * 128


def test_a_message_type_that_is_not_a_snake_case_name_is_refused_without_quoting_it():
    reason = reason_of(hdrs=headers(message_type=SECRET))
    assert "snake_case" in reason and SECRET not in reason


def test_a_header_that_is_not_utf8_is_refused_naming_which():
    assert reason_of(hdrs=[*headers(), ("producer", b"\xff\xfe")]) == "header producer is not UTF-8"


def test_a_header_with_a_nul_character_is_refused_naming_which():
    assert "header message_id contains a control character" in reason_of(hdrs=headers(message_id="m\x001"))
    assert reason_of(hdrs=[*headers(), ("traceparent", b"a\x00b")]) == "header traceparent contains a NUL character (U+0000)"


def test_a_header_name_that_is_no_name_is_not_quoted():
    assert reason_of(hdrs=[*headers(), (SECRET, None)]) == "header * has no value (null)"


def test_too_many_headers_are_refused_with_the_limit():
    assert "the limit is 64" in reason_of(hdrs=[*headers(), *[(f"h{n}", b"x") for n in range(61)]])


# -- the key --------------------------------------------------------------------------------------------


def test_a_key_over_256_bytes_is_refused_with_the_limit():
    assert reason_of(key=b"K" * 257) == f"the key is 257 bytes; the limit is {MAX_KEY_BYTES} bytes"


def test_a_key_that_is_not_utf8_is_refused_naming_the_key():
    assert reason_of(key=b"SF-\xff") == "the key is not UTF-8"


def test_a_key_with_a_control_character_is_refused():
    assert "the key contains a control character" in reason_of(key=b"SF\x00-1")


# -- occurred_at -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "1970-01-01T00:00:00Z",
                                "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2000-01-01T00:30:00+01:00"])
def test_an_occurred_at_outside_the_sane_range_is_refused_naming_the_range(at):
    assert reason_of(hdrs=headers(occurred_at=at)) == f"bad occurred_at header: must be within {TIME_RANGE}"


@pytest.mark.parametrize("at", ["2026-11-02T09:30:00", "2026-11-02 09:30:00Z", "２０２６-11-02T09:30:00Z",
                                "2026-11-02T09:30Z", "2026-W45-1T09:30:00Z", " 2026-11-02T09:30:00Z"])
def test_an_occurred_at_that_is_not_iso_8601_with_an_offset_is_refused(at):
    assert "must be ISO 8601 with seconds and a UTC offset" in reason_of(hdrs=headers(occurred_at=at))


def test_an_occurred_at_that_is_no_real_day_is_refused():
    assert reason_of(hdrs=headers(occurred_at="2026-02-30T09:30:00Z")) == "bad occurred_at header: is not a valid date and time"


@pytest.mark.parametrize(("at", "utc"), [
    ("2026-11-02T10:30:00+01:00", datetime(2026, 11, 2, 9, 30, tzinfo=UTC)),
    ("2026-11-02T09:30:00.123456789Z", datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC)),
    ("2026-11-02T09:30:00.5+00:00", datetime(2026, 11, 2, 9, 30, 0, 500000, tzinfo=UTC)),
])
def test_an_occurred_at_with_an_offset_or_nanoseconds_is_read_as_utc(at, utc):
    assert decode(b"SF-1", msgpack.packb({}), headers(occurred_at=at)).occurred_at == utc


# -- the value and the payload --------------------------------------------------------------------------


def test_a_value_over_one_mebibyte_is_refused_before_it_is_decoded():
    value = msgpack.packb({"text": SECRET * 60_000})
    assert reason_of(value=value) == f"the value is {len(value)} bytes; the limit is {MAX_VALUE_BYTES} bytes (1 MiB)"


def test_a_deeply_nested_msgpack_payload_is_refused_with_the_depth_limit():
    assert "nested deeper" in reason_of(value=b"\x81\xa1a" * 100_000 + b"\x01")
    decode(b"SF-1", msgpack.packb(_nest(MAX_DEPTH)), headers())
    path = "/a" * MAX_DEPTH
    expected = f"payload field {path} is nested deeper than {MAX_DEPTH} levels of maps and arrays"
    assert reason_of(value=msgpack.packb(_nest(MAX_DEPTH + 1))) == expected


def _nest(levels: int) -> dict:
    nested: dict = {"a": 1}
    for _ in range(levels - 1):
        nested = {"a": nested}
    return nested


def test_a_deeply_nested_json_payload_is_refused_not_a_recursion_error():
    reason = reason_of(value=b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", hdrs=headers(content_type=JSON))
    assert "nested deeper" in reason


def test_a_json_number_of_forty_digits_is_refused_by_name():
    reason = reason_of(value=b'{"amount":' + b"9" * 40 + b"}", hdrs=headers(content_type=JSON))
    assert "a number has more digits than a 64-bit integer" in reason and "9" * 10 not in reason


@pytest.mark.parametrize("number", [b"1e400", b"NaN", b"Infinity", b"-Infinity", b"0." + b"1" * 50])
def test_a_json_number_that_is_no_finite_value_is_refused(number):
    assert "undecodable application/json payload" in reason_of(value=b'{"amount":' + number + b"}", hdrs=headers(content_type=JSON))


def test_a_msgpack_map_with_a_number_as_key_is_refused_naming_it():
    reason = reason_of(value=msgpack.packb({"lines": [{1: "x"}]}))
    assert reason == "undecodable application/msgpack payload: a map key is not a string"


def test_a_json_payload_that_is_not_utf8_is_refused():
    assert reason_of(value=b'{"a":"\xff"}', hdrs=headers(content_type=JSON)) == "undecodable application/json payload: not UTF-8"


def test_a_msgpack_string_that_is_not_utf8_is_refused():
    assert reason_of(value=b"\x81\xa1a\xa2\xff\xfe") == "undecodable application/msgpack payload: a string is not UTF-8"


@pytest.mark.parametrize(("value", "reason"), [
    (msgpack.packb({"a": msgpack.Timestamp(1, 0)}), "a msgpack extension"),
    (msgpack.packb({"a": b"bytes"}, use_bin_type=True), "payload field /a is bytes (msgpack bin), which JSON cannot carry"),
    (msgpack.packb({"a": 1}) + b"\x01", "bytes follow the payload"),
    (msgpack.packb({"a": "abc"})[:-1], "it ends before it is complete"),
])
def test_msgpack_that_json_cannot_carry_is_refused_with_a_specific_reason(value, reason):
    assert reason in reason_of(value=value)


@pytest.mark.parametrize("content_type", [MSGPACK, JSON])
def test_a_nul_character_anywhere_in_the_payload_is_refused_naming_the_field(content_type):
    envelope = Envelope(key="SF-1", message_id="m1", message_type="order_placed",
                        occurred_at=datetime(2026, 11, 2, tzinfo=UTC), content_type=content_type,
                        payload={"shipping": {"name": "Anna\x00Lind"}})
    with pytest.raises(BadEnvelope) as raised:
        roundtrip(envelope)
    assert str(raised.value) == "payload field /shipping/name contains a NUL character (U+0000), which text cannot store"


def test_a_lone_surrogate_in_json_is_refused_naming_the_field():
    reason = reason_of(value=b'{"lines":[{"description":"\\ud800"}]}', hdrs=headers(content_type=JSON))
    assert reason == "payload field /lines/0/description contains a lone surrogate (U+D800..U+DFFF), which is not text"


def test_a_payload_key_that_is_personal_is_not_quoted_in_the_reason():
    reason = reason_of(value=json.dumps({SECRET: "x\x00"}).encode(), hdrs=headers(content_type=JSON))
    assert reason == "payload field /* contains a NUL character (U+0000), which text cannot store"
