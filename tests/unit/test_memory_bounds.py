"""The engine's memory does not grow with the number of orders (issue 10: peak RSS flat from 1× to 10×).

The engine keeps web orders in three caches (the consumer's, the projections'
and the outbound publisher's); each is full long before a run of a few thousand
orders ends, so a run of ten times as many orders holds no more of them.
"""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace
from uuid import uuid4

from orderflow.bootstrap import bootstrap
from orderflow.outbound import OutboundPublisher
from orderflow.projections.follow import CACHED_ORDERS, AggregateFollower
from orderflow.settings import Settings

#: The orders of the benchmark's 1× run (``bench/run.py``, size full): the caches must be full before it ends.
BENCH_ONE_X_ORDERS = 3_500


class _Created:
    """An order's first event: ``mutate`` gives a new aggregate at version 1."""

    originator_version = 1

    def __init__(self) -> None:
        self.originator_id = uuid4()

    def mutate(self, aggregate: object) -> object:
        return SimpleNamespace(id=self.originator_id, version=1)


def test_the_follower_keeps_at_most_cached_orders_however_many_orders_it_follows() -> None:
    follower = AggregateFollower(app=None)  # type: ignore[arg-type] - first events never read the store
    events = [_Created() for _ in range(BENCH_ONE_X_ORDERS)]
    for event in events:
        follower.advance(event)
    assert len(follower._cache) == CACHED_ORDERS < BENCH_ONE_X_ORDERS
    assert list(follower._cache)[-1] == events[-1].originator_id  # the newest kept, the oldest dropped


def test_every_order_cache_of_the_engine_is_full_before_the_benchmarks_one_x_run_ends(tmp_path) -> None:
    engine = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'orders.db'}"))
    try:
        outbound = OutboundPublisher(engine.app, engine.db, SimpleNamespace(), engine.settings.topics)
        capacities = [engine.app.cache_size, engine.projections.follower.capacity, outbound.follower.capacity]
        assert capacities == [CACHED_ORDERS] * 3
        assert CACHED_ORDERS <= 2_000 < BENCH_ONE_X_ORDERS
    finally:
        engine.close()


def test_the_wire_forms_of_versions_are_remembered_for_at_most_versions_cached_versions() -> None:
    from datetime import datetime

    from orderflow.aggregates.lines import Version, VersionKind
    from orderflow.outbound import messages

    messages._VERSIONS.clear()
    at = datetime(2026, 11, 30, tzinfo=UTC)
    versions = [Version(1, VersionKind.ORIGINAL, (), at, "") for _ in range(BENCH_ONE_X_ORDERS)]
    wired = [messages._version(version) for version in versions]
    assert len(messages._VERSIONS) == messages.VERSIONS_CACHED < BENCH_ONE_X_ORDERS
    assert messages._version(versions[-1]) is wired[-1]  # the most recent are still remembered
    assert all(entry[0] is not versions[0] for entry in messages._VERSIONS.values())  # the oldest is let go
    messages._VERSIONS.clear()


def test_customer_keys_and_order_subjects_are_kept_for_at_most_cached_subjects(tmp_path) -> None:
    import sqlite3

    from orderflow.application import shredding

    class _Store:  # the library's datastore, as CustomerKeys uses it: a schema and transactions
        schema = ""

        def __init__(self, path: str) -> None:
            self.conn = sqlite3.connect(path)
            self.conn.row_factory = sqlite3.Row

        def transaction(self, commit: bool = True):
            from contextlib import contextmanager

            @contextmanager
            def cursor():
                yield self.conn.cursor()
                self.conn.commit()

            return cursor()

    keys = shredding.CustomerKeys(_Store(str(tmp_path / "keys.db")))
    subjects = [keys.subject_for(f"customer-{n}", f"order-{n}") for n in range(BENCH_ONE_X_ORDERS)]
    for subject in subjects:  # before their rows are written, new customers' keys are never lost to the bound
        assert keys.key(subject) is not None
    with keys._datastore.transaction() as cursor:  # what the recorder does with the batch's staged rows
        for rows in keys._staged.rows:
            cursor.executemany(f"INSERT OR IGNORE INTO {rows.table} ({', '.join(rows.columns)}) "
                               f"VALUES ({', '.join('?' * len(rows.columns))})", rows.rows)
    keys._staged.clear()
    keys.settle(recorded=True)
    for subject in subjects[:10] + subjects[-10:]:  # from memory or read again from the store
        assert keys.key(subject) is not None
    assert shredding.CACHED_SUBJECTS < BENCH_ONE_X_ORDERS
    assert len(keys._orders) <= shredding.CACHED_SUBJECTS
    assert len(keys._keys) <= shredding.CACHED_SUBJECTS
    assert keys.subject_of_order("order-0") == subjects[0]  # dropped from memory, read again from the store
