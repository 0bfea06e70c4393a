"""Every read model is a projection of the event store: its rows after a history, and rebuilt equals live.

Runs on SQLite files. ``drive`` and ``histories`` are shared with the
PostgreSQL integration test.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderflow.aggregates.errors import WebOrderError
from orderflow.aggregates.web_order import WebOrder
from orderflow.analyst.export import table_rows
from orderflow.analyst.history import describe, order_as_of
from orderflow.application.orders import Orders
from orderflow.consumers.dead_letters import Rejection, Source
from orderflow.db import Database
from orderflow.projections.catalog import all_views
from orderflow.projections.inline import InlineProjection
from orderflow.projections.rebuild import rebuild
from orderflow.projections.runner import ProjectionRunner
from tests.strategies import CLERK, CUSTOMER, MANAGER, at, b2b_payload, b2b_payloads, line, wire_lines

REFERENCES = ("SF-1", "SF-2", "SF-3")


def open_store(url: str, batch_size: int = 1000, inline: bool = False) -> tuple[Orders, Database, ProjectionRunner]:
    """The store, its read-model database and a runner of every view; ``inline``: the application also writes the
    views in its events' transactions, as the engine's does."""
    app, db = Orders(url), Database(url)
    runner = ProjectionRunner(app, db, all_views(db.is_postgres, app), batch_size=batch_size)
    if inline:
        InlineProjection.install(app, db)
    return app, db, runner


@pytest.fixture
def store(tmp_path):
    app, db, runner = open_store(f"sqlite:///{tmp_path}/x.db")
    yield app, db, runner
    db.close()
    app.close()


def snapshot(app: Orders, db: Database) -> dict[str, Any]:
    """Every read-model table's rows and every view's position."""
    tables = {table: table_rows(db, table) for view in all_views(db.is_postgres, app) for table in view.tables}
    return {**tables, "projection_tracking": table_rows(db, "projection_tracking")}


def reject_message(app: Orders, offset: int, when: Any) -> None:
    source = Source("orderflow.erp.v1", 0, offset, b"SF-9", b'{"bad": true}', [])
    rejection = Rejection(source, "unknown_order", "no web order SF-9", "m-9", "ShipmentPosted")
    app.save(rejection.journal_entry(when))


def realistic_history(app: Orders, batch: int = 0) -> None:
    """SF-1 goes Received → Reservation → (new version, approved) → Warehouse → shipped in two parts;
    SF-2 goes through a quote; SF-3 is refused; one ERP message is rejected. Batch ``n`` uses SF-3n+1 to SF-3n+3."""
    one, two, three = (f"SF-{3 * batch + i}" for i in (1, 2, 3))
    app.place_order(one, b2b_payload(), CUSTOMER, at(0))
    app.link_sales_document(one, "Order", f"SO-{one}", CLERK, at(60))
    app.refresh_from_sales_document(one, [line("1000", "3", "10.00")], CLERK, at(90), request_approval=True)
    app.approve(one, CUSTOMER, at(150))
    app.release_sales_document(one, Decimal("31.00"), CLERK, at(180))
    app.post_shipment(one, [{"line_no": 1, "quantity": Decimal(1)}], CLERK, at(240), "SH-1")
    app.post_shipment(one, [{"line_no": 1, "quantity": Decimal(2)}], CLERK, at(300), "SH-2")
    app.place_order(two, b2b_payload(checkout_type="Quote"), CUSTOMER, at(10))
    app.link_sales_document(two, "Quote", f"SQ-{two}", CLERK, at(20))
    app.make_order_from_quote(two, f"SO-{two}", MANAGER, at(500))
    app.place_order(three, b2b_payload(line("1000", "-1", "10.00")), CUSTOMER, at(30))
    reject_message(app, 10 * batch + 7, at(40))


def rows_of(db: Database, sql: str, *params: Any) -> list[tuple]:
    return db.query(sql, params)


# -- each view's rows after a realistic history ----------------------------------------------------------


def test_every_version_of_an_order_is_kept_with_its_kind_total_and_lines(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    versions = rows_of(db, "SELECT version_no, kind, source, total, line_count, created_at FROM web_order_versions "
                           "WHERE storefront_reference = ? ORDER BY version_no", "SF-1")
    assert versions == [
        (1, "Original", "", "35.00", 2, "2024-03-01T09:00:00+00:00"),
        (2, "Modified by Sales Doc.", "Order SO-SF-1", "30.00", 1, "2024-03-01T10:30:00+00:00"),
    ]
    lines = rows_of(db, "SELECT version_no, line_no, type, no, description, quantity, unit_of_measure_code, unit_price, "
                        "line_discount_pct, line_amount, prebook FROM web_order_version_lines "
                        "WHERE web_order_no = 'WO0000000001' ORDER BY version_no, line_no")
    assert lines == [
        (1, 1, "Item", "1000", "Item 1000", "2", "PCS", "10.00", "0", "20.00", 0),
        (1, 2, "Item", "2000", "Item 2000", "3", "PCS", "5.00", "0", "15.00", 0),
        (2, 1, "Item", "1000", "Item 1000", "3", "PCS", "10.00", "0", "30.00", 0),
    ]


def test_the_event_log_has_one_row_per_action_with_the_manuals_fields(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    rows = rows_of(db, "SELECT event_version, order_version, event_name, user_type, user_no, event_type, new_status, "
                       "person_name, company FROM event_log WHERE storefront_reference = 'SF-1' ORDER BY event_version")
    assert [r[:3] for r in rows] == [
        (1, 1, "Placed"), (2, 1, "LinkedToSalesDocument"), (3, 2, "RefreshedFromSalesDocument"),
        (4, 2, "ApprovalRequested"), (5, 2, "ApprovedByCustomer"), (6, 2, "SalesDocumentReleased"),
        (7, 2, "AmountMismatchFlagged"), (8, 2, "ShipmentPosted"), (9, 2, "ShipmentPosted"),
    ]
    assert rows[0][3:] == ("Web Account", "WA-1", "Order Placed", "Received", "Ann Buyer", "Acme Ltd")
    assert rows[1][3:] == ("Back Office User", "U-CLK", "Workflow Status Change", "Reservation", "Carl Clerk", "Shop")
    assert rows[4][5:7] == ("Approval Status Change", "Approved")
    [(comment, entry_time)] = rows_of(db, "SELECT comment, entry_time FROM event_log WHERE web_order_no = 'WO0000000001' "
                                          "AND event_version = 7")
    assert (comment, entry_time) == ("web order total 30.00, sales document total 31.00", "2024-03-01T12:00:00+00:00")


def test_a_refused_order_is_in_the_event_log_without_versions_or_status_periods(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    order_id = str(WebOrder.create_id("SF-3"))
    assert rows_of(db, "SELECT event_type, order_version FROM event_log WHERE order_id = ?", order_id) == [
        ("Order Refused", None)
    ]
    assert rows_of(db, "SELECT * FROM web_order_versions WHERE order_id = ?", order_id) == []
    assert rows_of(db, "SELECT * FROM status_history WHERE order_id = ?", order_id) == []


def test_status_history_has_one_period_per_workflow_status_and_only_the_current_one_is_open(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    periods = rows_of(db, "SELECT status, from_at, to_at, caused_by, changed_by FROM status_history "
                          "WHERE web_order_no = 'WO0000000001' ORDER BY opened_version")
    times = ["2024-03-01T09:00:00+00:00", "2024-03-01T10:00:00+00:00", "2024-03-01T12:00:00+00:00",
             "2024-03-01T13:00:00+00:00", "2024-03-01T14:00:00+00:00"]
    assert periods == [
        ("Received", times[0], times[1], "Placed", "WA-1"),
        ("Reservation", times[1], times[2], "LinkedToSalesDocument", "U-CLK"),
        ("Warehouse", times[2], times[3], "SalesDocumentReleased", "U-CLK"),
        ("Partially Shipped", times[3], times[4], "ShipmentPosted", "U-CLK"),
        ("Shipped", times[4], None, "ShipmentPosted", "U-CLK"),
    ]


def test_a_quote_link_opens_no_period_and_the_order_made_from_it_does(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    periods = rows_of(db, "SELECT status, caused_by FROM status_history WHERE web_order_no = 'WO0000000002' "
                          "ORDER BY opened_version")
    assert periods == [("Received", "Placed"), ("Reservation", "MadeOrderFromQuote")]


def test_a_rejected_message_is_in_the_error_journal_with_its_original_bytes(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    [row] = rows_of(db, "SELECT topic, partition, record_offset, key, message_id, message_type, reason, error, "
                        "rejected_at, value_b64 FROM error_journal")
    assert row[:9] == ("orderflow.erp.v1", 0, 7, "SF-9", "m-9", "ShipmentPosted", "unknown_order",
                       "no web order SF-9", "2024-03-01T09:40:00+00:00")
    assert base64.b64decode(row[9]) == b'{"bad": true}'


def test_the_catalog_lists_web_orders_first_and_every_table_once():
    views = all_views(False, Orders("memory:"))
    tables = [t for v in views for t in v.tables]
    assert views[0].name == "web_orders"
    assert len(tables) == len(set(tables)) == 9


def test_a_replay_that_runs_into_new_events_closes_the_open_period_as_one_event_at_a_time_would(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    app.release_sales_document("SF-2", app.get_order("SF-2").current_total, CLERK, at(600))
    runner.rewind(0)  # every stored row applied again, in one batch with the release
    runner.catch_up()
    periods = rows_of(db, "SELECT status, to_at FROM status_history WHERE web_order_no = 'WO0000000002' ORDER BY opened_version")
    assert periods == [("Received", "2024-03-01T17:20:00+00:00"), ("Reservation", "2024-03-01T19:00:00+00:00"),
                       ("Warehouse", None)]
    replayed = snapshot(app, db)
    rebuild(app, db)
    assert snapshot(app, db) == replayed


# -- rebuild -----------------------------------------------------------------------------------------------


def test_a_rebuild_gives_the_live_rows_and_leaves_no_fresh_tables_behind(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    live = snapshot(app, db)
    seen = []
    positions = rebuild(app, db, progress=lambda done, total: seen.append((done, total)), batch_size=5)
    assert snapshot(app, db) == live
    assert set(positions.values()) == {runner.head()}
    assert seen[-1] == (runner.head(), runner.head()) and len(seen) > 1
    assert rows_of(db, "SELECT name FROM sqlite_master WHERE name LIKE '%rebuild%'") == []


def test_a_rebuild_replaces_rows_that_no_longer_follow_from_the_events(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    live = snapshot(app, db)
    with db.transaction() as cursor:
        cursor.execute("DELETE FROM event_log WHERE web_order_no = 'WO0000000001'")
        cursor.execute("UPDATE status_history SET status = 'garbled'")
    rebuild(app, db, ["event_log", "status_history"])
    assert snapshot(app, db) == live


def test_a_second_rebuild_after_an_interrupted_one_still_swaps_in_complete_tables(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    live = snapshot(app, db)
    interrupted = all_views(db.is_postgres, app, suffix="__rebuild")
    ProjectionRunner(app, db, interrupted, batch_size=3).run_once()
    rebuild(app, db)
    rebuild(app, db)
    assert snapshot(app, db) == live


def test_rebuilding_an_unknown_view_is_refused_and_changes_nothing(store):
    app, db, runner = store
    realistic_history(app)
    runner.catch_up()
    live = snapshot(app, db)
    with pytest.raises(ValueError, match="no_such_view"):
        rebuild(app, db, ["event_log", "no_such_view"])
    assert snapshot(app, db) == live


# -- properties over random histories ---------------------------------------------------------------------


def _release(app: Orders, ref: str, when: Any, extra: Decimal) -> None:
    app.release_sales_document(ref, app.get_order(ref).current_total + extra, MANAGER, when)


def _ship(app: Orders, ref: str, when: Any, line_no: int, whole: bool) -> None:
    line_ = app.get_order(ref).current_version.line(line_no)
    quantity = line_.quantity if whole and line_ is not None else Decimal(1)
    app.post_shipment(ref, [{"line_no": line_no, "quantity": quantity}], MANAGER, when)


def _refresh(app: Orders, ref: str, when: Any, argument: tuple[list[dict], bool]) -> None:
    lines, ask = argument
    app.refresh_from_sales_document(ref, lines, MANAGER if ask else CLERK, when, request_approval=ask)


COMMANDS: dict[str, tuple[st.SearchStrategy, Callable[..., None]]] = {
    "comment": (st.sampled_from(["Any news?", "Ship faster"]), lambda app, ref, t, text: app.add_comment(ref, text, CUSTOMER, t)),
    "link": (st.sampled_from(["Quote", "Order"]), lambda app, ref, t, kind: app.link_sales_document(ref, kind, f"{kind[0]}-{ref}", MANAGER, t)),
    "make_order": (st.none(), lambda app, ref, t, _: app.make_order_from_quote(ref, f"SO-{ref}", MANAGER, t)),
    "release": (st.sampled_from([Decimal(0), Decimal("1.50")]), _release),
    "ship": (st.tuples(st.integers(1, 3), st.booleans()), lambda app, ref, t, a: _ship(app, ref, t, *a)),
    "refresh": (st.tuples(st.lists(wire_lines(prebook=False), min_size=1, max_size=3), st.booleans()), _refresh),
    "request_approval": (st.none(), lambda app, ref, t, _: app.request_approval(ref, MANAGER, t)),
    "approve": (st.none(), lambda app, ref, t, _: app.approve(ref, CUSTOMER, t)),
    "set_approval": (st.sampled_from(["", "Pending", "Approved", "Rejected"]), lambda app, ref, t, s: app.set_approval(ref, s, MANAGER, t)),
    "change_status": (st.sampled_from(["Received", "Reservation", "Rejected"]), lambda app, ref, t, s: app.change_workflow_status(ref, s, MANAGER, t)),
    "payment": (
        st.tuples(st.sampled_from(["OK", "FAILURE"]), st.decimals(0, 100, places=2)),
        lambda app, ref, t, a: app.record_payment_event(ref, a[0], "TX-1", a[1], CUSTOMER, t),
    ),
    "confirm_by_shop": (st.none(), lambda app, ref, t, _: app.confirm_by_shop(ref, MANAGER, t)),
}


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, str, Any]]:
    """Orders placed (one perhaps refused), then random storefront, ERP and back-office commands and rejected messages."""
    steps: list[tuple[str, str, Any]] = [("place", ref, draw(b2b_payloads())) for ref in REFERENCES]
    if draw(st.booleans()):
        steps[-1] = ("place", REFERENCES[-1], b2b_payload(line("1000", "0", "1.00")))
    for _ in range(draw(st.integers(0, 30))):
        name = draw(st.sampled_from([*COMMANDS, "reject"]))
        argument = draw(COMMANDS[name][0]) if name in COMMANDS else None
        steps.append((name, draw(st.sampled_from(REFERENCES)), argument))
    return steps


def drive(app: Orders, steps: list[tuple[str, str, Any]], after_each: Callable[[str | None, Any], None]) -> None:
    """Run ``steps`` 7 minutes apart, skipping those that break a rule; after each, call ``after_each(ref, time)``
    (``ref`` None after a rejected message)."""
    for minute, (name, ref, argument) in enumerate(steps, start=1):
        when = at(minute * 7)
        try:
            if name == "place":
                app.place_order(ref, argument, CUSTOMER, when)
            elif name == "reject":
                reject_message(app, minute, when)
            else:
                COMMANDS[name][1](app, ref, when, argument)
        except WebOrderError:
            continue
        after_each(None if name == "reject" else ref, when)


def the_order_now(app: Orders, ref: str) -> dict[str, Any]:
    order_id = WebOrder.create_id(ref)
    return describe(app.repository.get(order_id), list(app.events.get(order_id)))


def reapply(app: Orders, db: Database, runner: ProjectionRunner, first: int, last: int) -> None:
    """Apply the events at positions ``first..last`` to every view again, as a crash before the position was saved would."""
    notifications = app.recorder.select_notifications(start=first, limit=last - first + 1)
    runner.forget()  # a restarted process: no order followed yet
    runner.apply(notifications, {view: first - 1 for view in runner.views})
    with db.transaction() as cursor:
        for view in runner.views:
            view.flush(cursor)


def check_replays_change_nothing(app: Orders, db: Database, runner: ProjectionRunner, live: Any,
                                 replayed: tuple[float, float]) -> None:
    """The events between the ``replayed`` shares of the store applied again, the positions rewound (the rows
    kept: every later batch applied again) and a rebuild each leave the read models as ``live``."""
    first, last = (max(1, round(share * runner.head())) for share in replayed)
    reapply(app, db, runner, first, last)
    assert snapshot(app, db) == live
    runner.rewind(first - 1)
    runner.catch_up()
    assert snapshot(app, db) == live
    rebuild(app, db)
    assert snapshot(app, db) == live


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=histories(), replayed=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted))
def test_rebuilt_read_models_equal_the_live_ones_and_reapplied_events_change_nothing(steps, replayed):
    with tempfile.TemporaryDirectory() as directory:
        app, db, runner = open_store(f"sqlite:///{directory}/x.db", batch_size=4)
        try:
            drive(app, steps, lambda ref, when: runner.run_once())
            runner.catch_up()
            live = snapshot(app, db)
            check_replays_change_nothing(app, db, runner, live, replayed)
        finally:
            db.close()
            app.close()


def check_written_with_the_events(app: Orders, db: Database, runner: ProjectionRunner, steps: list,
                                  replayed: tuple[float, float]) -> None:
    """Rows written in the events' transactions are the rows the runner and a rebuild make from the store."""
    drive(app, steps, lambda ref, when: None)
    live = snapshot(app, db)
    assert runner.run_once() == 0  # nothing left to the runner: every view was written with the events
    check_replays_change_nothing(app, db, runner, live, replayed)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=histories(), replayed=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted))
def test_read_models_written_with_the_events_equal_the_rebuilt_ones(steps, replayed):
    with tempfile.TemporaryDirectory() as directory:
        app, db, runner = open_store(f"sqlite:///{directory}/x.db", batch_size=4, inline=True)
        try:
            check_written_with_the_events(app, db, runner, steps, replayed)
        finally:
            db.close()
            app.close()


def test_a_view_behind_the_store_is_left_to_the_runner_until_it_caught_up(store):
    app, db, runner = store
    realistic_history(app)  # recorded without the views
    InlineProjection.install(app, db)
    app.add_comment("SF-1", "first after the upgrade", CUSTOMER, at(900))
    assert set(runner.positions()) == {0}  # not written inline: the views lag
    runner.catch_up()
    app.add_comment("SF-1", "second", CUSTOMER, at(901))
    assert set(runner.positions()) == {runner.head()}  # caught up: written with the events
    assert rows_of(db, "SELECT comment FROM event_log WHERE event_name = 'CommentAdded' ORDER BY position")[-2:] == [
        ("first after the upgrade",), ("second",)]
    live = snapshot(app, db)
    rebuild(app, db)
    assert snapshot(app, db) == live


def test_events_written_inline_while_the_runner_reads_them_are_not_written_again(store):
    """The followers' runner reads the views' positions, then the page of events: a batch the engine records (and
    writes inline) in between must not be applied a second time (double work, and the two writers deadlocked on
    PostgreSQL when they did). Nor may the runner write a view that moved on after it read the page."""
    app, db, runner = store
    InlineProjection.install(app, db)
    realistic_history(app)
    assert runner.run_once() == 0
    flushed = []
    for view in runner.views:
        view.flush = lambda cursor, view=view, flush=view.flush: (flushed.append(view.name), flush(cursor))
    read_positions = runner.positions

    def engine_records_meanwhile():
        found = read_positions()
        runner.positions = read_positions  # once
        app.add_comment("SF-1", "recorded while the runner reads", CUSTOMER, at(900))
        return found

    runner.positions = engine_records_meanwhile
    assert runner.run_once() == 1  # it read the event and left it: every view is past it
    assert flushed == []
    live = snapshot(app, db)
    assert rows_of(db, "SELECT count(*) FROM event_log WHERE comment = 'recorded while the runner reads'") == [(1,)]
    rebuild(app, db)
    assert snapshot(app, db) == live

    moved = runner.views[0]  # it moves on after the runner read the page: the runner leaves it, writes the rest
    app.add_comment("SF-1", "followed", CUSTOMER, at(901))
    head = runner.head()
    with db.transaction() as cursor:
        cursor.execute("UPDATE projection_tracking SET position = ? WHERE name <> ?", (head - 1, runner.tracking_name(moved)))
    lock = runner._lock_positions
    runner._lock_positions = lambda cursor, behind: (
        cursor.execute("UPDATE projection_tracking SET position = ? WHERE name = ?", (head, runner.tracking_name(moved))),
        lock(cursor, behind))[1]
    assert runner.run_once() == 1
    assert moved.name not in flushed and len(set(flushed)) == len(runner.views) - 1
    assert set(runner.positions()) == {head}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=histories())
def test_an_order_as_of_the_time_of_each_action_is_the_live_order_right_after_it(steps):
    app = Orders("memory:")
    seen: list[tuple[str, Any, dict[str, Any]]] = []  # the order, a time, the order right after that time
    drive(app, steps, lambda ref, when: ref and seen.append((ref, when, the_order_now(app, ref))))
    for ref, when, live in seen:
        assert describe(*order_as_of(app, WebOrder.create_id(ref), when)) == live

