"""The console's actions: a back-office message published where the ERP's go, and the engine's outcome.

The console never changes an order itself. An action is the message the ERP
would send (``workflow_status_changed``, ``approval_set``,
``customer_confirmation`` on the customer's behalf, ``back_office_comment``),
keyed by the order's storefront reference on its inbound topic, so the one
engine process that owns the order's partition applies it with the same
command and the same role check (the order-taking setup's permissions) as any
other message. The signed-in user is the message's actor. The console then
waits for the outcome in the event store: a receipt for the message id means
applied; a rejection recorded for the record's offset means refused, with the
engine's reason.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka.errors import KafkaError

from orderflow.aggregates.inbox import RejectedMessage
from orderflow.aggregates.values import Actor
from orderflow.application.orders import Orders
from orderflow.consumers.handlers import topic_for
from orderflow.contract.envelope import Envelope
from orderflow.contract.schemas import Contract
from orderflow.db import Database
from orderflow.settings import Settings

PRODUCER = "orderflow-console"
ACTIONS = {
    "reject": "workflow_status_changed",
    "approval": "approval_set",
    "confirm": "customer_confirmation",
    "comment": "back_office_comment",
}
"""The console's actions and the message type each publishes."""
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Outcome:
    """What became of an action: ``applied`` True or False, or None if the engine did not answer in time."""

    applied: bool | None
    detail: str
    message_id: str


class Actions:
    """Publishes actions with one producer (made on first use) and waits for their outcome."""

    def __init__(self, settings: Settings, app: Orders, db: Database, producer_factory: Any):
        self.settings = settings
        self.app = app
        self.db = db
        self.contract = Contract(settings.schema_dir)
        self._producer_factory = producer_factory
        self._producer: Any = None

    def payload(self, action: str, form: dict[str, str], actor: Actor) -> dict[str, Any]:
        """The message payload of ``action`` from the submitted form; ``ValueError`` if the form is incomplete."""
        comment = (form.get("comment") or "").strip()
        payload: dict[str, Any] = {"actor": actor.to_dict()}
        if action == "reject":
            payload |= {"status": "Rejected", **({"comment": comment} if comment else {})}
        elif action == "approval":
            payload |= {"state": form.get("state", ""), **({"comment": comment} if comment else {})}
        elif action == "comment":
            if not comment:
                raise ValueError("write a comment first")
            payload["text"] = comment
        elif action != "confirm":
            raise ValueError(f"no action {action!r}")
        return payload

    def act(self, action: str, reference: str, form: dict[str, str], actor: Actor) -> Outcome:
        """Publish ``action`` on the order ``reference`` as ``actor`` and wait for the engine's outcome."""
        message_type = ACTIONS[action]
        payload = self.payload(action, form, actor)
        self.contract.validate(message_type, 1, payload)  # ContractViolation: a ValueError, said to the user
        envelope = Envelope(key=reference, message_id=str(uuid.uuid4()), message_type=message_type,
                            occurred_at=datetime.now(UTC), payload=payload, producer=PRODUCER)
        topic = topic_for(message_type, self.settings.topics)
        try:
            if self._producer is None:
                self._producer = self._producer_factory()
            sent = self._producer.send(topic, key=reference.encode(), value=envelope.value(), headers=envelope.headers())
            record = sent.get(timeout=self.settings.send_timeout_seconds)
        except KafkaError as error:
            return Outcome(None, f"not published: the Kafka broker at {self.settings.kafka_bootstrap} does not answer "
                                 f"({type(error).__name__}); nothing changed", envelope.message_id)
        return self.wait(envelope.message_id, RejectedMessage.create_id(topic, record.partition, record.offset))

    def wait(self, message_id: str, rejection_id: Any) -> Outcome:
        """Poll the event store until the message has a receipt (applied) or a rejection (refused), or time runs out."""
        deadline = time.monotonic() + self.settings.console.action_timeout_seconds
        while True:
            if self.db.query("SELECT 1 FROM message_receipts WHERE message_id = ?", [message_id]):
                return Outcome(True, "applied", message_id)
            rejected: list[Any] = list(self.app.events.get(rejection_id, limit=1))
            if rejected:
                return Outcome(False, rejected[0].reason, message_id)
            if time.monotonic() > deadline:
                return Outcome(None, "published, but the engine has not applied it yet: is `orderflow run` running?",
                               message_id)
            time.sleep(POLL_SECONDS)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
