"""How fast the read models rebuild, against a plain scan of the same events.

    .venv/bin/python bench/rebuild.py [--url sqlite:///var/bench.db] [--batches 300]

Fills the store with ``--batches`` x 3 orders (about 19 events each batch) if it
is empty, then times (1) reading every event with ``select_notifications`` in
pages of 1,000 and (2) ``rebuild`` of every read model, and prints both rates
and their ratio. A benchmark, never a timed test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orderflow.application import Orders  # noqa: E402
from orderflow.db import Database  # noqa: E402
from orderflow.projections.rebuild import rebuild  # noqa: E402
from tests.unit.test_read_models import realistic_history  # noqa: E402


def scan(app: Orders, page: int = 1000) -> int:
    """Read every stored event once; return how many."""
    count, start = 0, 1
    while notifications := app.recorder.select_notifications(start=start, limit=page):
        count += len(notifications)
        start = notifications[-1].id + 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--batches", type=int, default=300)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    with tempfile.TemporaryDirectory() as directory:
        url = args.url or f"sqlite:///{directory}/bench.db"
        app, db = Orders(url), Database(url)
        try:
            if not app.recorder.max_notification_id():
                for batch in range(args.batches):
                    realistic_history(app, batch)
            started = time.perf_counter()
            events = scan(app)
            scan_rate = events / (time.perf_counter() - started)
            started = time.perf_counter()
            positions = rebuild(app, db)
            rebuild_rate = events / (time.perf_counter() - started)
        finally:
            db.close()
            app.close()
    print(f"{events} events, {len(positions)} read models ({url.split('@')[-1]})")
    print(f"select_notifications scan: {scan_rate:12,.0f} events/s")
    print(f"rebuild of every view:     {rebuild_rate:12,.0f} events/s")
    print(f"ratio scan / rebuild:      {scan_rate / rebuild_rate:12,.1f} x")


if __name__ == "__main__":
    main()
