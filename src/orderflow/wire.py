"""The envelope every orderflow Kafka message travels in.

Key: the storefront's order reference (UTF-8), so one order's messages stay in
order on one partition. Headers: ``message_id``, ``message_type``,
``schema_version``, ``content_type`` (``application/msgpack``, the default, or
``application/json``), ``occurred_at`` (ISO 8601 UTC) and ``producer``.
Value: the payload, a map whose money and quantities are decimal strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgpack

MSGPACK = "application/msgpack"
JSON = "application/json"
HEADER_NAMES = ("message_id", "message_type", "schema_version", "content_type", "occurred_at", "producer")
REQUIRED_HEADERS = ("message_id", "message_type", "schema_version", "occurred_at")


class BadEnvelope(ValueError):
    """The bytes on the wire are not an orderflow message; the reason says why."""


@dataclass(frozen=True)
class Envelope:
    """One message: who it is about (``key``), what it is, when, and its payload."""

    key: str
    message_id: str
    message_type: str
    occurred_at: datetime
    payload: dict[str, Any]
    schema_version: int = 1
    producer: str = "unknown"
    content_type: str = MSGPACK
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self) -> list[tuple[str, bytes]]:
        values = {
            "message_id": self.message_id,
            "message_type": self.message_type,
            "schema_version": str(self.schema_version),
            "content_type": self.content_type,
            "occurred_at": format_time(self.occurred_at),
            "producer": self.producer,
            **self.extra_headers,
        }
        return [(name, value.encode()) for name, value in values.items()]

    def value(self) -> bytes:
        if self.content_type == JSON:
            return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()
        return msgpack.packb(self.payload, use_bin_type=True)


def format_time(at: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: the one time format on the wire."""
    if at.tzinfo is None:
        raise ValueError("times on the wire must be timezone-aware")
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone")
    return at.astimezone(timezone.utc)


def decode(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> Envelope:
    """Read one Kafka record into an :class:`Envelope`, or raise :class:`BadEnvelope`."""
    try:
        found = {name: raw.decode() for name, raw in headers or []}
    except UnicodeDecodeError:
        raise BadEnvelope("a header is not UTF-8") from None
    missing = [name for name in REQUIRED_HEADERS if name not in found]
    if missing:
        raise BadEnvelope(f"missing headers: {', '.join(missing)}")
    if not key:
        raise BadEnvelope("the message has no key (the storefront's order reference)")
    content_type = found.get("content_type", MSGPACK)
    try:
        occurred_at = parse_time(found["occurred_at"])
    except ValueError as error:  # named, not quoted: a misbehaving producer may put anything there
        problem = "it has no timezone" if "no timezone" in str(error) else "not an ISO 8601 time"
        raise BadEnvelope(f"bad occurred_at header: {problem}") from None
    try:
        schema_version = int(found["schema_version"])
    except ValueError:
        raise BadEnvelope("bad schema_version header: not an integer") from None
    payload = _decode_payload(value, content_type)
    extra = {name: text for name, text in found.items() if name not in HEADER_NAMES}
    return Envelope(
        key=key.decode("utf-8", errors="strict"),
        message_id=found["message_id"],
        message_type=found["message_type"],
        occurred_at=occurred_at,
        payload=payload,
        schema_version=schema_version,
        producer=found.get("producer", "unknown"),
        content_type=content_type,
        extra_headers=extra,
    )


def _decode_payload(value: bytes | None, content_type: str) -> dict[str, Any]:
    if value is None:
        raise BadEnvelope("the message has no value")
    if content_type not in (MSGPACK, JSON):
        raise BadEnvelope(f"unsupported content_type header: use {MSGPACK} or {JSON}")
    try:
        if content_type == MSGPACK:
            payload = msgpack.unpackb(value, raw=False, strict_map_key=True)
        else:
            payload = json.loads(value)
    except (ValueError, msgpack.UnpackException) as error:
        raise BadEnvelope(f"undecodable {content_type} payload: {error}") from None
    if not isinstance(payload, dict):
        raise BadEnvelope(f"the payload must be a map, not {type(payload).__name__}")
    return payload
