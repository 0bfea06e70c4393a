"""``orderflow history``, ``diff``, ``export``, ``report``: print what :mod:`orderflow.analyst` finds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import structlog

from orderflow.aggregates.errors import WebOrderError
from orderflow.analyst.book import export_book
from orderflow.analyst.charts import PlotsMissing
from orderflow.analyst.export import STREAM_KINDS, MissingExtra, export, position_at
from orderflow.analyst.history import describe, diff_rows, find_order_id, order_as_of
from orderflow.analyst.plain import cell
from orderflow.analyst.report import html_report, lead_times, placed_times, summarize, time_in_status
from orderflow.cli.output import add_json_flag, json_lines, show, table
from orderflow.cli.reading import caught_up
from orderflow.contract.envelope import parse_time
from orderflow.projections.repairs import RepairsView
from orderflow.settings import Settings

log = structlog.get_logger("orderflow.analyst")


def register(subparsers: Any) -> None:
    """Add ``history``, ``diff``, ``export`` and ``report`` to the ``orderflow`` command."""
    history = subparsers.add_parser("history", help="an order as it stood at an instant (now if no --as-of)")
    history.add_argument("order", help="storefront reference or Web Order No.")
    history.add_argument("--as-of", type=parse_time, metavar="TIME", help="ISO 8601 time with a zone, e.g. 2026-11-02T10:00Z")
    history.set_defaults(func=cmd_history)

    diff = subparsers.add_parser("diff", help="what changed between two versions of an order, line by line")
    diff.add_argument("order", help="storefront reference or Web Order No.")
    diff.add_argument("before", type=int, help="version no. (1 is the Original)")
    diff.add_argument("after", type=int)
    diff.set_defaults(func=cmd_diff)

    exporting = subparsers.add_parser("export", help="the event history and every read model, one file each, typed")
    exporting.add_argument("--format", choices=("jsonl", "csv", "parquet"), default="jsonl")
    exporting.add_argument("--out", type=Path, default=Path("export"), metavar="DIR")
    exporting.add_argument("--as-of", type=parse_time, metavar="TIME",
                           help="instead: book.<format>, every order as it stood at TIME")
    since = exporting.add_mutually_exclusive_group()
    since.add_argument("--since-position", type=int, default=0, metavar="N",
                       help="only what the events after position N wrote (export.json says where to continue)")
    since.add_argument("--since", type=parse_time, metavar="TIME", help="only what the events recorded after TIME wrote")
    exporting.add_argument("--all-events", action="store_true",
                           help="events of every stream (setup, inbox, bookkeeping), not only order actions")
    exporting.add_argument("--include-personal", action="store_true",
                           help="personal fields in clear (masked by default); logged with the acting user")
    exporting.add_argument("--user", help="who exports (default ORDERFLOW_USER): needed with --include-personal")
    exporting.set_defaults(func=cmd_export)

    report = subparsers.add_parser("report", help="time in status and lead times")
    report.add_argument("--out", type=Path, metavar="FILE.html", help="also write an HTML report")
    report.set_defaults(func=cmd_report)

    for command in (history, diff, exporting, report):
        add_json_flag(command)


def print_order(described: dict[str, Any]) -> None:
    """``describe``'s dict for people: header fields, then the current lines, the versions, the event log."""
    sections = {"lines": "Lines (current version)", "versions": "Versions", "event_log": "Event log"}
    print("\n".join(f"{key}: {cell(value)}" for key, value in described.items() if key not in sections))
    for key, title in sections.items():
        print()
        table(described[key], title)


def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    engine = caught_up(settings)
    try:
        order, events = order_as_of(engine.app, find_order_id(engine.app, engine.db, args.order), args.as_of)
        redriven = RepairsView(engine.db.is_postgres).redriven(engine.db, order.storefront_reference)
        described = describe(order, events, redriven)
    except (LookupError, WebOrderError) as e:
        print(f"orderflow history: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    if args.json:
        json_lines([described])
    else:
        print_order(described)
    return 0


def cmd_diff(settings: Settings, args: argparse.Namespace) -> int:
    engine = caught_up(settings)
    try:
        order, _ = order_as_of(engine.app, find_order_id(engine.app, engine.db, args.order))
        rows = diff_rows(order, args.before, args.after)
    except WebOrderError as e:
        print(f"orderflow diff: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    show(rows, args.json)
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    user = args.user or settings.user
    if args.include_personal and not user:
        print("orderflow export: --include-personal needs the acting user: --user NAME or ORDERFLOW_USER", file=sys.stderr)
        return 2
    engine = caught_up(settings)
    try:
        if args.as_of is not None:
            manifest = export_book(engine.app, engine.db, args.out, args.as_of, args.format)
        else:
            since = position_at(engine.app, args.since) if args.since is not None else args.since_position
            if args.include_personal:
                log.warning("personal data exported", user=user, out=str(args.out), since=since)
            streams = STREAM_KINDS if args.all_events else ("order",)
            manifest = export(engine.app, engine.db, args.out, args.format, since, streams, args.include_personal)
    except MissingExtra as e:
        print(f"orderflow export: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    show([{"file": str(args.out / f["file"]), "rows": f["rows"]} for f in manifest["files"]], args.json)
    if "continue_from" in manifest:
        print(f"next increment: --since-position {manifest['continue_from']}", file=sys.stderr)
    return 0


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    engine = caught_up(settings)
    try:
        durations = {"Time in status": time_in_status(engine.db), "Lead times": lead_times(engine.db)}
        placed = placed_times(engine.db)
    finally:
        engine.close()
    sections = {title: summarize(measures) for title, measures in durations.items()}
    if args.json:
        json_lines({"section": title, **row} for title, rows in sections.items() for row in rows)
    else:
        for title, rows in sections.items():
            table(rows, title)
            print()
    if args.out:
        try:
            page = html_report(sections, durations, placed)
        except PlotsMissing as error:
            print(f"orderflow report: {error}", file=sys.stderr)
            return 2
        args.out.write_text(page, encoding="utf-8")
        print(f"HTML report: {args.out}", file=sys.stderr if args.json else sys.stdout)
    return 0
