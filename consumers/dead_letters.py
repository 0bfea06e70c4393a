"""Where a message orderflow cannot apply goes: the dead-letter topic and the error journal."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import KafkaProducer

from orderflow.aggregates.inbox import RejectedMessage
from orderflow.wire import format_time


@dataclass(frozen=True)
class Source:
    """Where a record came from and its bytes, as consumed."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, record: Any) -> Source:
        return cls(record.topic, record.partition, record.offset, record.key, record.value, list(record.headers or []))

    def to_dict(self) -> dict[str, Any]:
        """A form events can hold (text and numbers only)."""
        return {
            "topic": self.topic, "partition": self.partition, "offset": self.offset, "key": _text(self.key),
            "value_b64": base64.b64encode(self.value or b"").decode(),
            "headers": [[name, _text(raw) or ""] for name, raw in self.headers],
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
    """One inbound record that could not be applied, and why."""

    source: Source
    reason: str
    error: str
    message_id: str | None = None
    message_type: str | None = None

    def journal_entry(self, at: datetime) -> RejectedMessage:
        """The error-journal aggregate recording this rejection."""
        source = self.source
        return RejectedMessage(
            topic=source.topic,
            partition=source.partition,
            offset=source.offset,
            key=_text(source.key),
            message_id=self.message_id,
            message_type=self.message_type,
            reason=self.reason,
            error=self.error,
            value_b64=base64.b64encode(source.value or b"").decode(),
            headers={name: _text(raw) or "" for name, raw in source.headers},
            at=at,
        )

    def dead_letter_headers(self, at: datetime) -> list[tuple[str, bytes]]:
        """The original headers plus the ``dlq_*`` headers that say what went wrong where."""
        extra = {
            "dlq_reason": self.reason,
            "dlq_error": self.error,
            "dlq_source_topic": self.source.topic,
            "dlq_source_partition": str(self.source.partition),
            "dlq_source_offset": str(self.source.offset),
            "dlq_rejected_at": format_time(at),
        }
        kept = [(name, raw) for name, raw in self.source.headers if not name.startswith("dlq_")]
        return kept + [(name, value.encode()) for name, value in extra.items()]


class DeadLetterTopic:
    """Publishes rejected records, unchanged but for their ``dlq_*`` headers."""

    def __init__(self, producer: KafkaProducer, topic: str):
        self._producer = producer
        self._topic = topic

    def publish(self, rejections: list[Rejection], at: datetime) -> None:
        """Send and wait for the broker's acknowledgement (before the batch is recorded)."""
        futures: list[Any] = [
            self._producer.send(self._topic, key=r.source.key, value=r.source.value, headers=r.dead_letter_headers(at))
            for r in rejections
        ]
        self._producer.flush()
        for future in futures:
            future.get(timeout=30)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")
