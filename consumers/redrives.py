"""A record the back office redrove from the error journal, as the inbound path sees it come back.

``orderflow errors redrive`` (:mod:`orderflow.application.repair`) publishes the
journal entry's record again, on its key's partition of its message type's
topic, with the headers below. The record then takes the path every inbound
record takes (decode, checks, deduplication, the merge by event time, apply or
park or refuse), and the pipeline records what became of it on the entry, in
the same transaction: ``Redriven`` (applied, parked, or applied before) or
``FailedAgain`` (the new reason; the entry stays open). A redriven record whose
entry is no longer open (redriven already, discarded) changes nothing: that,
and the receipts by message id, make a redrive apply at most once however many
times it is sent.

``orderflow parked release|reject`` takes the same path: it publishes a parked
message's record again with :data:`PARKED_OF` (and, for a rejection,
:data:`PARKED_REJECT`) and the action's headers; the consumer that owns the
message's parking lot releases it (applies it now, if its order exists) or
rejects it, in the transaction that records it (:class:`Verdict`). A verdict
on a message no longer parked changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from orderflow.aggregates.inbox import OPEN, RejectedMessage
from orderflow.application.orders import Orders
from orderflow.consumers.handlers import CannotApply

REDRIVE_OF = "orderflow_redrive_of"
"""The header naming the error journal entry (its id) a record redrives."""
REDRIVE_ACTION = "orderflow_redrive_action"
"""The header naming the back-office action (a :class:`~orderflow.aggregates.repairs.RepairAction` id)."""
REDRIVE_BY = "orderflow_redrive_by"
"""The header naming the back-office user who redrove it."""
PARKED_OF = "orderflow_parked_of"
"""The header naming the parked message (its message id) the back office releases or rejects."""
PARKED_REJECT = "orderflow_parked_reject"
"""The header carrying a rejection's reason; a record naming a parked message without it releases the message."""
REDRIVE_HEADERS = (REDRIVE_OF, REDRIVE_ACTION, REDRIVE_BY, PARKED_OF, PARKED_REJECT)


@dataclass
class Redrive:
    """A redriven record's entry, loaded in the open batch, and who sent it back."""

    entry: RejectedMessage
    action_id: str
    user: str

    @classmethod
    def of(cls, app: Orders, headers: list[tuple[str, bytes | None]]) -> Redrive | None:
        """The redrive a record's headers name; None for an ordinary record; :class:`CannotApply` for a redrive
        of an entry that does not exist."""
        found = {name: (raw or b"").decode("utf-8", "replace") for name, raw in headers if name in REDRIVE_HEADERS}
        if REDRIVE_OF not in found:
            return None
        try:
            entry = app.load(UUID(found[REDRIVE_OF]))
        except (ValueError, AggregateNotFoundError):
            entry = None
        if not isinstance(entry, RejectedMessage):
            raise CannotApply(f"header {REDRIVE_OF} names no error journal entry")
        return cls(entry, found.get(REDRIVE_ACTION, ""), found.get(REDRIVE_BY, ""))

    @property
    def open(self) -> bool:
        return self.entry.state == OPEN

    @property
    def first_source(self) -> str:
        """Where the entry's record was first read, as a receipt names it."""
        return f"{self.entry.topic}:{self.entry.partition}@{self.entry.offset}"

    def settled(self, outcome: str, source: str, order_versions: list[int], at: datetime) -> RejectedMessage:
        """The entry, with what became of the redriven record (``applied``, ``parked``, ``duplicate``)."""
        self.entry.redriven(self.action_id, self.user, outcome, source, order_versions, at)
        return self.entry

    def failed(self, reason: str, error: str, source: str, at: datetime) -> RejectedMessage:
        """The entry, still open, with the reason the redriven record was refused again."""
        self.entry.failed_again(self.action_id, self.user, reason, error, source, at)
        return self.entry


@dataclass(frozen=True)
class Verdict:
    """The back office's word on a parked message: release it (``reason`` None) or reject it, and who said so."""

    message_id: str
    action_id: str
    user: str
    reason: str | None

    @classmethod
    def of(cls, headers: list[tuple[str, bytes | None]]) -> Verdict | None:
        """The verdict a record's headers carry; None for any other record."""
        found = {name: (raw or b"").decode("utf-8", "replace") for name, raw in headers if name in REDRIVE_HEADERS}
        if PARKED_OF not in found:
            return None
        return cls(found[PARKED_OF], found.get(REDRIVE_ACTION, ""), found.get(REDRIVE_BY, ""),
                   found.get(PARKED_REJECT))

    @property
    def detail(self) -> str:
        """What the parking lot records on the message (``orderflow parked`` shows it)."""
        if self.reason is None:
            return f"released by {self.user} (action {self.action_id})"
        return f"rejected by {self.user} (action {self.action_id}): {self.reason}"
