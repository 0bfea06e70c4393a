"""The read models on a real PostgreSQL: rebuilt equals live, and how fast a rebuild runs."""

from __future__ import annotations

import time

import pytest

from orderflow.projections.rebuild import rebuild
from tests.unit.test_read_models import open_store, realistic_history, snapshot

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
