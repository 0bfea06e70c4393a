"""Out-of-order arrival: messages for an order not placed yet wait, and none is lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from eventsourcing.application import AggregateNotFoundError

from orderflow.aggregates.errors import UnknownOrder
from orderflow.aggregates.inbox import ParkedMessages
from orderflow.application import Orders
from orderflow.consumers.dead_letters import Rejection, Source
from orderflow.consumers.handlers import CannotApply, apply
from orderflow.wire import Envelope, decode

log = structlog.get_logger("orderflow.parking")
PLACEMENT = "order_placed"
Reject = Callable[[Source, Envelope, str, str], Rejection]


class Parking:
    """Decides whether a message must wait for its order, parks it, and releases the queue."""

    def __init__(self, app: Orders):
        self.app = app

    def must_wait(self, envelope: Envelope) -> bool:
        """A message waits if its order is not placed yet, or earlier ones for it still wait."""
        if envelope.message_type == PLACEMENT:
            return False
        parked = self._load(envelope.key)
        if parked is not None and parked.pending:
            return True
        try:
            self.app.get_order(envelope.key)
        except UnknownOrder:
            return True
        return False

    def park(self, envelope: Envelope, record: object, at: datetime) -> None:
        parked = self._load(envelope.key) or ParkedMessages(envelope.key)
        message = {**Source.of(record).to_dict(), "message_id": envelope.message_id, "message_type": envelope.message_type}
        parked.park(message, reason=f"order {envelope.key} is not placed yet", at=at)
        self.app.save(parked)
        log.info("message parked", order=envelope.key, message_type=envelope.message_type,
                 message_id=envelope.message_id, waiting=len(parked.pending))

    def release(self, storefront_reference: str, at: datetime, reject: Reject) -> list[Rejection]:
        """Apply, in arrival order, what waited for this order; return the ones that failed."""
        parked = self._load(storefront_reference)
        if parked is None:
            return []
        rejections = []
        for message in list(parked.pending):
            source = Source.from_dict(message)
            envelope = decode(source.key, source.value, source.headers)
            try:
                apply(self.app, envelope)
                outcome, detail = "applied", ""
            except CannotApply as error:
                self.app.discard_unsaved()
                rejections.append(reject(source, envelope, str(error), type(error).__name__))
                outcome, detail = "rejected", str(error)
            parked.release(envelope.message_id, outcome, detail, at)
            self.app.save(parked)
            log.info("parked message released", order=storefront_reference, message_id=envelope.message_id, outcome=outcome)
        return rejections

    def _load(self, storefront_reference: str) -> ParkedMessages | None:
        try:
            return self.app.load(ParkedMessages.create_id(storefront_reference))
        except AggregateNotFoundError:
            return None
