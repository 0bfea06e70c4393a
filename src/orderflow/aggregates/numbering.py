"""The system-wide unique Web Order numbers: ``WO00000000000001``, ``WO00000000000002``, ...

How numbers are handed out
--------------------------
A process reserves a **block** of consecutive numbers with one event, then
issues them from memory, one per placed order; the number an order got is
recorded in the order's own ``Placed`` (or ``Refused``) event. So a number
costs O(1): no event and no read per order, one event (and a read or two) per
:data:`BLOCK_SIZE` orders, however many orders came before.

Block ``k`` is an aggregate of its own (:class:`NumberBlock`, id derived from
``k``) with one event, ``Reserved(first, size, holder)``. Its numbers follow
the last number of block ``k - 1``. The event store lets an aggregate's first
event be recorded once, so two processes that reserve block ``k`` at the same
time cannot both succeed: one transaction fails with an ``IntegrityError``,
is rolled back and replayed (as any conflicting batch is), and the loser takes
the next free block. A number therefore belongs to exactly one block, a block
to exactly one process (its ``holder``, a random token per application
instance), and a process issues each of its numbers once: **no number is ever
issued twice**. Conflicts happen only when two processes reserve a block at the
same moment, once per :data:`BLOCK_SIZE` orders at most.

A reservation is recorded with the batch that needed it. If that batch is
rolled back, the reservation is too: the process does not trust a block it
reserved in an earlier batch until it has read it back from the store (once),
and reserves another if it is not there, or not its own.

What this gives up
------------------
- **Gaps.** Numbers left in a block when its process stops, and numbers issued
  to orders of a batch that was rolled back, are never issued. Numbers are
  unique and increasing per process, not gap-free.
- **Strict placement order across processes.** Two processes issue from their
  own blocks at the same time, so ``WO...0101`` may be placed after
  ``WO...0201``.

Numbers are ``WO`` and :data:`WIDTH` digits, so that they sort as text (the
read models' ``web_order_no`` is text) up to ten billion orders. A store that
still holds the former single-aggregate series (:class:`WebOrderNumbers`,
six digits, whole history replayed per batch) continues after its last number;
its orders keep their six-digit numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

PREFIX = "WO"
WIDTH = 10
BLOCK_SIZE = 100
SERIES_ID = uuid5(NAMESPACE_URL, "orderflow:web-order-numbers")


def format_number(number: int) -> str:
    """``WO`` and the number in :data:`WIDTH` digits: ``WO00000000000042``."""
    return f"{PREFIX}{number:0{WIDTH}d}"


class NumberBlock(Aggregate):
    """Numbers ``first`` .. ``first + size - 1``, reserved by one process (``holder``)."""

    @staticmethod
    def create_id(index: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"orderflow:web-order-numbers:block:{index}")

    @event("Reserved")
    def __init__(self, index: int, first: int, size: int, holder: str, at: datetime) -> None:
        self.index, self.first, self.size, self.holder = index, first, size, holder

    @property
    def last(self) -> int:
        return self.first + self.size - 1


class NumberSeries:
    """Issues Web Order numbers from the blocks one application instance reserved.

    ``find(index)`` returns the recorded :class:`NumberBlock` of that index, or
    None; ``legacy_last()`` the last number of the former series (0 if none).
    Neither is called per order: ``find`` once or twice per block, ``legacy_last``
    at most once per instance.
    """

    def __init__(
        self,
        find: Callable[[int], NumberBlock | None],
        legacy_last: Callable[[], int],
        block_size: int = BLOCK_SIZE,
    ):
        self._find, self._legacy_last, self.block_size = find, legacy_last, block_size
        self.holder = uuid4().hex
        self._block: NumberBlock | None = None
        self._next = 0
        self._reserved_in: Any = None  # the batch whose transaction holds our block's reservation
        self._known: tuple[int, int] | None = None  # (index, last) of the highest block known to be recorded
        self._legacy: int | None = None

    def issue(self, at: datetime, batch: Any) -> tuple[str, NumberBlock | None]:
        """The next number, and the block reserved for it if a new one was needed (the caller saves it).

        ``batch`` identifies the open transaction (None: each save is recorded at once).
        """
        if self._block is not None and self._reserved_in is not None and self._reserved_in is not batch:
            self._check_recorded()
        reserved = None
        if self._block is None or self._next > self._block.last:
            reserved = self._reserve(at)
            self._reserved_in = batch
        number = self._next
        self._next += 1
        return format_number(number), reserved

    def forget(self, block: NumberBlock) -> None:
        """The reservation of ``block`` was not recorded (its save failed): issue nothing more from it."""
        if self._block is block:
            self._block, self._reserved_in = None, None

    def _check_recorded(self) -> None:
        """Keep a block reserved in an earlier batch only if that batch was recorded (read back once)."""
        assert self._block is not None
        recorded = self._find(self._block.index)
        if recorded is not None and recorded.holder == self.holder:
            self._note(recorded)
            self._reserved_in = None
        else:
            self._block, self._reserved_in = None, None

    def _reserve(self, at: datetime) -> NumberBlock:
        index, previous_last = self._frontier()
        block = NumberBlock(index=index, first=previous_last + 1, size=self.block_size, holder=self.holder, at=at)
        self._block, self._next = block, block.first
        return block

    def _frontier(self) -> tuple[int, int]:
        """The first block index not reserved yet, and the last number of the block before it.

        Blocks are reserved in index order, so the recorded ones are 0 .. n-1:
        gallop forward from the highest block known, then bisect.
        """
        if self._block is not None:  # ours, reserved in this batch or known recorded
            low, low_last = self._block.index, self._block.last
        elif self._known is not None:
            low, low_last = self._known
        else:
            if self._legacy is None:
                self._legacy = self._legacy_last()
            low, low_last = -1, self._legacy
        step = 1
        while (found := self._find(low + step)) is not None:
            low, low_last = found.index, found.last
            self._note(found)
            step *= 2
        high = low + step
        while high - low > 1:
            middle = (low + high) // 2
            found = self._find(middle)
            if found is None:
                high = middle
            else:
                low, low_last = found.index, found.last
                self._note(found)
        return high, low_last

    def _note(self, block: NumberBlock) -> None:
        if self._known is None or block.index > self._known[0]:
            self._known = (block.index, block.last)


class WebOrderNumbers(Aggregate):
    """The former series: one aggregate whose every number was an event (read only, to continue after it)."""

    prefix = PREFIX

    @staticmethod
    def create_id() -> UUID:
        return SERIES_ID

    @event("Started")
    def __init__(self) -> None:
        self.last_issued = 0

    @event("Issued")
    def _issued(self, number: int, at: datetime) -> None:
        self.last_issued = number
