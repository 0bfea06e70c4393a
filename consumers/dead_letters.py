"""Where a message orderflow cannot apply goes: the dead-letter topic and the error journal.

Both are bounded, whatever the record: a reason is at most
:data:`~orderflow.contract.schemas.MAX_REASON` characters and never quotes a value; a
dead-letter record larger than the topic's limit (``max_record_bytes``, below
Kafka's default 1 MiB) is published truncated, with ``dlq_truncated=true`` and
``dlq_original_size``; the error journal keeps at most
:data:`MAX_JOURNAL_VALUE_BYTES` of the value, and marks a cut the same way.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import KafkaProducer
from kafka.errors import MessageSizeTooLargeError

from orderflow.aggregates.inbox import RejectedMessage
from orderflow.contract.envelope import format_time
from orderflow.contract.schemas import MAX_REASON

MAX_RECORD_BYTES = 1_000_000
"""Default limit of a dead-letter record (key, value, header names and values): under Kafka's default
``message.max.bytes`` (1,048,588) and the producer's ``max_request_size`` (1,048,576), with room for the batch's overhead."""
MIN_RECORD_BYTES = 64 * 1024
"""What a record is cut to when the broker refuses even the truncated one (a topic with a smaller limit)."""
MAX_JOURNAL_VALUE_BYTES = 256 * 1024
"""How much of a rejected record's value the error journal keeps."""
KEPT_KEY_BYTES = 256
KEPT_HEADERS = 64
KEPT_HEADER_BYTES = 1024
"""When a record is cut: its key, the number of its own headers and each one's value are kept up to these sizes."""
RECORD_OVERHEAD = 512
SAFE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}", re.ASCII)


def bounded_reason(reason: str) -> str:
    """``reason`` cut to :data:`~orderflow.contract.schemas.MAX_REASON` characters, NUL characters replaced."""
    reason = reason.replace("\x00", "\ufffd")
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def unexpected_reason(error: BaseException) -> str:
    """The reason for an error nobody expected: its class, and the field if the error names one; never its text."""
    reason = f"unexpected error: {type(error).__name__}"
    if isinstance(error, (KeyError, AttributeError)):
        name = error.args[0] if isinstance(error, KeyError) and error.args else getattr(error, "name", None)
        if isinstance(name, str) and SAFE_NAME.fullmatch(name):
            reason += f" (field {name})"
    return reason


def record_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> int:
    """The bytes a record carries: key, value, header names and values."""
    return len(key or b"") + len(value or b"") + sum(len(name.encode()) + len(raw or b"") for name, raw in headers)


@dataclass(frozen=True)
class Source:
    """Where a record came from and its bytes, as consumed."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]

    @classmethod
    def of(cls, record: Any) -> Source:
        return cls(record.topic, record.partition, record.offset, record.key, record.value, list(record.headers or []))

    @property
    def size(self) -> int:
        return record_size(self.key, self.value, self.headers)

    def header(self, name: str) -> str | None:
        """A header's first value as text (at most :data:`KEPT_HEADER_BYTES`); None if there is none."""
        for each, raw in self.headers:
            if _name(each) == name:
                return (_text(raw) or "")[:KEPT_HEADER_BYTES]
        return None

    def to_dict(self) -> dict[str, Any]:
        """A form events can hold (text and numbers only); a null header value becomes ``""``."""
        return {
            "topic": self.topic, "partition": self.partition, "offset": self.offset, "key": _text(self.key),
            "value_b64": base64.b64encode(self.value or b"").decode(),
            "headers": [[_name(name), _text(raw) or ""] for name, raw in self.headers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        key = data["key"]
        return cls(
            data["topic"], data["partition"], data["offset"], None if key is None else key.encode(),
            base64.b64decode(data["value_b64"]), [(name, text.encode()) for name, text in data["headers"]],
        )


@dataclass(frozen=True)
class Rejection:
    """One inbound record that could not be applied, and why (the reason bounded, whoever wrote it)."""

    source: Source
    reason: str
    error: str
    message_id: str | None = None
    message_type: str | None = None
    redrive: Any = None
    """The :class:`~orderflow.consumers.redrives.Redrive` a refused redriven record came back for: its entry,
    not a new one, records the refusal."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", bounded_reason(self.reason))
        object.__setattr__(self, "error", self.error[:200])

    def journal_entry(self, at: datetime) -> RejectedMessage:
        """The error-journal aggregate recording this rejection: at most :data:`MAX_JOURNAL_VALUE_BYTES` of the value.

        A refused redrive is recorded on the entry it redrove (still open, with the new reason and one more attempt).

        When the value is cut, the entry's headers say so (``dlq_truncated``, ``dlq_original_size``),
        as on the dead-letter topic. Its text holds no NUL character (PostgreSQL cannot store one).
        """
        source = self.source
        if self.redrive is not None:
            return self.redrive.failed(self.reason, self.error, f"{source.topic}:{source.partition}@{source.offset}", at)
        value = source.value or b""
        headers = {_name(name)[:KEPT_HEADER_BYTES]: (_text(raw) or "")[:KEPT_HEADER_BYTES]
                   for name, raw in source.headers[:KEPT_HEADERS]}
        if len(value) > MAX_JOURNAL_VALUE_BYTES or len(source.headers) > KEPT_HEADERS:
            headers |= {"dlq_truncated": "true", "dlq_original_size": str(source.size)}
        key = _text(source.key)
        return RejectedMessage(
            topic=source.topic,
            partition=source.partition,
            offset=source.offset,
            key=None if key is None else key[:KEPT_KEY_BYTES],
            message_id=self.message_id,
            message_type=self.message_type,
            reason=self.reason,
            error=self.error,
            value_b64=base64.b64encode(value[:MAX_JOURNAL_VALUE_BYTES]).decode(),
            headers=headers,
            at=at,
        )

    def dead_letter_headers(self, at: datetime) -> list[tuple[str, bytes]]:
        """The original headers plus the ``dlq_*`` headers that say what went wrong where (a null value sent as empty)."""
        return self._own_headers() + _encoded(self._dlq_headers(at))

    def dead_letter_record(self, at: datetime, limit: int = MAX_RECORD_BYTES) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
        """Key, value and headers of the dead-letter record; cut to ``limit`` bytes if the original is larger.

        A cut record keeps its key up to :data:`KEPT_KEY_BYTES`, its first :data:`KEPT_HEADERS` headers up
        to :data:`KEPT_HEADER_BYTES` each, the ``dlq_*`` headers, and as much of the value as fits;
        ``dlq_truncated=true`` and ``dlq_original_size`` (bytes of key, value and headers) say so.
        """
        source = self.source
        headers = self.dead_letter_headers(at)
        if record_size(source.key, source.value, headers) + RECORD_OVERHEAD <= limit:
            return source.key, source.value, headers
        key = None if source.key is None else source.key[:KEPT_KEY_BYTES]
        own = [(name[:KEPT_HEADER_BYTES], raw[:KEPT_HEADER_BYTES]) for name, raw in self._own_headers()[:KEPT_HEADERS]]
        marks = {**self._dlq_headers(at), "dlq_truncated": "true", "dlq_original_size": str(source.size)}
        cut_headers = own + _encoded(marks)
        room = max(0, limit - RECORD_OVERHEAD - record_size(key, b"", cut_headers))
        value = None if source.value is None else source.value[:room]
        return key, value, cut_headers

    def _own_headers(self) -> list[tuple[str, bytes]]:
        return [(_name(name), bytes(raw or b"")) for name, raw in self.source.headers if not _name(name).startswith("dlq_")]

    def _dlq_headers(self, at: datetime) -> dict[str, str]:
        return {
            "dlq_reason": self.reason,
            "dlq_error": self.error,
            "dlq_source_topic": self.source.topic,
            "dlq_source_partition": str(self.source.partition),
            "dlq_source_offset": str(self.source.offset),
            "dlq_rejected_at": format_time(at),
        }


class DeadLetterTopic:
    """Publishes rejected records, unchanged but for their ``dlq_*`` headers, or cut to fit the topic."""

    def __init__(self, producer: KafkaProducer, topic: str, max_record_bytes: int = MAX_RECORD_BYTES):
        self._producer = producer
        self._topic = topic
        self._limit = max_record_bytes

    def publish(self, rejections: list[Rejection], at: datetime) -> None:
        """Send and wait for the broker's acknowledgement (before the batch is recorded).

        A record the producer or the broker finds too large is sent again cut to
        :data:`MIN_RECORD_BYTES`: a dead letter is never dropped for its size.
        """
        futures = [(r, self._send(r, at, self._limit)) for r in rejections]
        self._producer.flush()
        for rejection, future in futures:
            try:
                if future is None:
                    raise MessageSizeTooLargeError("refused by the producer")
                future.get(timeout=30)
            except MessageSizeTooLargeError:
                retry = self._send(rejection, at, min(self._limit, MIN_RECORD_BYTES))
                if retry is None:
                    raise
                self._producer.flush()
                retry.get(timeout=30)

    def _send(self, rejection: Rejection, at: datetime, limit: int) -> Any:
        key, value, headers = rejection.dead_letter_record(at, limit)
        try:
            return self._producer.send(self._topic, key=key, value=value, headers=headers)
        except MessageSizeTooLargeError:
            return None


def _encoded(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in headers.items()]


def _name(name: Any) -> str:
    text = name.decode("utf-8", "replace") if isinstance(name, (bytes, bytearray)) else str(name)
    return text.replace("\x00", "\ufffd")


def _text(raw: bytes | None) -> str | None:
    """Bytes as text for events and views: invalid UTF-8 and NUL characters replaced by U+FFFD."""
    return None if raw is None else bytes(raw).decode("utf-8", errors="replace").replace("\x00", "\ufffd")
