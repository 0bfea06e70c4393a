"""Versions: the Original never changes; refreshes add Modified by Sales Doc. versions; diffs between them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow.aggregates.errors import IllegalTransition, InvalidOrder, NotLinked, UnknownVersion
from orderflow.aggregates.lines import VersionKind
from orderflow.application.orders import Orders
from tests.strategies import CLERK, CUSTOMER, at, b2b_payload, fresh_orders, line


@pytest.fixture
def app() -> Orders:
    orders = fresh_orders()
    orders.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))
    orders.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(1))
    return orders


def test_version_1_is_the_original_as_placed(app: Orders) -> None:
    order = app.get_order("SF-1")

    assert [v.number for v in order.versions] == [1]
    assert order.get_version(1) is order.original_version is order.current_version
    assert order.original_version.kind is VersionKind.ORIGINAL
    assert order.original_version.lines == order.draft.lines


def test_each_refresh_makes_a_new_modified_by_sales_doc_version(app: Orders) -> None:
    app.refresh_from_sales_document("SF-1", [line("1000", "2", "9.00")], CLERK, at(2))
    app.refresh_from_sales_document("SF-1", [line("1000", "2", "8.00")], CLERK, at(3))

    order = app.get_order("SF-1")
    assert [(v.number, v.kind, v.total) for v in order.versions] == [
        (1, VersionKind.ORIGINAL, Decimal("35.00")),
        (2, VersionKind.MODIFIED, Decimal("18.00")),
        (3, VersionKind.MODIFIED, Decimal("16.00")),
    ]
    assert order.get_version(2).source == "Order SO-1"
    assert order.current_total == Decimal("16.00")


def test_the_original_never_changes(app: Orders) -> None:
    original = app.get_order("SF-1").original_version
    app.refresh_from_sales_document("SF-1", [line("1000", "5", "1.00")], CLERK, at(2))

    assert app.get_order("SF-1").original_version == original


def test_any_version_can_be_read_back(app: Orders) -> None:
    app.refresh_from_sales_document("SF-1", [line("1000", "2", "9.00")], CLERK, at(2))

    order = app.get_order("SF-1")
    assert order.get_version(2).lines[0].unit_price == Decimal("9.00")
    with pytest.raises(UnknownVersion):
        order.get_version(3)
    with pytest.raises(UnknownVersion):
        order.get_version(0)


def test_the_diff_between_two_versions_is_line_level(app: Orders) -> None:
    app.refresh_from_sales_document(
        "SF-1", [line("1000", "2", "9.00"), line("3000", "1", "7.00")], CLERK, at(2)
    )

    changes = app.get_order("SF-1").diff(1, 2)
    assert [(c.change, (c.before or c.after).no, c.fields) for c in changes] == [
        ("changed", "1000", ("unit_price", "line_amount")),
        ("added", "3000", ()),
        ("removed", "2000", ()),
    ]
    assert app.get_order("SF-1").diff(2, 2) == []


def test_the_diff_matches_lines_by_item_not_by_renumbered_line_no(app: Orders) -> None:
    renumbered = [line("1000", "2", "10.00", line_no=10000), line("2000", "3", "5.00", line_no=20000)]
    app.refresh_from_sales_document("SF-1", renumbered, CLERK, at(2))

    assert app.get_order("SF-1").diff(1, 2) == []


def test_refreshed_lines_must_add_up(app: Orders) -> None:
    with pytest.raises(InvalidOrder):
        app.refresh_from_sales_document("SF-1", [{**line(), "line_amount": "1.00"}], CLERK, at(2))
    assert len(app.get_order("SF-1").versions) == 1


def test_a_refresh_needs_a_linked_sales_document() -> None:
    app = fresh_orders()
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))

    with pytest.raises(NotLinked):
        app.refresh_from_sales_document("SF-1", [line()], CLERK, at(2))


def test_a_refresh_keeps_what_was_shipped(app: Orders) -> None:
    app.release_sales_document("SF-1", Decimal("35.00"), CLERK, at(2))
    app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(2)}], CLERK, at(3))

    with pytest.raises(IllegalTransition, match="line 1"):
        app.refresh_from_sales_document("SF-1", [line("2000", "3", "5.00", line_no=2)], CLERK, at(4))
    app.refresh_from_sales_document("SF-1", [line("1000", "2", "10.00"), line("2000", "4", "5.00")], CLERK, at(4))
    assert app.get_order("SF-1").current_total == Decimal("40.00")


def test_a_completely_shipped_order_is_not_refreshed(app: Orders) -> None:
    app.release_sales_document("SF-1", Decimal("35.00"), CLERK, at(2))
    app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(2)}, {"line_no": 2, "quantity": Decimal(3)}], CLERK, at(3))

    with pytest.raises(IllegalTransition, match="completely shipped"):
        app.refresh_from_sales_document("SF-1", [line("1000", "2", "10.00"), line("2000", "3", "5.00")], CLERK, at(4))
