"""The envelope on the wire: what a producer sends is what the consumer reads."""

from datetime import datetime, timezone

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderflow.wire import JSON, MSGPACK, BadEnvelope, Envelope, decode

payloads = st.dictionaries(
    st.text(min_size=1, max_size=10),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=10,
    ),
    max_size=5,
)
envelopes = st.builds(
    Envelope,
    key=st.text(min_size=1, max_size=20),
    message_id=st.uuids().map(str),
    message_type=st.sampled_from(["order_placed", "customer_comment", "shipment_posted"]),
    occurred_at=st.datetimes(timezones=st.just(timezone.utc)),
    payload=payloads,
    schema_version=st.integers(1, 9),
    producer=st.text(min_size=1, max_size=10),
    content_type=st.sampled_from([MSGPACK, JSON]),
)


def roundtrip(envelope: Envelope) -> Envelope:
    return decode(envelope.key.encode(), envelope.value(), envelope.headers())


@given(envelopes)
def test_every_envelope_survives_the_wire_round_trip(envelope):
    assert roundtrip(envelope) == envelope


def test_times_on_the_wire_are_utc_with_a_z():
    at = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
    envelope = Envelope(key="SF-1", message_id="m1", message_type="order_placed", occurred_at=at, payload={})
    assert ("occurred_at", b"2026-11-02T09:30:00Z") in envelope.headers()


def headers(**overrides):
    values = {"message_id": "m1", "message_type": "order_placed", "schema_version": "1",
              "occurred_at": "2026-11-02T09:30:00Z", **overrides}
    return [(k, v.encode()) for k, v in values.items() if v is not None]


@pytest.mark.parametrize(
    ("key", "value", "hdrs", "reason"),
    [
        (b"SF-1", b"\xc1", headers(), "undecodable application/msgpack payload"),
        (b"SF-1", msgpack.packb([1, 2]), headers(), "the payload must be a map"),
        (None, msgpack.packb({}), headers(), "has no key"),
        (b"SF-1", msgpack.packb({}), headers(message_id=None), "missing headers: message_id"),
        (b"SF-1", msgpack.packb({}), headers(occurred_at="yesterday"), "bad occurred_at"),
        (b"SF-1", msgpack.packb({}), headers(occurred_at="2026-11-02T09:30:00"), "has no timezone"),
        (b"SF-1", msgpack.packb({}), headers(schema_version="one"), "bad schema_version"),
        (b"SF-1", b"{}", headers(content_type="text/xml"), "unsupported content_type"),
        (b"SF-1", b"{not json", headers(content_type=JSON), "undecodable application/json payload"),
        (b"SF-1", None, headers(), "has no value"),
    ],
)
def test_a_record_that_is_not_an_orderflow_message_is_refused_with_its_reason(key, value, hdrs, reason):
    with pytest.raises(BadEnvelope, match=reason):
        decode(key, value, hdrs)
