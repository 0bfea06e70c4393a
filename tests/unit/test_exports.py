"""Exports as analysts' tools read them: fixed types (read back with DuckDB), the book as of any instant,
increments that add up to the full export, personal data masked unless asked for, no silent limits.

``assert_every_export_is_typed`` also runs on PostgreSQL (tests/integration/test_exports_postgres.py).
"""

from __future__ import annotations

import csv
import json
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from orderflow.aggregates.web_order import WebOrder
from orderflow.analyst.book import order_book
from orderflow.analyst.columns import BOOK, EVENTS, KEYS, TABLES, exported
from orderflow.analyst.export import export, table_columns
from orderflow.analyst.history import describe, order_as_of
from orderflow.application.orders import Orders
from orderflow.db import Database
from orderflow.projections.catalog import all_views
from orderflow.settings import Settings
from tests.strategies import CLERK, CUSTOMER, at
from tests.unit.test_analyst import run
from tests.unit.test_read_models import REFERENCES, drive, histories, open_store, realistic_history

DUCKDB_TYPES = {
    "text": "VARCHAR", "json": "VARCHAR", "money": "DECIMAL(18,2)", "decimal": "DECIMAL(38,10)",
    "time": "TIMESTAMP WITH TIME ZONE", "date": "DATE", "int": "INTEGER", "bigint": "BIGINT", "bool": "BOOLEAN",
}
PERSONAL = ("Ann Buyer", "ann@acme.test", "+1 555 0100", "1 Main St", "Springfield", "Carl Clerk", "Mia Manager")


def duckdb_types(path: Path) -> dict[str, str]:
    """Each column's type as DuckDB reads the file, with no cast and no hint."""
    return {name: kind for name, kind, *_ in duckdb.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}


def assert_every_export_is_typed(app: Orders, db: Database, out: Path) -> dict[str, dict[str, str]]:
    """Export as Parquet (and the book as of now): DuckDB reads every column with its fixed type. Returns the types."""
    manifest = export(app, db, out, "parquet", streams=("order", "setup", "inbox", "bookkeeping"))
    files = {f["table"]: out / f["file"] for f in manifest["files"]}
    assert set(files) == {"events", *TABLES}
    found = {table: duckdb_types(path) for table, path in files.items()}
    expected = {"events": EVENTS, **{table: exported(table) for table in TABLES}}
    for table, columns in expected.items():
        assert found[table] == {c.name: DUCKDB_TYPES[c.kind] for c in columns}, table
    return found


@pytest.fixture
def store(tmp_path):
    app, db, runner = open_store(f"sqlite:///{tmp_path}/x.db")
    yield app, db, runner
    db.close()
    app.close()


@pytest.fixture
def cli(tmp_path):
    """A SQLite store with the realistic history, for the CLI."""
    url = f"sqlite:///{tmp_path}/cli.db"
    app = Orders(url)
    realistic_history(app)
    app.close()
    return Settings(database_url=url)


# -- typed --------------------------------------------------------------------------------------------------


def test_duckdb_reads_every_parquet_export_with_its_fixed_types(store, tmp_path):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    types = assert_every_export_is_typed(app, db, tmp_path / "out")
    assert {k: types["web_orders"][k] for k in ("order_date", "current_total", "last_change_at", "refused", "position")} == {
        "order_date": "DATE", "current_total": "DECIMAL(18,2)", "last_change_at": "TIMESTAMP WITH TIME ZONE",
        "refused": "BOOLEAN", "position": "BIGINT"}
    assert types["web_order_version_lines"]["quantity"] == "DECIMAL(38,10)"
    total, date, shipped = duckdb.sql(
        f"SELECT current_total, order_date, last_change_at FROM '{tmp_path}/out/web_orders.parquet' "
        "WHERE storefront_reference = 'SF-1'").fetchall()[0]
    assert (total, str(date), shipped.isoformat()) == (Decimal("30.00"), "2024-03-01", "2024-03-01T14:00:00+00:00")


def test_an_empty_store_exports_the_same_types_as_a_full_one(store, tmp_path):
    app, db, runner = store
    runner.catch_up()
    types = assert_every_export_is_typed(app, db, tmp_path / "out")
    assert types["error_journal"]["partition"] == "INTEGER" and types["events"]["at"] == "TIMESTAMP WITH TIME ZONE"


def test_the_export_schemas_name_every_column_of_every_read_model_table(store):
    app, db, runner = store
    runner.catch_up()
    tables = [table for view in all_views(db.is_postgres, app) for table in view.tables]
    assert sorted(tables) == sorted(TABLES)
    for table in tables:
        assert table_columns(db, table) == [c.name for c in TABLES[table]], table
        assert set(KEYS[table]) <= {c.name for c in TABLES[table]}


def test_csv_exports_have_a_header_iso_times_with_an_offset_and_money_as_exact_decimal_text(cli, tmp_path):
    assert run(cli, "export", "--format", "csv", "--out", str(tmp_path / "out")) == 0
    with (tmp_path / "out/web_orders.csv").open() as f:
        rows = {row["storefront_reference"]: row for row in csv.DictReader(f)}
    assert list(rows["SF-1"])[:3] == ["id", "web_order_no", "storefront_reference"]
    assert (rows["SF-1"]["current_total"], rows["SF-1"]["amount_paid"], rows["SF-1"]["refused"]) == ("30.00", "0.00", "false")
    assert rows["SF-1"]["last_change_at"] == "2024-03-01T14:00:00+00:00" and rows["SF-1"]["order_date"] == "2024-03-01"
    assert rows["SF-3"]["current_total"] == ""  # refused: no total, not "None"


# -- events --------------------------------------------------------------------------------------------------


def test_the_events_export_holds_order_actions_with_their_order_and_says_their_stream(cli, tmp_path):
    assert run(cli, "export", "--out", str(tmp_path / "orders")) == 0
    events = [json.loads(line) for line in (tmp_path / "orders/events.jsonl").read_text().splitlines()]
    assert {e["stream"] for e in events} == {"order"}
    assert all(e["web_order_no"] and e["storefront_reference"] and e["customer_key"] for e in events)
    shipped = [e for e in events if e["event_type"] == "WebOrder.ShipmentPosted"]
    assert [(e["storefront_reference"], e["web_order_no"], e["at"]) for e in shipped] == [
        ("SF-1", "WO0000000001", "2024-03-01T13:00:00Z"), ("SF-1", "WO0000000001", "2024-03-01T14:00:00Z")]
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert run(cli, "export", "--all-events", "--out", str(tmp_path / "all")) == 0
    every = [json.loads(line) for line in (tmp_path / "all/events.jsonl").read_text().splitlines()]
    assert {e["stream"] for e in every} == {"order", "inbox", "bookkeeping"}
    assert [e["position"] for e in every] == list(range(1, len(every) + 1))
    assert {e["event_type"] for e in every if e["stream"] == "bookkeeping"} == {"NumberBlock.Reserved"}


# -- the book as of an instant ----------------------------------------------------------------------------


def _book(app: Orders, db: Database, when: Any) -> dict[str, dict[str, Any]]:
    return {row["storefront_reference"]: row for batch in order_book(app, db, when) for row in batch}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=histories(), instants=st.lists(st.integers(-5, 7 * 40), min_size=1, max_size=5))
def test_the_book_as_of_any_instant_is_every_order_as_history_as_of_gives_it(steps, instants):
    with tempfile.TemporaryDirectory() as directory:
        app, db, runner = open_store(f"sqlite:///{directory}/x.db", batch_size=7)
        try:
            drive(app, steps, lambda ref, when: None)
            runner.catch_up()
            for minutes in instants:
                when = at(minutes) + timedelta(seconds=30 * (minutes % 2))  # between actions, and on one
                book = _book(app, db, when)
                for ref in REFERENCES:
                    try:
                        described = describe(*order_as_of(app, WebOrder.create_id(ref), when))
                    except LookupError:
                        assert ref not in book, "an order placed after the instant is not in the book"
                        continue
                    row = book[ref]
                    assert (row["workflow_status"], row["approval"], row["event_version"], row["current_version"],
                            row["current_total"], row["amount_paid"], row["web_order_no"]) == (
                        described["workflow_status"], described["approval"]["state"], described["event_version"],
                        described["current_version"],
                        None if described["refused"] else Decimal(described["current_total"]),
                        Decimal(described["amount_paid"]), described["web_order_no"])
        finally:
            db.close()
            app.close()


def test_orders_as_of_and_export_as_of_give_the_book_at_that_instant(cli, tmp_path, capsys):
    assert run(cli, "orders", "--as-of", "2024-03-01T10:00:00Z", "--json") == 0
    book = {o["storefront_reference"]: o for o in map(json.loads, capsys.readouterr().out.splitlines())}
    assert {ref: (o["workflow_status"], o["current_version"]) for ref, o in book.items()} == {
        "SF-1": ("Reservation", 1), "SF-2": ("Received", 1), "SF-3": (None, None)}
    assert run(cli, "export", "--as-of", "2024-03-01T10:00:00Z", "--format", "parquet", "--out", str(tmp_path / "b")) == 0
    assert duckdb_types(tmp_path / "b/book.parquet") == {c.name: DUCKDB_TYPES[c.kind] for c in BOOK}
    by_status = duckdb.sql(f"SELECT workflow_status, count(*) FROM '{tmp_path}/b/book.parquet' "
                           "GROUP BY ALL ORDER BY ALL").fetchall()
    assert by_status == [("Received", 1), ("Reservation", 1), (None, 1)]


# -- incremental -------------------------------------------------------------------------------------------


def _load(folder: Path, tables: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """Load an export's JSON lines into ``tables`` as a warehouse would: events appended, table rows by key replaced."""
    tables = tables if tables is not None else {}
    for table in ("events", *TABLES):
        rows = [json.loads(line) for line in (folder / f"{table}.jsonl").read_text().splitlines()]
        if table == "events":
            tables.setdefault(table, []).extend(rows)
            continue
        loaded = {tuple(r[k] for k in KEYS[table]): r for r in tables.get(table, [])}
        loaded.update({tuple(r[k] for k in KEYS[table]): r for r in rows})
        tables[table] = sorted(loaded.values(), key=lambda r: tuple(str(r[k]) for k in KEYS[table]))
    return tables


def test_increments_loaded_one_after_another_equal_one_full_export(cli, tmp_path, capsys):
    assert run(cli, "export", "--out", str(tmp_path / "day1")) == 0
    continue_from = json.loads((tmp_path / "day1/export.json").read_text())["continue_from"]
    assert capsys.readouterr().err.strip().endswith(f"--since-position {continue_from}")
    app = Orders(cli.database_url)
    realistic_history(app, batch=1)  # new orders, and old ones change: a comment, a release, a status closed
    app.add_comment("SF-1", "Where is the rest?", CUSTOMER, at(400))
    app.release_sales_document("SF-2", Decimal("35.00"), CLERK, at(600))
    app.close()
    assert run(cli, "export", "--since-position", str(continue_from), "--out", str(tmp_path / "day2")) == 0
    day2 = json.loads((tmp_path / "day2/export.json").read_text())
    assert day2["since"] == continue_from and day2["continue_from"] > continue_from
    assert 0 < len((tmp_path / "day2/web_orders.jsonl").read_text().splitlines()) < 6, "only the orders that changed"
    assert run(cli, "export", "--out", str(tmp_path / "full")) == 0
    assert _load(tmp_path / "day2", _load(tmp_path / "day1")) == _load(tmp_path / "full")


def test_an_increment_since_a_time_starts_after_the_events_recorded_until_then(cli, tmp_path):
    assert run(cli, "export", "--since", "2000-01-01T00:00:00Z", "--out", str(tmp_path / "all")) == 0
    assert json.loads((tmp_path / "all/export.json").read_text())["since"] == 0
    assert run(cli, "export", "--since", "2099-01-01T00:00:00Z", "--out", str(tmp_path / "none")) == 0
    manifest = json.loads((tmp_path / "none/export.json").read_text())
    assert manifest["since"] == manifest["continue_from"] and {f["rows"] for f in manifest["files"]} == {0}


# -- personal data -------------------------------------------------------------------------------------------


def _text_of(folder: Path) -> str:
    return "".join(p.read_text() for p in folder.iterdir())


def test_exports_mask_personal_fields_by_default_and_keep_a_pseudonymous_customer_key(cli, tmp_path):
    assert run(cli, "export", "--all-events", "--out", str(tmp_path / "a")) == 0
    text = _text_of(tmp_path / "a")
    assert not [p for p in PERSONAL if p in text] and "<personal>" in text
    orders = [json.loads(line) for line in (tmp_path / "a/web_orders.jsonl").read_text().splitlines()]
    keys = {o["storefront_reference"]: o["customer_key"] for o in orders}
    assert keys["SF-1"] and keys["SF-1"] == keys["SF-2"], "one customer (C-100), one key"
    assert run(cli, "export", "--out", str(tmp_path / "b")) == 0
    again = [json.loads(line) for line in (tmp_path / "b/web_orders.jsonl").read_text().splitlines()]
    assert {o["storefront_reference"]: o["customer_key"] for o in again} == keys, "the same in every export"
    app = Orders(cli.database_url)
    app.forget_customer("C-100", "U-DPO", at(900))
    app.close()
    assert run(cli, "projections", "rebuild") == 0
    assert run(cli, "export", "--out", str(tmp_path / "c")) == 0
    forgotten = [json.loads(line) for line in (tmp_path / "c/web_orders.jsonl").read_text().splitlines()]
    assert {o["storefront_reference"]: o["customer_key"] for o in forgotten} == keys, "stable after a forget"


def test_personal_data_is_exported_only_when_asked_for_by_a_named_user_and_that_is_logged(cli, tmp_path, capsys,
                                                                                        monkeypatch):
    assert run(cli, "export", "--include-personal", "--out", str(tmp_path / "x")) == 2
    assert "--user" in capsys.readouterr().err and not (tmp_path / "x").exists()
    with capture_logs() as logs:
        from orderflow.cli import analyst
        args = _parse("export", "--include-personal", "--user", "U-ANA", "--out", str(tmp_path / "y"))
        assert analyst.cmd_export(cli, args) == 0
    assert {"event": "personal data exported", "user": "U-ANA"}.items() <= next(
        e for e in logs if e["event"] == "personal data exported").items()
    assert all(p in _text_of(tmp_path / "y") for p in ("Ann Buyer", "Carl Clerk"))


def _parse(*argv: str) -> Any:
    import argparse

    from orderflow.cli import analyst
    parser = argparse.ArgumentParser(prog="orderflow")
    analyst.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


# -- no silent limit ----------------------------------------------------------------------------------------


def test_orders_as_json_prints_every_row_and_a_table_says_on_stderr_when_a_limit_cut_it(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/many.db"
    app = Orders(url)
    for batch in range(20):  # 60 orders
        realistic_history(app, batch)
    app.close()
    many = Settings(database_url=url)
    assert run(many, "orders", "--json") == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 60 and captured.err == ""
    assert run(many, "orders") == 0
    assert "showing the first 50 rows; more exist" in capsys.readouterr().err
    assert run(many, "orders", "--json", "--limit", "10") == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 10 and "first 10 rows" in captured.err


def test_docs_read_models_lists_the_schema_of_every_export_file():
    doc = (Path(__file__).parents[2] / "docs/read-models.md").read_text()
    files = {"events": EVENTS, **{table: exported(table) for table in TABLES}, "book": BOOK}
    for name, columns in files.items():
        described = ", ".join(f"{c.name} {c.kind}" + (" (personal)" if c.personal else "") for c in columns)
        assert f"| `{name}` | {described} |" in doc, name
