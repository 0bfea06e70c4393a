"""Analysts' commands: an order as it stood at any instant, version diffs, exports, lead-time reports.

Everything here reads the event store or the read models; nothing writes
events. The pure functions are the API (tests and notebooks call them);
:func:`register` adds the ``orderflow`` sub-commands that print their results.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow
import pyarrow.parquet

from orderflow.aggregates.errors import UnknownOrder, WebOrderError
from orderflow.aggregates.event_log import event_log_entry
from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.bootstrap import Engine, bootstrap
from orderflow.db import Database
from orderflow.projections.catalog import all_views
from orderflow.projections.rebuild import rebuild
from orderflow.projections.runner import ProjectionRunner
from orderflow.settings import Settings
from orderflow.contract.envelope import format_time, parse_time

# -- an order as it stood ------------------------------------------------------------------------


def find_order_id(app: Orders, db: Database, order: str) -> UUID:
    """The id of the order with this storefront reference or Web Order No. (read models caught up)."""
    order_id = WebOrder.create_id(order)
    if list(app.events.get(order_id, limit=1)):
        return order_id
    rows = db.query("SELECT id FROM web_orders WHERE web_order_no = ?", (order,))
    if not rows:
        raise UnknownOrder(order)
    return UUID(rows[0][0])


def order_as_of(app: Orders, order_id: UUID, when: datetime | None = None) -> tuple[WebOrder, list[Any]]:
    """The order rebuilt from its events up to the last one whose business time ``at`` is <= ``when``
    (all of them if ``when`` is None), and those events."""
    events = list(app.events.get(order_id))
    last = max((e.originator_version for e in events if when is None or e.at <= when), default=0)
    if not last:
        raise LookupError(f"order {order_id} did not exist yet at {format_time(when) if when else when}")
    return app.repository.get(order_id, version=last), [e for e in events if e.originator_version <= last]


def describe(order: WebOrder, events: Iterable[Any]) -> dict[str, Any]:
    """What a user sees of ``order`` given its ``events`` so far, as JSON-ready values."""
    status, document, approval = order.workflow_status, order.sales_document, order.approval
    described = {
        "web_order_no": order.web_order_no,
        "storefront_reference": order.storefront_reference,
        "event_version": order.version,
        "customer_type": order.customer_type,
        "sell_to_customer_no": order.sell_to_customer_no,
        "sell_to_customer_name": order.sell_to_customer_name,
        "order_date": order.order_date,
        "refused": order.refused,
        "refusal_reasons": [p.to_dict() for p in order.refusal_reasons],
        "workflow_status": status.status if status else None,
        "status_caused_by": status.caused_by if status else None,
        "approval": approval,
        "confirmation": order.confirmation,
        "sales_document": document,
        "released": order.released,
        "prebook_status": order.prebook_status,
        "current_version": order.versions[-1].number if order.versions else None,
        "versions": [
            {"number": v.number, "kind": v.kind, "made_at": v.made_at, "source": v.source, "total": v.total}
            for v in order.versions
        ],
        "lines": [line.to_dict() for line in order.versions[-1].lines] if order.versions else [],
        "current_total": order.current_total,
        "amount_paid": order.amount_paid,
        "unpaid": order.unpaid,
        "underpaid": order.underpaid,
        "overpaid": order.overpaid,
        "amount_mismatch": order.amount_mismatch,
        "payment_events": list(order.payment_events),
        "shipped_quantities": {str(k): v for k, v in sorted(order.shipped_quantities.items())},
        "event_log": [event_log_entry(e) for e in events],
    }
    return plain(described)


def plain(value: Any) -> Any:
    """``value`` with decimals, times, enums, UUIDs and dataclasses turned into JSON's strings, lists and dicts."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def render_order(described: dict[str, Any]) -> str:
    """``describe``'s dict as text: header fields, the current lines, the versions, the event log."""
    sections = {"lines": "Lines (current version)", "versions": "Versions", "event_log": "Event log"}
    header = [f"{key}: {_cell(value)}" for key, value in described.items() if key not in sections]
    parts = ["\n".join(header)]
    parts += [f"{title}\n{format_table(described[key])}" for key, title in sections.items()]
    return "\n\n".join(parts)


def diff_rows(order: WebOrder, before: int, after: int) -> list[dict[str, Any]]:
    """Line-level changes from version ``before`` to ``after``: one row per added or removed line, per changed field."""
    rows = []
    for change in order.diff(before, after):
        line = change.after or change.before
        common = {"change": change.change, "type": line.type.value, "no": line.no, "variant_code": line.variant_code}
        if change.change == "changed":
            rows += [
                {**common, "field": name, "before": getattr(change.before, name), "after": getattr(change.after, name)}
                for name in change.fields
            ]
        else:
            rows.append({**common, "field": "", "before": change.before and change.before.line_amount,
                         "after": change.after and change.after.line_amount})
    return plain(rows)


# -- export ----------------------------------------------------------------------------------------

EVENT_COLUMNS = ("position", "order_id", "order_no", "event_type", "at", "user_type", "user_no", "person_name",
                 "company", "payload")
ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "at"}


def event_rows(app: Orders, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """The full event history in store order: one row per event, its own attributes as a JSON payload."""
    numbers: dict[UUID, str] = {}
    start = 1
    while notifications := app.recorder.select_notifications(start=start, limit=batch_size):
        for notification in notifications:
            event = app.mapper.to_domain_event(notification)
            if hasattr(event, "web_order_no"):
                numbers[event.originator_id] = event.web_order_no
            actor = getattr(event, "actor", None) or {}
            yield {
                "position": notification.id,
                "order_id": str(event.originator_id),
                "order_no": numbers.get(event.originator_id),
                "event_type": type(event).__qualname__,
                "at": plain(getattr(event, "at", event.timestamp)),
                **{k: actor.get(k) for k in ("user_type", "user_no", "person_name", "company")},
                "payload": json.dumps(plain({k: v for k, v in vars(event).items() if k not in ENVELOPE}), sort_keys=True),
            }
        start = notifications[-1].id + 1


def table_columns(db: Database, table: str) -> list[str]:
    """A table's column names, in order."""
    if db.is_postgres:
        rows = db.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position", (table,),
        )
        return [name for (name,) in rows]
    return [row[1] for row in db.query(f"PRAGMA table_info({table})")]


def table_rows(db: Database, table: str) -> list[dict[str, Any]]:
    """Every row of a read-model table as a dict, ordered by its columns."""
    columns = table_columns(db, table)
    order = ", ".join(str(i + 1) for i in range(len(columns)))
    return [dict(zip(columns, row)) for row in db.query(f"SELECT * FROM {table} ORDER BY {order}")]


def export(app: Orders, db: Database, out: Path, fmt: str = "jsonl") -> list[Path]:
    """Write ``events`` and every read-model table into ``out``, one file each; return the files."""
    writer = {"jsonl": _write_jsonl, "csv": _write_csv, "parquet": _write_parquet}[fmt]
    out.mkdir(parents=True, exist_ok=True)
    tables = [table for view in all_views(db.is_postgres, app) for table in view.tables]
    written = [writer(out / f"events.{fmt}", list(EVENT_COLUMNS), list(event_rows(app)))]
    for table in tables:
        written.append(writer(out / f"{table}.{fmt}", table_columns(db, table), plain(table_rows(db, table))))
    return written


def _write_jsonl(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_parquet(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    table = pyarrow.Table.from_pylist(rows) if rows else pyarrow.table({c: pyarrow.array([], pyarrow.string()) for c in columns})
    pyarrow.parquet.write_table(table, path)
    return path


# -- report ----------------------------------------------------------------------------------------

STAGES = (("Received", "Reservation"), ("Reservation", "Warehouse"), ("Warehouse", "Shipped"), ("Received", "Shipped"))
APPROVAL_ASKED = ("ApprovalRequested", "Pending")
APPROVAL_GIVEN = (("ApprovedByCustomer", "Approved"), ("ApprovalSet", "Approved"))


def time_in_status(db: Database) -> dict[str, list[timedelta]]:
    """How long each ended Workflow Status period lasted, by status."""
    durations: dict[str, list[timedelta]] = defaultdict(list)
    for status, start, end in db.query("SELECT status, from_at, to_at FROM status_history WHERE to_at IS NOT NULL"):
        durations[status].append(_time(end) - _time(start))
    return dict(sorted(durations.items()))


def lead_times(db: Database) -> dict[str, list[timedelta]]:
    """Placed → Reservation → Warehouse → Shipped (first time each status was reached), quote turnaround
    (quote linked → order made from it) and approval latency (requested → approved)."""
    reached: dict[str, dict[str, datetime]] = defaultdict(dict)
    for order_id, status, start in db.query("SELECT order_id, status, from_at FROM status_history ORDER BY 1, from_at"):
        reached[order_id].setdefault(status, _time(start))
    times: dict[str, list[timedelta]] = {f"{a} → {b}": [] for a, b in STAGES}
    for statuses in reached.values():
        for a, b in STAGES:
            if a in statuses and b in statuses:
                times[f"{a} → {b}"].append(statuses[b] - statuses[a])
    times["quote linked → order"], times["approval requested → approved"] = [], []
    quote_linked: dict[str, datetime] = {}
    asked: dict[str, datetime] = {}
    rows = db.query("SELECT order_id, event_name, new_status, entry_time FROM event_log ORDER BY order_id, event_version")
    for order_id, name, new_status, entry in rows:
        when = _time(entry)
        if name == "LinkedToSalesDocument":
            quote_linked[order_id] = when
        elif name == "MadeOrderFromQuote" and order_id in quote_linked:
            times["quote linked → order"].append(when - quote_linked.pop(order_id))
        if name in APPROVAL_ASKED or (name == "ApprovalSet" and new_status == "Pending"):
            asked.setdefault(order_id, when)
        elif (name, new_status) in APPROVAL_GIVEN and order_id in asked:
            times["approval requested → approved"].append(when - asked.pop(order_id))
    return times


def summarize(durations: dict[str, list[timedelta]]) -> list[dict[str, Any]]:
    """Count, mean, median and max hours of each measure."""
    rows = []
    for measure, values in durations.items():
        hours = [d.total_seconds() / 3600 for d in values]
        stats = (statistics.fmean(hours), statistics.median(hours), max(hours)) if hours else (None, None, None)
        rows.append({"measure": measure, "count": len(hours),
                     **{k: None if v is None else round(v, 2) for k, v in zip(("mean_h", "median_h", "max_h"), stats)}})
    return rows


def html_report(sections: dict[str, list[dict[str, Any]]]) -> str:
    """A self-contained HTML page: per section a table and an SVG bar chart of the mean hours."""
    body = [f"<h2>{html.escape(title)}</h2>\n{_html_table(rows)}\n{_svg_bars(rows)}" for title, rows in sections.items()]
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>orderflow lead times</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;"
            "padding:2px 8px;text-align:right}td:first-child{text-align:left}</style></head>\n<body>\n"
            "<h1>orderflow: time in status and lead times</h1>\n" + "\n".join(body) + "\n</body></html>\n")


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(no data)</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    cells = ["".join(f"<td>{html.escape(_cell(v))}</td>" for v in row.values()) for row in rows]
    return f"<table><tr>{head}</tr>" + "".join(f"<tr>{c}</tr>" for c in cells) + "</table>"


def _svg_bars(rows: list[dict[str, Any]], width: int = 640, bar: int = 20) -> str:
    measured = [r for r in rows if r["mean_h"] is not None]
    if not measured:
        return ""
    label, scale = 240, (width - 320) / (max(r["mean_h"] for r in measured) or 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{bar * len(measured) + 10}">']
    for i, r in enumerate(measured):
        y, w = 5 + i * bar, max(1, round(r["mean_h"] * scale))
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(r["measure"])}</text>'
                     f'<rect x="{label}" y="{y}" width="{w}" height="{bar - 4}" fill="#4a7ab5"/>'
                     f'<text x="{label + w + 4}" y="{y + 14}" font-size="12">{r["mean_h"]} h</text>')
    return "".join(parts) + "</svg>"


def _time(value: Any) -> datetime:
    """A timestamp as read back: a datetime from PostgreSQL, ISO text from SQLite."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# -- text output -------------------------------------------------------------------------------------


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a plain text table with a header (``(none)`` if there are none)."""
    if not rows:
        return "(none)"
    columns = list(rows[0])
    texts = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(t[i]) for t in texts)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip() for t in texts]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def progress_bar(done: int, total: int, width: int = 40) -> str:
    """``[#####.....]  50%  500/1000 events``."""
    share = min(1.0, done / total) if total else 1.0
    filled = round(share * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%}  {done}/{total} events"


# -- sub-commands ----------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``history``, ``diff``, ``export``, ``report`` and ``projections`` to the ``orderflow`` command."""
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

    projections = subparsers.add_parser("projections", help="read models: rebuild them, or show how far they are")
    actions = projections.add_subparsers(dest="action", required=True)
    rebuilding = actions.add_parser("rebuild", help="rebuild read models from the event store and swap them in")
    rebuilding.add_argument("names", nargs="*", metavar="NAME", help="views to rebuild (all if none)")
    rebuilding.set_defaults(func=cmd_projections_rebuild)
    actions.add_parser("status", help="each view's position and lag").set_defaults(func=cmd_projections_status)


def caught_up(engine: Engine) -> ProjectionRunner:
    """The engine's runner of every read model, caught up with the store."""
    engine.projections.catch_up()
    return engine.projections


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


def cmd_projections_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    engine = bootstrap(settings)
    try:
        positions = rebuild(engine.app, engine.db, args.names or None,
                            progress=lambda done, total: print("\r" + progress_bar(done, total), end="", file=sys.stderr))
    except ValueError as e:
        print(f"orderflow projections rebuild: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    print(file=sys.stderr)
    print(format_table([{"view": name, "position": position} for name, position in positions.items()]))
    return 0


def cmd_projections_status(settings: Settings, args: argparse.Namespace) -> int:
    engine = bootstrap(settings)
    try:
        runner = ProjectionRunner(engine.app, engine.db, all_views(engine.db.is_postgres, engine.app))
        lag = runner.lag()
        rows = [{"view": v.name, "position": runner.position(v), "lag": lag[v.name]} for v in runner.views]
    finally:
        engine.close()
    print(format_table(rows))
    return 0
