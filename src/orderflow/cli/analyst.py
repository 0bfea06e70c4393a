"""``orderflow history``, ``diff``, ``export``, ``report``: print what :mod:`orderflow.analyst` finds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from orderflow.aggregates.errors import WebOrderError
from orderflow.analyst.export import MissingExtra, export
from orderflow.analyst.history import describe, diff_rows, find_order_id, order_as_of
from orderflow.analyst.plain import cell
from orderflow.analyst.report import html_report, lead_times, summarize, time_in_status
from orderflow.bootstrap import Engine, bootstrap
from orderflow.cli.text import format_table
from orderflow.contract.envelope import parse_time
from orderflow.projections.runner import ProjectionRunner
from orderflow.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``history``, ``diff``, ``export`` and ``report`` to the ``orderflow`` command."""
    history = subparsers.add_parser("history", help="an order as it stood at an instant (now if no --as-of)")
    history.add_argument("order", help="storefront reference or Web Order No.")
    history.add_argument("--as-of", type=parse_time, metavar="TIME", help="ISO 8601 time with a zone, e.g. 2026-11-02T10:00Z")
    history.add_argument("--json", action="store_true", help="machine-readable output")
    history.set_defaults(func=cmd_history)

    diff = subparsers.add_parser("diff", help="what changed between two versions of an order, line by line")
    diff.add_argument("order", help="storefront reference or Web Order No.")
    diff.add_argument("before", type=int, help="version no. (1 is the Original)")
    diff.add_argument("after", type=int)
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(func=cmd_diff)

    exporting = subparsers.add_parser("export", help="the event history and every read model, one file each")
    exporting.add_argument("--format", choices=("jsonl", "csv", "parquet"), default="jsonl")
    exporting.add_argument("--out", type=Path, default=Path("export"), metavar="DIR")
    exporting.set_defaults(func=cmd_export)

    report = subparsers.add_parser("report", help="time in status and lead times")
    report.add_argument("--out", type=Path, metavar="FILE.html", help="also write an HTML report")
    report.set_defaults(func=cmd_report)


def caught_up(engine: Engine) -> ProjectionRunner:
    """The engine's runner of every read model, caught up with the store."""
    engine.projections.catch_up()
    return engine.projections


def render_order(described: dict[str, Any]) -> str:
    """``describe``'s dict as text: header fields, the current lines, the versions, the event log."""
    sections = {"lines": "Lines (current version)", "versions": "Versions", "event_log": "Event log"}
    header = [f"{key}: {cell(value)}" for key, value in described.items() if key not in sections]
    parts = ["\n".join(header)]
    parts += [f"{title}\n{format_table(described[key])}" for key, title in sections.items()]
    return "\n\n".join(parts)


def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    engine = bootstrap(settings)
    try:
        caught_up(engine)
        order, events = order_as_of(engine.app, find_order_id(engine.app, engine.db, args.order), args.as_of)
        described = describe(order, events)
    except (LookupError, WebOrderError) as e:
        print(f"orderflow history: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    print(json.dumps(described, indent=2, ensure_ascii=False) if args.json else render_order(described))
    return 0


def cmd_diff(settings: Settings, args: argparse.Namespace) -> int:
    engine = bootstrap(settings)
    try:
        caught_up(engine)
        order, _ = order_as_of(engine.app, find_order_id(engine.app, engine.db, args.order))
        rows = diff_rows(order, args.before, args.after)
    except WebOrderError as e:
        print(f"orderflow diff: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    print(json.dumps(rows, indent=2, ensure_ascii=False) if args.json else format_table(rows))
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    engine = bootstrap(settings)
    try:
        caught_up(engine)
        files = export(engine.app, engine.db, args.out, args.format)
    except MissingExtra as e:
        print(f"orderflow export: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    print("\n".join(str(f) for f in files))
    return 0


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    engine = bootstrap(settings)
    try:
        caught_up(engine)
        sections = {"Time in status": summarize(time_in_status(engine.db)), "Lead times": summarize(lead_times(engine.db))}
    finally:
        engine.close()
    print("\n\n".join(f"{title}\n{format_table(rows)}" for title, rows in sections.items()))
    if args.out:
        args.out.write_text(html_report(sections), encoding="utf-8")
        print(f"\nHTML report: {args.out}")
    return 0
