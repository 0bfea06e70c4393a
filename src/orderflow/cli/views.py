"""``orderflow orders``, ``errors``, ``parked``, ``summary``: rows of the read models, caught up with the store."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from orderflow.cli.output import add_json_flag, show
from orderflow.cli.reading import caught_up
from orderflow.db import Database
from orderflow.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``orders``, ``errors``, ``parked`` and ``summary`` to the ``orderflow`` command."""
    orders = subparsers.add_parser("orders", help="list web orders (the Web Orders read model)")
    orders.add_argument("--status", help="only orders with this workflow status")
    orders.add_argument("--limit", type=int, default=50)
    orders.set_defaults(func=lambda settings, args: _show(
        settings, args, "web_orders", lambda view, db: view.list_orders(db, status=args.status, limit=args.limit)))

    errors = subparsers.add_parser("errors", help="the error journal: messages that could not be applied, and why")
    errors.add_argument("--limit", type=int, default=50)
    errors.set_defaults(func=lambda settings, args: _show(
        settings, args, "error_journal", lambda view, db: view.recent(db, args.limit)))

    parked = subparsers.add_parser("parked", help="messages waiting for their order to arrive: why, and until when")
    parked.add_argument("--limit", type=int, default=100)
    parked.set_defaults(func=lambda settings, args: _show(
        settings, args, "parked_messages", lambda view, db: view.waiting(db, args.limit)))

    summary = subparsers.add_parser("summary", help="orders by workflow status, rejected (dead-lettered) and parked messages")
    summary.set_defaults(func=cmd_summary)

    for command in (orders, errors, parked, summary):
        add_json_flag(command)


def cmd_summary(settings: Settings, args: argparse.Namespace) -> int:
    engine = caught_up(settings)
    try:
        views: dict[str, Any] = {view.name: view for view in engine.projections.views}  # each of its own class
        by_status = views["web_orders"].count_by_status(engine.db)
        messages = [{"messages": "rejected (dead-lettered)", "count": views["error_journal"].count(engine.db)},
                    {"messages": "parked, still waiting", "count": views["parked_messages"].count_waiting(engine.db)}]
    finally:
        engine.close()
    if args.json:
        show([{"orders": row["orders"], "workflow_status": row["workflow_status"]} for row in by_status] + messages, True)
    else:
        show(by_status, False, title=f"Orders by workflow status ({sum(row['orders'] for row in by_status)} in all)")
        print()
        show(messages, False, title="Messages not applied")
    return 0


def _show(settings: Settings, args: argparse.Namespace, view_name: str,
          read: Callable[[Any, Database], list[dict]]) -> int:
    """Print rows of one read model, after catching it up with the event store."""
    engine = caught_up(settings)
    try:
        [view] = [v for v in engine.projections.views if v.name == view_name]
        rows = read(view, engine.db)
    finally:
        engine.close()
    show(rows, args.json)
    return 0
