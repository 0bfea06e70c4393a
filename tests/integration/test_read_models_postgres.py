"""The read models on a real PostgreSQL: rebuilt equals live (followed or written with the events), and how fast a
rebuild runs."""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderflow.projections.rebuild import rebuild
from tests.unit.test_read_models import (
    check_replays_change_nothing,
    check_written_with_the_events,
    drive,
    histories,
    open_store,
    realistic_history,
    snapshot,
)

BATCHES = 100  # 300 orders, about 1,900 events


@pytest.fixture
def store(database_url):
    app, db, runner = open_store(database_url, batch_size=50)
    yield app, db, runner
    db.close()
    app.close()


def test_rebuilt_read_models_on_postgres_equal_the_live_ones_and_keep_their_keys(store):
    app, db, runner = store
    for batch in range(BATCHES):
        realistic_history(app, batch)
        if batch % 10 == 0:
            runner.run_once()
    runner.catch_up()
    live = snapshot(app, db)
    rebuild(app, db)
    rebuild(app, db)  # the renamed tables' indexes got their live names back, or this would clash
    assert snapshot(app, db) == live
    keys = db.query("SELECT indexname FROM pg_indexes WHERE tablename IN ('web_orders', 'event_log') ORDER BY 1")
    assert keys == [("event_log_pkey",), ("web_orders_pkey",), ("web_orders_storefront_reference_key",)]


def test_rebuild_rate_on_postgres_is_measured(store, capsys):
    app, db, runner = store
    for batch in range(BATCHES):
        realistic_history(app, batch)
    started = time.perf_counter()
    positions = rebuild(app, db)
    elapsed = time.perf_counter() - started
    events = positions["web_orders"]
    with capsys.disabled():
        print(f"\nrebuild of {len(positions)} read models: {events} events in {elapsed:.2f} s, "
              f"{events / elapsed:,.0f} events/s (each view applies every event)")
    assert events == runner.head()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=histories(), replayed=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted))
def test_on_postgres_rebuilt_read_models_equal_the_live_ones_and_reapplied_events_change_nothing(
    postgres_server, steps, replayed
):
    url = postgres_server.create_database(f"prop_{uuid.uuid4().hex[:12]}")
    app, db, runner = open_store(url, batch_size=4)
    try:
        drive(app, steps, lambda ref, when: runner.run_once())
        runner.catch_up()
        live = snapshot(app, db)
        check_replays_change_nothing(app, db, runner, live, replayed)
    finally:
        db.close()
        app.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=histories(), replayed=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted))
def test_on_postgres_read_models_written_with_the_events_equal_the_rebuilt_ones(postgres_server, steps, replayed):
    url = postgres_server.create_database(f"prop_{uuid.uuid4().hex[:12]}")
    app, db, runner = open_store(url, batch_size=4, inline=True)
    try:
        check_written_with_the_events(app, db, runner, steps, replayed)
    finally:
        db.close()
        app.close()


def test_on_postgres_a_batch_written_with_the_events_copies_its_rows_in_the_same_transaction(database_url):
    app, db, runner = open_store(database_url, inline=True)
    try:
        with app.batch():
            for batch in range(5):  # enough rows for COPY (base.COPY_FROM)
                realistic_history(app, batch)
        live = snapshot(app, db)
        assert runner.run_once() == 0
        assert len(live["web_orders"]) == 15
        rebuild(app, db)
        assert snapshot(app, db) == live
    finally:
        db.close()
        app.close()
