"""Time in status and lead times, from the status history and event log read models, as tables and an HTML page."""

from __future__ import annotations

import html
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from orderflow.analyst import charts
from orderflow.analyst.plain import cell
from orderflow.db import Database

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
                     **{k: None if v is None else round(v, 2) for k, v in zip(("mean_h", "median_h", "max_h"), stats, strict=True)}})
    return rows


def placed_times(db: Database) -> list[datetime]:
    """When each order was placed, for the throughput chart."""
    return [_time(entry) for (entry,) in db.query("SELECT entry_time FROM event_log WHERE event_name = 'Placed'")]


def html_report(sections: dict[str, list[dict[str, Any]]], durations: dict[str, dict[str, list[timedelta]]],
                placed: list[datetime]) -> str:
    """A self-contained HTML page: per section a table and box plots of the hours; orders placed over time.

    The charts are matplotlib's (the ``[plots]`` extra): :class:`~orderflow.analyst.charts.PlotsMissing` without it.
    """
    body = [f"<h2>{html.escape(title)}</h2>\n{_html_table(rows)}\n{charts.box_plots(durations[title], title)}"
            for title, rows in sections.items()]
    body.append(f"<h2>Throughput</h2>\n{charts.throughput(placed, 'Orders placed', 'orders') or '<p>(no data)</p>'}")
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>orderflow lead times</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;"
            "padding:2px 8px;text-align:right}td:first-child{text-align:left}</style></head>\n<body>\n"
            "<h1>orderflow: time in status and lead times</h1>\n" + "\n".join(body) + "\n</body></html>\n")


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(no data)</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    cells = ["".join(f"<td>{html.escape(cell(v))}</td>" for v in row.values()) for row in rows]
    return f"<table><tr>{head}</tr>" + "".join(f"<tr>{c}</tr>" for c in cells) + "</table>"


def _time(value: Any) -> datetime:
    """A timestamp as read back: a datetime from PostgreSQL, ISO text from SQLite."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
