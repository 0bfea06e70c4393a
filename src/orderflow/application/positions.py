"""Several consumer positions recorded in the one transaction that records their effects.

The inbound consumer merges partitions of two topics; one transaction holds
the events of the records it released and every partition's new position.
The eventsourcing library records one :class:`Tracking` per transaction, so
:class:`Positions` carries the others along, and these recorders write each
of them (a position that does not move forward is still an ``IntegrityError``:
another consumer recorded it first).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder


@dataclass(frozen=True)
class Positions(Tracking):
    """The first position is the tracking itself; ``more`` holds the rest."""

    more: tuple[Tracking, ...] = ()

    @classmethod
    def of(cls, positions: Mapping[str, int]) -> Positions | None:
        """``{name: last offset}`` as one tracking object; None when there is none."""
        if not positions:
            return None
        (first, offset), *rest = sorted(positions.items())
        return cls(first, offset, tuple(Tracking(name, value) for name, value in rest))


def each(tracking: Tracking) -> Iterator[Tracking]:
    yield Tracking(tracking.application_name, tracking.notification_id)
    if isinstance(tracking, Positions):
        yield from tracking.more


class PostgresPositionsRecorder(PostgresProcessRecorder):
    def _insert_tracking(self, curs: Any, tracking: Tracking) -> None:
        for one in each(tracking):
            super()._insert_tracking(curs, tracking=one)


class SQLitePositionsRecorder(SQLiteProcessRecorder):
    def _insert_tracking(self, c: Any, tracking: Tracking) -> None:
        for one in each(tracking):
            super()._insert_tracking(c, one)


class POPOPositionsRecorder(POPOProcessRecorder):
    def _assert_tracking_uniqueness(self, tracking: Tracking) -> None:
        for one in each(tracking):
            super()._assert_tracking_uniqueness(one)

    def _insert_tracking(self, tracking: Tracking) -> None:
        for one in each(tracking):
            super()._insert_tracking(one)
