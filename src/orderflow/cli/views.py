"""``orderflow orders``, ``parked``, ``summary``: rows of the read models, caught up with the store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from orderflow.analyst.book import order_book
from orderflow.cli.output import add_json_flag, show
from orderflow.cli.reading import caught_up
from orderflow.contract.envelope import parse_time
from orderflow.db import Database
from orderflow.settings import Settings

ALL = 2**63 - 1
"""A ``LIMIT`` that keeps every row (SQLite and PostgreSQL both take a BIGINT)."""


def register(subparsers: Any) -> None:
    """Add ``orders``, ``parked`` and ``summary`` to the ``orderflow`` command (``errors``: :mod:`.repairs`)."""
    orders = subparsers.add_parser("orders", help="list web orders (the Web Orders read model), or the book as of a time")
    orders.add_argument("--status", help="only orders with this workflow status")
    orders.add_argument("--as-of", type=parse_time, metavar="TIME", help="every order as it stood at TIME (from the events)")
    add_limit(orders, 50)
    orders.set_defaults(func=cmd_orders)

    parked = subparsers.add_parser("parked", help="messages waiting for their order to arrive: why, and until when")
    add_limit(parked, 100)
    parked.set_defaults(func=lambda settings, args: _show(
        settings, args, "parked_messages", lambda view, db, limit: view.waiting(db, limit)))

    summary = subparsers.add_parser("summary", help="orders by workflow status, rejected (dead-lettered) and parked messages")
    summary.set_defaults(func=cmd_summary)

    for command in (orders, parked, summary):
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


def add_limit(parser: Any, default: int) -> None:
    """``--limit N`` (0: all rows): ``default`` rows in a table for people, all of them with ``--json``."""
    parser.add_argument("--limit", type=int, metavar="N",
                        help=f"at most N rows (default {default}, or all with --json; 0: all); a cut is said on stderr")
    parser.set_defaults(default_limit=default)


def limit_of(args: argparse.Namespace) -> int | None:
    """The rows to show at most, None for all."""
    limit = args.limit if args.limit is not None else (None if args.json else args.default_limit)
    return limit or None


def cut(rows: list[dict], limit: int | None, command: str) -> list[dict]:
    """``rows`` (read with one more than the limit) cut to the limit; a cut is said on stderr, never silent."""
    if limit is None or len(rows) <= limit:
        return rows
    print(f"orderflow {command}: showing the first {limit} rows; more exist (--limit N for more, --limit 0 for all)",
          file=sys.stderr)
    return rows[:limit]


def cmd_orders(settings: Settings, args: argparse.Namespace) -> int:
    if args.as_of is None:
        return _show(settings, args, "web_orders",
                     lambda view, db, limit: view.list_orders(db, status=args.status, limit=limit))
    engine = caught_up(settings)
    try:
        book = [row for batch in order_book(engine.app, engine.db, args.as_of) for row in batch
                if args.status is None or row["workflow_status"] == args.status]
    finally:
        engine.close()
    book.sort(key=lambda row: row["web_order_no"], reverse=True)
    limit = limit_of(args)
    show(cut(book, limit, "orders"), args.json)
    return 0


def _show(settings: Settings, args: argparse.Namespace, view_name: str,
          read: Callable[[Any, Database, int], list[dict]]) -> int:
    """Print rows of one read model, after catching it up with the event store; say so if a limit cut them."""
    limit = limit_of(args)
    engine = caught_up(settings)
    try:
        [view] = [v for v in engine.projections.views if v.name == view_name]
        rows = read(view, engine.db, ALL if limit is None else limit + 1)
    finally:
        engine.close()
    show(cut(rows, limit, args.command), args.json)
    return 0
