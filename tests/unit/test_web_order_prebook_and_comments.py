"""Prebook lines checked out one by one, and customer comments after placement."""

from __future__ import annotations

import pytest

from orderflow.aggregates.errors import IllegalTransition, InvalidCommand, NotAuthorized, OrderWasRefused
from orderflow.aggregates.values import PrebookStatus
from orderflow.application.orders import Orders
from tests.strategies import CLERK, CUSTOMER, at, b2b_payload, fresh_orders, line


@pytest.fixture
def app() -> Orders:
    orders = fresh_orders()
    lines = [line("1000", prebook=True), line("2000", prebook=True), line("3000")]
    orders.place_order("SF-1", b2b_payload(*lines), CUSTOMER, at(0))
    return orders


def test_a_prebook_stays_draft_while_any_of_its_lines_is_not_checked_out(app: Orders) -> None:
    assert app.get_order("SF-1").prebook_status is PrebookStatus.DRAFT
    app.check_out_prebook_line("SF-1", 1, CUSTOMER, at(1))
    assert app.get_order("SF-1").prebook_status is PrebookStatus.DRAFT


def test_a_prebook_is_checked_out_when_all_its_lines_are(app: Orders) -> None:
    app.check_out_prebook_line("SF-1", 1, CUSTOMER, at(1))
    app.check_out_prebook_line("SF-1", 2, CLERK, at(2))

    order = app.get_order("SF-1")
    assert order.prebook_status is PrebookStatus.CHECKED_OUT
    assert order.checked_out_lines == {1, 2}


def test_an_order_without_prebook_lines_has_no_prebook_status() -> None:
    app = fresh_orders()
    app.place_order("SF-1", b2b_payload(), CUSTOMER, at(0))

    assert app.get_order("SF-1").prebook_status is None


def test_a_prebook_line_is_checked_out_once(app: Orders) -> None:
    app.check_out_prebook_line("SF-1", 1, CUSTOMER, at(1))

    with pytest.raises(IllegalTransition):
        app.check_out_prebook_line("SF-1", 1, CUSTOMER, at(2))


def test_only_prebook_lines_are_checked_out(app: Orders) -> None:
    with pytest.raises(InvalidCommand):
        app.check_out_prebook_line("SF-1", 3, CUSTOMER, at(1))


def test_the_customer_comments_after_placement(app: Orders) -> None:
    app.add_comment("SF-1", "Please deliver before noon", CUSTOMER, at(1))

    comment = app.get_order("SF-1").comments[-1]
    assert (comment.text, comment.by, comment.at) == ("Please deliver before noon", CUSTOMER, at(1))


def test_a_comment_needs_text_and_comes_from_the_storefront(app: Orders) -> None:
    with pytest.raises(InvalidCommand):
        app.add_comment("SF-1", "   ", CUSTOMER, at(1))
    with pytest.raises(NotAuthorized):
        app.add_comment("SF-1", "note", CLERK, at(1))


def test_a_refused_order_accepts_no_further_actions() -> None:
    app = fresh_orders()
    app.place_order("SF-1", {"lines": []}, CUSTOMER, at(0))

    with pytest.raises(OrderWasRefused):
        app.add_comment("SF-1", "hello?", CUSTOMER, at(1))
    with pytest.raises(OrderWasRefused):
        app.link_sales_document("SF-1", "Order", "SO-1", CLERK, at(1))
