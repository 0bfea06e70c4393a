"""What orderflow did with each inbound message: applied once, parked, or rejected with a reason.

Receipts and rejections have ids derived from the message, so recording the
same message twice is a version conflict in the event store: two consumers
racing over one partition after a rebalance can never both apply it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

OPEN, REDRIVEN, DISCARDED = "open", "redriven", "discarded"
"""The states of an error journal entry."""


class EntryNotOpen(ValueError):
    """An error journal entry was asked to do what its state does not allow (redrive a discarded one, ...)."""


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
        self.state = OPEN
        self.attempts = 1
        self.edits: list[dict[str, Any]] = []

    # -- what the back office does (orderflow.application.repair) ------------------------------

    def edit(self, value_b64: str, digest_before: str, digest_after: str, user: str, at: datetime) -> None:
        """Replace the payload a redrive sends; the original stays in the ``Rejected`` event."""
        self._must_be(OPEN, "edited")
        self._edited(value_b64=value_b64, digest_before=digest_before, digest_after=digest_after, user=user,
                     edit_no=len(self.edits) + 1, at=at)

    @event("Edited")
    def _edited(self, value_b64: str, digest_before: str, digest_after: str, user: str, edit_no: int,
                at: datetime) -> None:
        self.edits.append({"digest_before": digest_before, "digest_after": digest_after, "user": user, "at": at})
        self.value_b64 = value_b64

    def discard(self, user: str, reason: str, at: datetime) -> None:
        """Close the entry for good (until re-opened): its record is never applied, even if a redrive is on its way."""
        self._must_be(OPEN, "discarded")
        self._discarded(user=user, reason=reason, at=at)

    @event("Discarded")
    def _discarded(self, user: str, reason: str, at: datetime) -> None:
        self.state = DISCARDED

    def reopen(self, user: str, at: datetime) -> None:
        self._must_be(DISCARDED, "re-opened")
        self._reopened(user=user, at=at)

    @event("Reopened")
    def _reopened(self, user: str, at: datetime) -> None:
        self.state = OPEN

    # -- what the engine records when a redriven record comes back through the inbound path ----

    def redriven(self, action_id: str, user: str, outcome: str, source: str, order_versions: list[int],
                 at: datetime) -> None:
        """The redriven record was ``applied``, ``parked`` or found applied before (``duplicate``), from ``source``;
        ``order_versions`` are the versions of the order's events it caused (for the event log)."""
        self._must_be(OPEN, "redriven")
        self._redriven(action_id=action_id, user=user, outcome=outcome, source=source, order=self.key or "",
                       order_versions=order_versions, attempt=self.attempts + 1, at=at)

    @event("Redriven")
    def _redriven(self, action_id: str, user: str, outcome: str, source: str, order: str, order_versions: list[int],
                  attempt: int, at: datetime) -> None:
        self.state = REDRIVEN
        self.attempts = attempt

    def failed_again(self, action_id: str, user: str, reason: str, error: str, source: str, at: datetime) -> None:
        """The redriven record was refused again: the entry stays open with the new reason."""
        self._must_be(OPEN, "redriven")
        self._failed_again(action_id=action_id, user=user, reason=reason, error=error, source=source,
                           attempt=self.attempts + 1, at=at)

    @event("FailedAgain")
    def _failed_again(self, action_id: str, user: str, reason: str, error: str, source: str, attempt: int,
                      at: datetime) -> None:
        self.reason = reason
        self.error = error
        self.attempts = attempt

    def _must_be(self, state: str, done: str) -> None:
        if self.state != state:
            raise EntryNotOpen(f"error journal entry {self.id} is {self.state}: only a {state} entry can be {done}")


class ParkingLot(Aggregate):
    """The messages of one inbound partition pair that wait for an order not seen yet.

    Only time can make such a message applicable: the two systems' clocks
    differ, so an ERP message can carry an earlier time than the order it is
    about. Each waits here until its order is placed (then it is applied in
    event-time order) or until its deadline, in event time, passes (then it is
    rejected). There is one lot per partition number of the co-partitioned
    inbound topics, so the consumer that owns the partitions loads one
    aggregate, not one per order.
    """

    @staticmethod
    def create_id(storefront_topic: str, partition: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"orderflow:parking-lot:{storefront_topic}:{partition}")

    @event("Opened")
    def __init__(self, storefront_topic: str, partition: int) -> None:
        self.storefront_topic = storefront_topic
        self.partition = partition
        self.pending: dict[str, dict[str, Any]] = {}

    def park(self, message: dict[str, Any], reason: str, deadline: datetime, at: datetime) -> None:
        """Keep ``message`` (its source record, ``message_id``, ``message_type``, ``key``) until its order arrives."""
        self._parked(message=message, reason=reason, deadline=deadline, at=at)

    @event("Parked")
    def _parked(self, message: dict[str, Any], reason: str, deadline: datetime, at: datetime) -> None:
        self.pending[message["message_id"]] = {**message, "reason": reason, "deadline": deadline}

    def release(self, message_id: str, outcome: str, detail: str, at: datetime) -> None:
        """A parked message was applied (``outcome`` ``applied``) or rejected."""
        if message_id not in self.pending:
            raise ValueError(f"{message_id} is not parked in lot {self.partition}")
        self._released(message_id=message_id, outcome=outcome, detail=detail, at=at)

    @event("Released")
    def _released(self, message_id: str, outcome: str, detail: str, at: datetime) -> None:
        del self.pending[message_id]
