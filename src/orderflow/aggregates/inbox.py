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


class ParkedMessages(Aggregate):
    """Messages about an order orderflow has not seen placed yet, kept in arrival order.

    An ERP message can overtake the storefront's ``order_placed`` or another
    storefront message it follows (they travel on different topics). It is
    parked here, and so is every later message for the same order from the
    same topic, until the order can take it; then each is applied in order, or
    rejected with its reason. Nothing parked is ever dropped.
    """

    @staticmethod
    def create_id(storefront_reference: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"orderflow:parked:{storefront_reference}")

    @event("Opened")
    def __init__(self, storefront_reference: str) -> None:
        self.storefront_reference = storefront_reference
        self.pending: list[dict] = []

    def park(self, message: dict, reason: str, at: datetime) -> None:
        """Keep ``message`` (its source, key, value and headers) until its order arrives."""
        self._parked(message=message, reason=reason, at=at)

    @event("Parked")
    def _parked(self, message: dict, reason: str, at: datetime) -> None:
        self.pending = [*self.pending, {**message, "reason": reason, "parked_at": at}]

    def release(self, message_id: str, outcome: str, detail: str, at: datetime) -> None:
        """A parked message was applied (``outcome`` ``applied``) or rejected."""
        if all(m["message_id"] != message_id for m in self.pending):
            raise ValueError(f"{message_id} is not parked for {self.storefront_reference}")
        self._released(message_id=message_id, outcome=outcome, detail=detail, at=at)

    @event("Released")
    def _released(self, message_id: str, outcome: str, detail: str, at: datetime) -> None:
        self.pending = [m for m in self.pending if m["message_id"] != message_id]
