"""Exports from a real PostgreSQL: DuckDB reads every Parquet file with the same fixed types as on SQLite,
and the book as of an instant is every order as ``history --as-of`` gives it."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from orderflow.aggregates.web_order import WebOrder
from orderflow.analyst.history import describe, order_as_of
from tests.strategies import at
from tests.unit.test_exports import _book, assert_every_export_is_typed
from tests.unit.test_read_models import open_store, realistic_history


@pytest.fixture
def store(database_url):
    app, db, runner = open_store(database_url, batch_size=50)
    yield app, db, runner
    db.close()
    app.close()


def test_duckdb_reads_every_export_of_a_postgres_store_with_its_fixed_types(store, tmp_path):
    app, db, runner = store
    runner.catch_up()
    assert_every_export_is_typed(app, db, tmp_path / "empty")
    for batch in range(3):
        realistic_history(app, batch)
    runner.catch_up()
    types = assert_every_export_is_typed(app, db, tmp_path / "full")
    assert (types["web_orders"]["order_date"], types["web_orders"]["current_total"]) == ("DATE", "DECIMAL(18,2)")
    [(kind,)] = db.query("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                         "AND table_name = 'web_orders' AND column_name = 'order_date'")
    assert kind == "date"
    rows = duckdb.sql(f"SELECT count(*), sum(current_total) FROM '{tmp_path}/full/web_orders.parquet'").fetchall()
    assert rows == [(9, Decimal("195.00"))]  # 3 x (30.00 + 35.00); the refused orders have no total


def test_the_book_on_postgres_equals_history_as_of_for_every_order(store):
    app, db, runner = store
    for batch in range(3):
        realistic_history(app, batch)
    runner.catch_up()
    for minutes in (0, 95, 200, 1000):
        book = _book(app, db, at(minutes))
        for batch in range(3):
            for ref in (f"SF-{3 * batch + i}" for i in (1, 2, 3)):
                try:
                    described = describe(*order_as_of(app, WebOrder.create_id(ref), at(minutes)))
                except LookupError:
                    assert ref not in book
                    continue
                assert (book[ref]["workflow_status"], book[ref]["event_version"], book[ref]["amount_paid"]) == (
                    described["workflow_status"], described["event_version"], Decimal(described["amount_paid"]))
