"""The cyclic garbage collector, set for the engine's long runs: ``orderflow run`` and ``projections rebuild``.

Both allocate a few hundred objects per message or event (decoded events, orders' new states, rows) and
keep thousands of orders alive in their caches. At CPython's default thresholds (700, 10, 10) the
collector ran about every two events and fully every 6,600, each full pass scanning every live order:
28% of a rebuild of 311k events (12.3 s of 43 s), more per event the more history there is; in
``orderflow run``, end to end 1.18x faster with these thresholds (docs/benchmarks.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 50, 100)


def for_the_engine() -> None:
    """For ``orderflow run``, once started: what start-up built lives as long as the process, so no collection
    scans it again (``gc.freeze``), and the collector runs at :data:`THRESHOLDS` from then on."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


@contextmanager
def thresholds(values: tuple[int, int, int] = THRESHOLDS) -> Iterator[None]:
    """Run the block with the collector's thresholds at ``values``, then put them back."""
    before = gc.get_threshold()
    gc.set_threshold(*values)
    try:
        yield
    finally:
        gc.set_threshold(*before)
