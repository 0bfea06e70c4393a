"""What orderflow did with each inbound message: applied once, or rejected with a reason.

Both aggregates have ids derived from the message, so recording the same
message twice is a version conflict in the event store: two consumers racing
over one partition after a rebalance can never both apply it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class Receipt(Aggregate):
    """Proof that the message with this id was applied, and with which payload."""

    @staticmethod
    def create_id(message_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"orderflow:message:{message_id}")

    @event("Applied")
    def __init__(
        self, message_id: str, message_type: str, digest: str, topic: str, partition: int, offset: int, at: datetime
    ) -> None:
        self.message_id = message_id
        self.message_type = message_type
        self.digest = digest
        self.source = f"{topic}:{partition}@{offset}"


class RejectedMessage(Aggregate):
    """An inbound message orderflow could not apply: the error journal's entry.

    The original bytes are kept (base64) so the message can be fixed and
    published again; the same record goes to the dead-letter topic.
    """

    @staticmethod
    def create_id(topic: str, partition: int, offset: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"orderflow:rejected:{topic}:{partition}:{offset}")

    @event("Rejected")
    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: str | None,
        message_id: str | None,
        message_type: str | None,
        reason: str,
        error: str,
        value_b64: str,
        headers: dict[str, str],
        at: datetime,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.message_id = message_id
        self.message_type = message_type
        self.reason = reason
        self.error = error
        self.value_b64 = value_b64
        self.headers = headers
        self.rejected_at = at
