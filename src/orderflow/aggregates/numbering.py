"""The series that hands out system-wide unique Web Order numbers."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

SERIES_ID = uuid5(NAMESPACE_URL, "orderflow:web-order-numbers")


class WebOrderNumbers(Aggregate):
    """Issues ``WO000001``, ``WO000002``, ... in the order placements are recorded.

    One aggregate for the whole system: optimistic concurrency on its version
    guarantees that two writers never issue the same number.
    """

    prefix = "WO"

    @staticmethod
    def create_id() -> UUID:
        return SERIES_ID

    @event("Started")
    def __init__(self) -> None:
        self.last_issued = 0

    def issue(self, at: datetime) -> str:
        """Issue the next number; ``at`` is when the order it is for was received."""
        self._issued(number=self.last_issued + 1, at=at)
        return self.format(self.last_issued)

    @event("Issued")
    def _issued(self, number: int, at: datetime) -> None:
        self.last_issued = number

    @classmethod
    def format(cls, number: int) -> str:
        return f"{cls.prefix}{number:06d}"
