"""``orderflow orders``, ``errors``, ``parked``: rows of one read model, caught up with the event store."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from orderflow.bootstrap import bootstrap
from orderflow.cli.text import format_table
from orderflow.db import Database
from orderflow.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``orders``, ``errors`` and ``parked`` to the ``orderflow`` command."""
    orders = subparsers.add_parser("orders", help="list web orders (the Web Orders read model)")
    orders.add_argument("--status", help="only orders with this workflow status")
    orders.add_argument("--limit", type=int, default=50)
    orders.set_defaults(func=cmd_orders)

    errors = subparsers.add_parser("errors", help="the error journal: messages that could not be applied, and why")
    errors.add_argument("--limit", type=int, default=50)
    errors.set_defaults(func=lambda settings, args: _show(settings, "error_journal", lambda v, db: v.recent(db, args.limit)))

    parked = subparsers.add_parser("parked", help="messages waiting for their order to arrive")
    parked.add_argument("--limit", type=int, default=100)
    parked.set_defaults(func=lambda settings, args: _show(settings, "parked_messages", lambda v, db: v.waiting(db, args.limit)))


def cmd_orders(settings: Settings, args: argparse.Namespace) -> int:
    return _show(settings, "web_orders", lambda view, db: view.list_orders(db, status=args.status, limit=args.limit))


def _show(settings: Settings, view_name: str, read: Callable[[Any, Database], list[dict]]) -> int:
    """Print rows of one read model, after catching it up with the event store."""
    engine = bootstrap(settings)
    try:
        engine.projections.catch_up()
        [view] = [v for v in engine.projections.views if v.name == view_name]
        rows = read(view, engine.db)
    finally:
        engine.close()
    print(format_table(rows))
    return 0
