"""The event history and every read model, one file each: JSON lines, CSV or Parquet.

Parquet needs pyarrow, the ``parquet`` extra (``pip install 'orderflow[parquet]'``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from orderflow.analyst.plain import plain
from orderflow.application.orders import Orders
from orderflow.db import Database
from orderflow.projections.catalog import all_views

EVENT_COLUMNS = ("position", "order_id", "order_no", "event_type", "at", "user_type", "user_no", "person_name",
                 "company", "payload")
ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "at"}


class MissingExtra(RuntimeError):
    """A format needs a package of an extra that is not installed; the message names the extra."""


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
    return [dict(zip(columns, row, strict=True)) for row in db.query(f"SELECT * FROM {table} ORDER BY {order}")]


def export(app: Orders, db: Database, out: Path, fmt: str = "jsonl") -> list[Path]:
    """Write ``events`` and every read-model table into ``out``, one file each; return the files."""
    writer = {"jsonl": _write_jsonl, "csv": _write_csv, "parquet": _write_parquet}[fmt]
    if fmt == "parquet":
        _pyarrow()  # before anything is written
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
    pyarrow = _pyarrow()
    table = pyarrow.Table.from_pylist(rows) if rows else pyarrow.table({c: pyarrow.array([], pyarrow.string()) for c in columns})
    pyarrow.parquet.write_table(table, path)
    return path


def _pyarrow() -> Any:
    """pyarrow with its Parquet module, imported on first use: only ``export --format parquet`` needs it."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise MissingExtra("export --format parquet needs pyarrow: pip install 'orderflow[parquet]'") from None
    return pyarrow
