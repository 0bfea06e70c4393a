"""The event history and every read model, one file each (JSON lines, CSV or Parquet), typed and streamed.

Every file has the fixed schema of :mod:`orderflow.analyst.columns`, whatever the data. Rows are read and
written a batch at a time (the store a page at a time, each table in its key's order with keyset
pagination; Parquet a row group per batch), so memory stays flat however large the history.

- **Incremental**: ``since`` (a store position) writes only what is new since it. An increment's rows
  replace the rows of the same key (:data:`~orderflow.analyst.columns.KEYS`) loaded before; loading the
  increments one after another gives the full export. ``export.json`` in the folder says from which
  position the next increment continues.
- **Personal data out by default**: every personal column (``x-personal`` in the schemas), and every
  personal key of an event's payload, reads :data:`~orderflow.contract.personal.MASK` unless
  ``include_personal``. ``customer_key``, the pseudonymous customer key, is kept: the same in every export
  and after the customer is forgotten.

Parquet needs pyarrow, the ``parquet`` extra (``pip install 'orderflow[parquet]'``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderflow.analyst.columns import EVENTS, KEYS, TABLES, Column, arrow_schema, csv_text, exported, typed
from orderflow.analyst.plain import plain
from orderflow.application.orders import Orders
from orderflow.application.shredding import ORDER_TOPICS
from orderflow.contract.personal import MASK, personal_fields, redact_text
from orderflow.db import Database

BATCH = 5_000
"""Rows per read, per write and per Parquet row group."""
ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "at"}
STREAMS = (
    ("order", ORDER_TOPICS),
    ("setup", "orderflow.aggregates.order_taking_setup:"),
    ("inbox", "orderflow.aggregates.inbox:"),
)
"""The kind of stream of an event, by its topic's prefix; any other is ``bookkeeping`` (numbering, forgetting)."""
STREAM_KINDS = ("order", "setup", "inbox", "bookkeeping")
RELEASED = "orderflow.aggregates.inbox:ParkingLot.Released"
DECIMAL_PLACES = Decimal("1e-10")


class MissingExtra(RuntimeError):
    """A format needs a package of an extra that is not installed; the message names the extra."""


def stream_of(topic: str) -> str:
    """``order``, ``setup``, ``inbox`` or ``bookkeeping``: what kind of stream an event of ``topic`` belongs to."""
    return next((kind for kind, prefix in STREAMS if topic.startswith(prefix)), "bookkeeping")


def head(app: Orders) -> int:
    """The position of the last event in the store (0 if none)."""
    return app.recorder.max_notification_id() or 0


def notification_pages(app: Orders, since: int, stop: int, topics: tuple[str, ...] = (),
                       size: int = 1000) -> Iterator[list[Any]]:
    """The store's notifications after position ``since`` up to ``stop``, a page at a time."""
    start = since + 1
    while start <= stop and (page := app.recorder.select_notifications(start=start, limit=size, stop=stop,
                                                                         topics=topics)):
        yield list(page)
        start = page[-1].id + 1


def position_at(app: Orders, when: datetime) -> int:
    """The position of the last event recorded at or before ``when`` (its store time, ``recorded_at``).

    Found by bisection: the store records in position order, so recording times rise with positions.
    """
    low, high = 0, head(app)  # the answer is in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        found = app.recorder.select_notifications(start=middle, limit=1)
        notification = found[0] if found else None
        if notification is None or notification.id > high:  # no event in [middle, high] (a gap in the positions)
            high = middle - 1
        elif app.mapper.to_domain_event(notification).timestamp <= when:
            low = notification.id
        else:
            high = middle - 1
    return low


class OrderKeys:
    """Web Order No., storefront reference and pseudonymous customer key of orders, read a page's worth at a time."""

    def __init__(self, app: Orders, db: Database):
        self.app, self.db = app, db

    def of(self, order_ids: Iterable[str]) -> dict[str, tuple[str | None, str | None, str | None]]:
        ids = sorted(set(order_ids))
        found: dict[str, tuple[str | None, str | None, str | None]] = {}
        subjects = self.app.customer_keys.subjects_of(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.db.query(f"SELECT id, web_order_no, storefront_reference FROM web_orders "
                                 f"WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            found.update({order_id: (no, ref, subjects.get(order_id)) for order_id, no, ref in rows})
        for order_id in ids:
            found.setdefault(order_id, (None, None, subjects.get(order_id)))
        return found


def event_batches(app: Orders, db: Database, since: int = 0, stop: int | None = None, streams: Iterable[str] = ("order",),
                  include_personal: bool = False) -> Iterator[list[dict[str, Any]]]:
    """The events after position ``since`` (up to ``stop``, default the store's head) of these kinds of stream,
    as :data:`~orderflow.analyst.columns.EVENTS` rows, a page at a time."""
    streams = set(streams)
    keys = OrderKeys(app, db)
    names = personal_fields().names
    for page in notification_pages(app, since, head(app) if stop is None else stop):
        page = [n for n in page if stream_of(n.topic) in streams]
        events = app.mapper.to_domain_events(page)
        orders = keys.of(str(e.originator_id) for n, e in zip(page, events, strict=True) if n.topic.startswith(ORDER_TOPICS))
        rows = []
        for notification, event in zip(page, events, strict=True):
            stream = stream_of(notification.topic)
            no, ref, customer = orders.get(str(event.originator_id), (None, None, None)) if stream == "order" else (None,) * 3
            actor = getattr(event, "actor", None) or {}
            payload = plain({k: v for k, v in vars(event).items() if k not in ENVELOPE})
            rows.append({
                "position": notification.id,
                "stream": stream,
                "event_type": type(event).__qualname__,
                "order_id": str(event.originator_id) if stream == "order" else None,
                "web_order_no": no or getattr(event, "web_order_no", None),
                "storefront_reference": ref or getattr(event, "storefront_reference", None),
                "customer_key": customer,
                "event_version": event.originator_version,
                "at": getattr(event, "at", None) or event.timestamp,
                "recorded_at": event.timestamp,
                **{k: actor.get(k) for k in ("user_type", "user_no", "person_name", "company")},
                "workflow_status": getattr(event, "workflow_status", None) or None,
                "payload": json.dumps(payload if include_personal else _mask_keys(payload, names), sort_keys=True,
                                      ensure_ascii=False),
            })
        yield _masked(EVENTS, rows, include_personal)


def table_batches(app: Orders, db: Database, table: str, since: int = 0, include_personal: bool = False,
                  released: frozenset[str] = frozenset()) -> Iterator[list[dict[str, Any]]]:
    """The rows of a read-model table (those changed after position ``since``), typed, in its key's order.

    ``released``: the parked messages released after ``since`` (their rows changed, not their position).
    """
    columns, key = TABLES[table], KEYS[table]
    where, params = _changed_since(table, since, released)
    names = ", ".join(c.name for c in columns)
    keys = OrderKeys(app, db) if table == "web_orders" else None
    last: tuple[Any, ...] | None = None
    while True:
        after = f"({', '.join(key)}) > ({', '.join('?' * len(key))})" if last else "1 = 1"
        rows = db.query(f"SELECT {names} FROM {table} t WHERE ({where}) AND {after} ORDER BY {', '.join(key)} LIMIT ?",
                        [*params, *(last or ()), BATCH])
        if not rows:
            return
        batch = [{c.name: typed(c.kind, v) for c, v in zip(columns, row, strict=True)} for row in rows]
        last = tuple(rows[-1][[c.name for c in columns].index(k)] for k in key)
        if keys is not None:
            customers = keys.of(row["id"] for row in batch)
            for row in batch:
                row["customer_key"] = customers[row["id"]][2]
        if table == "error_journal" and not include_personal:
            for row in batch:
                row["key"] = row["key"] and redact_text(row["key"])
        yield _masked(columns, batch, include_personal)
        if len(rows) < BATCH:
            return


def released_since(app: Orders, since: int, stop: int) -> frozenset[str]:
    """The parked messages released (applied or rejected) by the events after ``since`` up to ``stop``."""
    if not since:
        return frozenset()
    return frozenset(event.message_id for page in notification_pages(app, since, stop, (RELEASED,))
                     for event in app.mapper.to_domain_events(page))


def _changed_since(table: str, since: int, released: frozenset[str]) -> tuple[str, list[Any]]:
    """The condition picking the rows of ``table`` that events after ``since`` wrote or changed."""
    if not since:
        return "1 = 1", []
    if table == "web_order_version_lines":
        return ("EXISTS (SELECT 1 FROM web_order_versions v WHERE v.order_id = t.order_id "
                "AND v.version_no = t.version_no AND v.position > ?)"), [since]
    if table == "status_history":  # a new period closes the one before it: every period of such an order
        return "order_id IN (SELECT order_id FROM status_history WHERE position > ?)", [since]
    if table == "parked_messages" and released:
        return f"position > ? OR message_id IN ({', '.join('?' * len(released))})", [since, *sorted(released)]
    if table == "error_journal":  # what the back office did to an entry changes its row, not its position
        return "changed_position > ?", [since]
    return "position > ?", [since]


def _masked(columns: tuple[Column, ...], rows: list[dict[str, Any]], include_personal: bool) -> list[dict[str, Any]]:
    if include_personal:
        return rows
    personal = [c.name for c in columns if c.personal]
    for row in rows:
        for name in personal:
            if row.get(name):
                row[name] = MASK
    return rows


def _mask_keys(value: Any, names: frozenset[str]) -> Any:
    """``value`` with the value of every personal key (at any depth) replaced by the mask."""
    if isinstance(value, dict):
        return {k: (MASK if k in names and isinstance(v, str) and v else _mask_keys(v, names)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_keys(v, names) for v in value]
    return value


# -- writing -----------------------------------------------------------------------------------------------


def write_table(path: Path, columns: tuple[Column, ...], batches: Iterable[list[dict[str, Any]]]) -> int:
    """Write typed rows to ``path`` in the format its suffix names; return how many rows."""
    fmt = path.suffix.lstrip(".")
    writer = {"jsonl": _write_jsonl, "csv": _write_csv, "parquet": _write_parquet}[fmt]
    return writer(path, columns, batches)


def _write_jsonl(path: Path, columns: tuple[Column, ...], batches: Iterable[list[dict[str, Any]]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as f:
        for batch in batches:
            f.writelines(json.dumps(plain({c.name: row.get(c.name) for c in columns}), ensure_ascii=False) + "\n"
                         for row in batch)
            count += len(batch)
    return count


def _write_csv(path: Path, columns: tuple[Column, ...], batches: Iterable[list[dict[str, Any]]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([c.name for c in columns])
        for batch in batches:
            writer.writerows([csv_text(c.kind, row.get(c.name)) for c in columns] for row in batch)
            count += len(batch)
    return count


def _write_parquet(path: Path, columns: tuple[Column, ...], batches: Iterable[list[dict[str, Any]]]) -> int:
    pyarrow = parquet_module()
    schema = arrow_schema(columns)
    decimals = [c.name for c in columns if c.kind == "decimal"]
    count = 0
    with pyarrow.parquet.ParquetWriter(path, schema) as writer:  # one row group per batch: memory stays flat
        for batch in batches:
            for row in batch:
                for name in decimals:
                    if row.get(name) is not None:
                        row[name] = row[name].quantize(DECIMAL_PLACES)
            writer.write_batch(pyarrow.RecordBatch.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def parquet_module() -> Any:
    """pyarrow with its Parquet module, imported on first use: only ``export --format parquet`` needs it."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise MissingExtra("export --format parquet needs pyarrow: pip install 'orderflow[parquet]'") from None
    return pyarrow


# -- the export ----------------------------------------------------------------------------------------------


def export(app: Orders, db: Database, out: Path, fmt: str = "jsonl", since: int = 0,
           streams: Iterable[str] = ("order",), include_personal: bool = False) -> dict[str, Any]:
    """Write ``events`` and every read-model table into ``out``, one file each, and ``export.json``.

    Only what events after position ``since`` wrote (0: everything). Returns the manifest, also written
    to ``export.json``: the files and their row counts, ``since`` and ``continue_from`` (the position to
    pass as ``since`` next time).
    """
    if fmt == "parquet":
        parquet_module()  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    stop = head(app)
    streams = tuple(streams)
    files = {"events": write_table(out / f"events.{fmt}", EVENTS,
                                   event_batches(app, db, since, stop, streams, include_personal))}
    released = released_since(app, since, stop)
    for table in TABLES:
        files[table] = write_table(out / f"{table}.{fmt}", exported(table),
                                   table_batches(app, db, table, since, include_personal, released))
    manifest = {"since": since, "continue_from": max(stop, since), "format": fmt, "streams": list(streams),
                "include_personal": include_personal,
                "files": [{"table": t, "file": f"{t}.{fmt}", "rows": n} for t, n in files.items()]}
    (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


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
    """Every row of a table as a dict, ordered by its columns (for comparing tables in tests)."""
    columns = table_columns(db, table)
    order = ", ".join(str(i + 1) for i in range(len(columns)))
    return [dict(zip(columns, row, strict=True)) for row in db.query(f"SELECT * FROM {table} ORDER BY {order}")]
