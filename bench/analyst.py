"""The analysts' commands on a large history: the peak RSS of an export, and how long the book as of a past instant takes.

    .venv/bin/python bench/analyst.py [--orders 20000] [--url sqlite:///var/bench/analyst.db] [--seed 11]

Fills a store (a fresh SQLite file, or the database ``--url`` names) with ``--orders`` simulated orders
through the application's commands (placed, linked, released, shipped: about 5 events each, so
200,000 orders is about 1M events; no Kafka), catches the read models up, then runs, each as a
subprocess of its own whose VmHWM is read when it ends:

- ``orderflow export --format parquet --all-events``: wall time and peak RSS;
- ``orderflow export --format parquet --as-of T``, T half-way through the history: wall time and peak RSS.

``bench/run.py`` runs the same measures on its big run's PostgreSQL store (rows 10a-10c). A benchmark:
it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import BenchError, engine_env  # noqa: E402
from orderflow.aggregates.values import Actor  # noqa: E402
from orderflow.application.orders import Orders  # noqa: E402
from orderflow.contract.envelope import format_time  # noqa: E402
from orderflow.db import Database  # noqa: E402
from orderflow.projections.catalog import all_views  # noqa: E402
from orderflow.projections.runner import ProjectionRunner  # noqa: E402
from orderflow.settings import Settings  # noqa: E402
from orderflow.traffic.simulate import START, order_placed_payload  # noqa: E402

CLERK = Actor.back_office("U-BENCH", "Bench Clerk", "Shop", "Sales")
MEASURED = """
import resource, sys
from orderflow.cli import main
code = main(sys.argv[1:])
print("peak_rss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""
"""The ``orderflow`` command, then its own peak RSS (VmHWM, KiB) on the last line of stderr."""


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mib: float
    rows: dict[str, int]


def fill(url: str, orders: int, seed: int = 11, batch: int = 200) -> tuple[datetime, datetime]:
    """``orders`` simulated orders, 7 minutes apart, each placed, linked, released and shipped over a day;
    return the first and last business time."""
    rng = random.Random(seed)
    app = Orders(url)
    try:
        for first in range(1, orders + 1, batch):
            with app.batch():
                for n in range(first, min(first + batch, orders + 1)):
                    at = START + timedelta(minutes=7 * n)
                    ref = f"SF-B{n:07d}"
                    payload = {**order_placed_payload(rng, n, at), "checkout_type": "Order"}
                    payload.pop("actor", None)  # on the wire, not in the order's payload
                    app.place_order(ref, payload, CLERK, at)
                    if app.get_order(ref).refused:  # the simulator's payloads are sometimes refused, as a shop's are
                        continue
                    app.link_sales_document(ref, "Order", f"SO-{n}", CLERK, at + timedelta(hours=1))
                    total = app.get_order(ref).current_total
                    app.release_sales_document(ref, total, CLERK, at + timedelta(hours=3))
                    lines = [{"line_no": line.line_no, "quantity": line.quantity}
                             for line in app.get_order(ref).current_version.lines]
                    app.post_shipment(ref, lines, CLERK, at + timedelta(hours=20), f"SH-{n}")
    finally:
        app.close()
    return START + timedelta(minutes=7), START + timedelta(minutes=7 * orders, hours=20)



def catch_up(url: str) -> int:
    """Bring every read model up to the store's head; return the head."""
    app, db = Orders(url), Database(url)
    try:
        runner = ProjectionRunner(app, db, all_views(db.is_postgres, app), batch_size=5000)
        runner.catch_up()
        return runner.head()
    finally:
        db.close()
        app.close()


def measure(settings: Settings, *args: str) -> Measured:
    """Run ``orderflow ARGS`` in a process of its own; its wall time, peak RSS and the rows its export.json counts."""
    out = Path(args[args.index("--out") + 1])
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURED, *args], env=engine_env(settings), capture_output=True,
                            text=True, timeout=7200)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise BenchError(f"orderflow {' '.join(args)} exited with {result.returncode}: {result.stderr[-2000:]}")
    peak = next(int(line.split()[1]) for line in reversed(result.stderr.splitlines()) if line.startswith("peak_rss_kib"))
    manifest = json.loads((out / "export.json").read_text())
    return Measured(seconds, peak / 1024, {f["table"]: f["rows"] for f in manifest["files"]})


def measure_exports(settings: Settings, workdir: Path, as_of: datetime) -> tuple[Measured, Measured]:
    """The full Parquet export (every stream) and the book as of ``as_of``, each in a process of its own."""
    full = measure(settings, "export", "--format", "parquet", "--all-events", "--out", str(workdir / "export"))
    book = measure(settings, "export", "--format", "parquet", "--as-of", format_time(as_of), "--out",
                   str(workdir / "book"))
    return full, book


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--url", help="the store to fill (default: a fresh SQLite file in a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir="var" if Path("var").is_dir() else None) as directory:
        url = args.url or f"sqlite:///{directory}/analyst.db"
        started = time.perf_counter()
        first, last = fill(url, args.orders, args.seed)
        events = catch_up(url)
        print(f"filled: {args.orders:,} orders, {events:,} events in {time.perf_counter() - started:,.0f} s", flush=True)
        full, book = measure_exports(Settings(database_url=url), Path(directory), first + (last - first) / 2)
    print(f"| export --format parquet --all-events | {full.rows['events']:,} events | {full.seconds:,.1f} s | "
          f"{full.peak_rss_mib:,.0f} MiB peak RSS |")
    print(f"| export --as-of (half-way) | {book.rows['book']:,} of {args.orders:,} orders | {book.seconds:,.1f} s | "
          f"{book.peak_rss_mib:,.0f} MiB peak RSS |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

