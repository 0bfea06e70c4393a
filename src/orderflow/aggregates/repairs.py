"""What the back office did to put right what failed: one :class:`RepairAction` per action, for the record.

A redrive, a discard, a re-opening, an edit, a release or a rejection of
parked messages is recorded with the acting user, the time, the scope it was
given and what it did (the entries it sent, the ones it skipped and why).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class RepairAction(Aggregate):
    """One action of a back-office user on the error journal or the parking lots.

    Its id is chosen before it is recorded (a redrive names it in the headers of the records it sends).
    """

    @staticmethod
    def create_id(action_id: UUID, **_: Any) -> UUID:
        return action_id

    @event("Taken")
    def __init__(self, action_id: UUID, kind: str, user: str, scope: dict[str, Any], detail: dict[str, Any], at: datetime) -> None:
        self.kind = kind
        self.user = user
        self.scope = scope
        self.detail = detail
        self.at = at
