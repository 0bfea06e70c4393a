"""The Web Orders list is a projection of the event store, on the embedded SQLite store."""

from decimal import Decimal

import pytest

from orderflow.application.orders import Orders
from orderflow.db import Database
from orderflow.projections.runner import ProjectionRunner
from orderflow.projections.web_orders import WebOrdersView
from tests.strategies import CLERK, CUSTOMER, at


def placed(reference: str, quantity: str = "2") -> dict:
    return {
        "customer_type": "B2B Customer", "sell_to_customer_no": "C10000", "sell_to_customer_name": "Cannon Group",
        "order_date": "2026-11-02",
        "lines": [{"type": "Item", "no": "ITEM-1", "quantity": quantity, "unit_price": "10.00", "line_amount": str(Decimal(quantity) * 10) + ".00"}],
    }


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path}/orderflow.db"
    app, db = Orders(url), Database(url)
    runner = ProjectionRunner(app, db, [WebOrdersView(db.is_postgres)])
    yield app, db, runner
    db.close()
    app.close()


def test_a_placed_order_appears_in_the_web_orders_list_with_its_number_and_total(engine):
    app, db, runner = engine
    app.place_order("SF-1", placed("SF-1"), CUSTOMER, at(0))
    runner.catch_up()
    [row] = runner.views[0].list_orders(db)
    assert (row["web_order_no"], row["storefront_reference"], row["workflow_status"]) == ("WO0000000001", "SF-1", "Received")
    assert Decimal(row["current_total"]) == Decimal("20.00")


def test_a_refused_order_is_listed_and_flagged_refused(engine):
    app, db, runner = engine
    app.place_order("SF-2", placed("SF-2", quantity="-1"), CUSTOMER, at(0))
    runner.catch_up()
    [row] = runner.views[0].list_orders(db)
    assert row["flags"] == "refused"


def test_the_list_follows_later_events_and_filters_by_status(engine):
    app, db, runner = engine
    app.place_order("SF-1", placed("SF-1"), CUSTOMER, at(0))
    app.place_order("SF-2", placed("SF-2"), CUSTOMER, at(1))
    runner.catch_up()
    app.link_sales_document("SF-2", "Order", "SO-100", CLERK, at(2))
    runner.catch_up()
    rows = runner.views[0].list_orders(db, status="Reservation")
    assert [(r["storefront_reference"], r["sales_document_no"]) for r in rows] == [("SF-2", "SO-100")]


def test_catching_up_twice_applies_nothing_the_second_time(engine):
    app, db, runner = engine
    app.place_order("SF-1", placed("SF-1"), CUSTOMER, at(0))
    assert runner.catch_up() > 0
    assert runner.catch_up() == 0
    assert runner.lag() == {"web_orders": 0}
