"""Orders do not affect one another: any interleaving of their stories gives the same read models.

Only what records arrival order may differ: Web Order Nos. (issued in order of
placement), event-store positions and ids derived from them.
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.application.orders import Orders
from orderflow.consumers.handlers import apply
from orderflow.contract.envelope import Envelope
from orderflow.db import Database
from orderflow.projections.catalog import all_views
from orderflow.projections.runner import ProjectionRunner
from orderflow.traffic.simulate import traffic

SETUP, *STORIES = [envelope for _, envelope in traffic(4, seed=5)]
ARRIVAL_COLUMNS = {"position", "web_order_no"}


def interleavings() -> st.SearchStrategy[list[Envelope]]:
    """The stories merged in any order that keeps each order's own messages in theirs."""
    stories: dict[str, list[Envelope]] = defaultdict(list)
    for envelope in STORIES:
        stories[envelope.key].append(envelope)

    def merge(keys: list[str]) -> list[Envelope]:
        taken = Counter()
        merged = []
        for key in keys:
            merged.append(stories[key][taken[key]])
            taken[key] += 1
        return merged

    return st.permutations([envelope.key for envelope in STORIES]).map(merge)


def read_models(envelopes: list[Envelope]) -> dict[str, Counter]:
    """Every read model's rows, minus arrival columns, after applying the setup and ``envelopes``."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/orders.db"
        app, db = Orders(url), Database(url)
        try:
            for envelope in [SETUP, *envelopes]:
                apply(app, envelope)
            runner = ProjectionRunner(app, db, all_views(db.is_postgres, app))
            runner.catch_up()
            return {table: _rows(db, table) for view in runner.views for table in view.tables}
        finally:
            db.close()
            app.close()


def _rows(db: Database, table: str) -> Counter:
    with db.transaction() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        names = [column[0] for column in cursor.description]
        return Counter(
            tuple((name, value) for name, value in zip(names, row, strict=True) if name not in ARRIVAL_COLUMNS)
            for row in cursor.fetchall()
        )


@cache
def in_sending_order() -> dict[str, Counter]:
    return read_models(STORIES)


def test_the_stories_fill_every_read_model_the_interleavings_are_compared_on():
    models = in_sending_order()
    assert sum(models["web_orders"].values()) == 4
    assert sum(models["event_log"].values()) >= len(STORIES)
    assert all(sum(models[table].values()) for table in ("status_history", "web_order_versions", "web_order_version_lines"))


@settings(max_examples=25, deadline=None)
@given(interleavings())
def test_any_interleaving_of_the_orders_stories_yields_the_same_read_models(envelopes):
    assert read_models(envelopes) == in_sending_order()
