"""Publish hand-written inbound messages (``orderflow publish FILE``), all or none.

The file holds JSON lines, one message each::

    {"key": "SF-1", "message_type": "customer_comment", "payload": {...},
     "message_id": "...", "occurred_at": "2026-11-02T09:00:00Z", "schema_version": 1,
     "content_type": "application/msgpack"}

``message_id`` (default: a new UUID), ``occurred_at`` (default: now),
``schema_version`` (default 1) and ``content_type`` (default msgpack) are optional.
Every line is checked against the contract first; if any is bad, every bad line
is reported with its number and nothing is published. Each message goes to the
storefront or the ERP topic, as its type says (:func:`orderflow.consumers.handlers.topic_for`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orderflow.consumers.handlers import topic_for
from orderflow.contract.envelope import JSON, MSGPACK, Envelope, parse_time
from orderflow.contract.schemas import Contract
from orderflow.kafka import make_producer
from orderflow.settings import Settings, Topics

PRODUCER = "orderflow-publish"
FIELDS = {"key", "message_type", "payload", "message_id", "occurred_at", "schema_version", "content_type"}


class BadMessages(ValueError):
    """Some lines of a message file are not valid messages; ``problems`` lists ``line N: reason`` for each."""

    def __init__(self, path: Path, problems: list[str]):
        super().__init__(f"{path}: {len(problems)} bad line(s), nothing published:\n" + "\n".join(problems))
        self.problems = problems


def read_messages(
    path: Path, contract: Contract, topics: Topics, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> list[tuple[str, Envelope]]:
    """Every message of the file with its topic; :class:`BadMessages` naming every bad line if any is bad."""
    messages, problems = [], []
    for number, text in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            envelope = _envelope(json.loads(text), contract, now)
            messages.append((topic_for(envelope.message_type, topics), envelope))
        except ValueError as error:  # a ContractViolation is one too
            problems.append(f"line {number}: {error}")
    if problems:
        raise BadMessages(Path(path), problems)
    return messages


def publish_file(settings: Settings, path: Path | str) -> int:
    """Validate every message of ``path``, then publish them all in file order; return how many."""
    messages = read_messages(Path(path), Contract(settings.schema_dir), settings.topics)
    producer = make_producer(settings)
    try:
        for topic, envelope in messages:
            producer.send(topic, key=envelope.key.encode(), value=envelope.value(), headers=envelope.headers())
        producer.flush()
    finally:
        producer.close()
    return len(messages)


def _envelope(line: Any, contract: Contract, now: Callable[[], datetime]) -> Envelope:
    if not isinstance(line, dict):
        raise ValueError("a line must be a JSON object")
    unknown = sorted(set(line) - FIELDS)
    missing = sorted({"key", "message_type", "payload"} - set(line))
    if unknown or missing:
        raise ValueError("; ".join(filter(None, [
            f"unknown fields {unknown}" if unknown else "", f"missing fields {missing}" if missing else "",
        ])))
    key, message_type, version = line["key"], line["message_type"], line.get("schema_version", 1)
    content_type = line.get("content_type", MSGPACK)
    if not isinstance(key, str) or not key.strip():
        raise ValueError("key must be a non-empty string (the storefront's order reference)")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"schema_version must be an integer, not {version!r}")
    if content_type not in (MSGPACK, JSON):
        raise ValueError(f"content_type must be {MSGPACK} or {JSON}, not {content_type!r}")
    if not isinstance(line["payload"], dict):
        raise ValueError("payload must be a JSON object")
    if not isinstance(line.get("occurred_at", ""), str):
        raise ValueError("occurred_at must be an ISO 8601 string")
    contract.validate(message_type, version, line["payload"])
    return Envelope(
        key=key,
        message_id=str(line.get("message_id") or uuid.uuid4()),
        message_type=message_type,
        occurred_at=parse_time(line["occurred_at"]) if "occurred_at" in line else now(),
        payload=line["payload"],
        schema_version=version,
        producer=PRODUCER,
        content_type=content_type,
    )
