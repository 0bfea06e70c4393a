"""Out-of-order arrival across the two inbound topics: messages wait, and none is lost.

The storefront and the ERP publish on different topics, so a message can
overtake the one it follows: an ERP document for an order not placed yet, or a
shop confirmation ahead of the customer's. Such a message is parked for its
order, with every later message for the same order from the same topic behind
it, and retried in arrival order each time a message for that order is applied.

A parked message that still cannot be applied is rejected (dead letter and
error journal) once nothing can rescue it any more: when a message from the
*other* topic for the same order, as recent as the parked one or more, has been
applied. One order's messages keep their order on their topic, so nothing older
can still come from there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from eventsourcing.application import AggregateNotFoundError

from orderflow.aggregates.errors import UnknownOrder
from orderflow.aggregates.inbox import ParkedMessages
from orderflow.application import Orders
from orderflow.consumers.dead_letters import Rejection, Source
from orderflow.consumers.handlers import NOT_ABOUT_AN_ORDER, TOPIC_OF, CannotApply, apply
from orderflow.wire import Envelope, decode

log = structlog.get_logger("orderflow.parking")
PLACEMENT = "order_placed"
Reject = Callable[[Source, Envelope, str, str], Rejection]


class Parking:
    """Decides whether a message must wait, parks it, and retries what waits."""

    def __init__(self, app: Orders):
        self.app = app

    def must_wait(self, envelope: Envelope) -> bool:
        """A message waits if its order is not placed yet, or earlier ones from its topic still wait."""
        if envelope.message_type == PLACEMENT or envelope.message_type in NOT_ABOUT_AN_ORDER:
            return False
        parked = self._load(envelope.key)
        topic = TOPIC_OF.get(envelope.message_type)
        if parked is not None and any(TOPIC_OF.get(m["message_type"]) == topic for m in parked.pending):
            return True
        try:
            self.app.get_order(envelope.key)
        except UnknownOrder:
            return True
        return False

    def park(self, envelope: Envelope, record: object, reason: str, at: datetime) -> None:
        """Keep ``envelope`` (and its original record) until its order can take it."""
        parked = self._load(envelope.key) or ParkedMessages(envelope.key)
        message = {**Source.of(record).to_dict(), "message_id": envelope.message_id, "message_type": envelope.message_type}
        parked.park(message, reason=reason, at=at)
        self.app.save(parked)
        log.info("message parked", order=envelope.key, message_type=envelope.message_type,
                 message_id=envelope.message_id, reason=reason, waiting=len(parked.pending))

    def retry(self, applied: Envelope, at: datetime, reject: Reject) -> list[Rejection]:
        """After ``applied`` changed its order, apply what waits for it, in order; return what was rejected."""
        parked = self._load(applied.key)
        if parked is None or not parked.pending:
            return []
        rejections, still_waiting = [], set()
        for message in list(parked.pending):
            topic = TOPIC_OF.get(message["message_type"])
            if topic in still_waiting:
                continue  # keeps its place behind an earlier message of its topic
            source = Source.from_dict(message)
            envelope = decode(source.key, source.value, source.headers)
            try:
                apply(self.app, envelope)
                outcome, detail = "applied", ""
            except CannotApply as error:
                self.app.discard_unsaved()
                if error.may_resolve and not _overtaken(envelope, applied):
                    still_waiting.add(topic)
                    continue
                rejections.append(reject(source, envelope, str(error), type(error).__name__))
                outcome, detail = "rejected", str(error)
            parked.release(envelope.message_id, outcome, detail, at)
            self.app.save(parked)
            log.info("parked message released", order=applied.key, message_id=envelope.message_id, outcome=outcome)
        return rejections

    def _load(self, storefront_reference: str) -> ParkedMessages | None:
        try:
            return self.app.load(ParkedMessages.create_id(storefront_reference))
        except AggregateNotFoundError:
            return None


def _overtaken(waiting: Envelope, applied: Envelope) -> bool:
    """Whether the other topic has gone past ``waiting``: nothing older can come from it now."""
    return TOPIC_OF.get(applied.message_type) != TOPIC_OF.get(waiting.message_type) and (
        applied.occurred_at >= waiting.occurred_at
    )
