"""Server time of the web console's pages with 100,000 orders in the Web Orders read model, on PostgreSQL.

The simulator's orders are applied in process (no broker: only the pages are measured) and the
projections caught up; then the ``web_orders`` rows are copied, each under a new id, number and
reference, until the list holds ``orders`` rows. Each page is its route's handler, called in process
as uvicorn would call it, and timed from the request to the rendered HTML (no network, no browser):

- the list: the first page, a status filter, a search, sorting by total, and the next page by cursor;
- an order page: the order rebuilt from its events, its status history, the setup's permissions, rendered.

A benchmark: it asserts nothing about time. Run alone: ``.venv/bin/python bench/console.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.requests import Request  # noqa: E402

from orderflow.bootstrap import bootstrap  # noqa: E402
from orderflow.console.actions import Actions  # noqa: E402
from orderflow.console.app import build_app  # noqa: E402
from orderflow.console.auth import User  # noqa: E402
from orderflow.console.reads import ConsoleReader  # noqa: E402
from orderflow.consumers.handlers import CannotApply, apply  # noqa: E402
from orderflow.projections.web_orders import COLUMNS  # noqa: E402
from orderflow.settings import ConsoleSettings, Settings  # noqa: E402
from orderflow.traffic.simulate import traffic  # noqa: E402

RUNS = 20
USER = User("bench", "Bench Admin", ("Admin",))


def fill(settings: Settings, stories: int, orders: int) -> str:
    """Apply ``stories`` simulated orders, catch the read models up, copy list rows up to ``orders``; return a
    storefront reference with two versions (the order page measured)."""
    engine = bootstrap(settings)
    try:
        for _, envelope in traffic(stories, seed=7):
            try:
                apply(engine.app, envelope)
            except CannotApply:
                pass
        engine.projections.catch_up()
        [(reference,)] = engine.db.query("SELECT storefront_reference FROM web_orders WHERE version_count > 1 "
                                         "ORDER BY web_order_no LIMIT 1")
        copies = max(0, -(-orders // stories) - 1)
        others = [c for c in COLUMNS if c not in ("web_order_no", "storefront_reference")]
        with engine.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO web_orders (id, web_order_no, storefront_reference, {', '.join(others)}) "
                f"SELECT id || '-' || g, 'WB' || lpad((g * 100000 + row_number() OVER ())::text, 12, '0'), "
                f"storefront_reference || '-' || g, {', '.join(others)} FROM web_orders, generate_series(1, ?) g",
                [copies],
            )
            cursor.execute(f"DELETE FROM web_orders WHERE id IN (SELECT id FROM web_orders ORDER BY id OFFSET {orders})")
            cursor.execute("ANALYZE web_orders")
        return reference
    finally:
        engine.close()


def measure(settings: Settings, stories: int = 100, orders: int = 100_000) -> dict[str, float]:
    """Median milliseconds of each page, and the slowest list page's median (``list``)."""
    reference = fill(settings, stories, orders)
    engine = bootstrap(settings)
    try:
        console = build_app(ConsoleSettings(), ConsoleReader(engine.app, engine.db),
                            Actions(settings, engine.app, engine.db, lambda: None)).state.console
        [(count,)] = engine.db.query("SELECT COUNT(*) FROM web_orders")
        first = console.reader.list_orders(console_query(""), True)
        pages: dict[str, tuple[Callable[[Request], Any], str, str]] = {
            "list, first page": (console.orders, "/", ""),
            "list, status Shipped": (console.orders, "/", "status=Shipped"),
            "list, search": (console.orders, "/", f"q={first.rows[-1]['web_order_no']}"),
            "list, sorted by total": (console.orders, "/", "sort=current_total&direction=asc"),
            "list, next page": (console.orders, "/", f"after={first.next_after}"),
            "order page": (console.order, f"/orders/{reference}", ""),
        }
        medians = {name: _median(handler, path, query, reference) for name, (handler, path, query) in pages.items()}
        medians["list"] = max(v for k, v in medians.items() if k.startswith("list"))
        medians["orders"] = count
        return medians
    finally:
        engine.close()


def console_query(text: str) -> Any:
    from orderflow.console.reads import ListQuery

    return ListQuery.from_params(dict(p.split("=", 1) for p in text.split("&") if p))


def _median(handler: Callable[[Request], Any], path: str, query: str, reference: str) -> float:
    times = []
    for _ in range(RUNS + 2):
        scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": [],
                 "session": {}, "user": USER, "path_params": {"reference": reference}}
        started = time.perf_counter()
        response = asyncio.run(handler(Request(scope)))
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, query, response.status_code)
    return statistics.median(times[2:])  # the first two warm the caches


if __name__ == "__main__":
    from devservices.postgres_server import PostgresServer

    with PostgresServer() as server:
        url = server.create_database("bench_console")
        figures = measure(Settings(database_url=url))
    for name, ms in figures.items():
        print(f"{name:28} {ms:8.1f}" + ("" if name == "orders" else " ms"))
