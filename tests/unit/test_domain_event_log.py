"""The Event Log row of every event, derived from the event alone."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from orderflow.aggregates.errors import InvalidCommand
from orderflow.aggregates.event_log_row import ROWS, event_log_entry
from orderflow.aggregates.numbering import NumberBlock
from orderflow.aggregates.values import Actor
from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from tests.strategies import CLERK, CUSTOMER, MANAGER, at, b2b_payload, fresh_orders, line

FIELDS = {"user_type", "user_no", "entry_time", "event_type", "new_status", "comment", "person_name", "company"}


def every_kind_of_event() -> Orders:
    """Two orders whose histories between them hold every web order event."""
    app = fresh_orders()
    app.configure_order_taking("B2B Customer", MANAGER, at(0), quote_promotable_by_default=False)
    app.place_order("SF-0", {"lines": []}, CUSTOMER, at(0))
    app.place_order("SF-1", b2b_payload(line("1000", prebook=True), customer_comment="hi"), CUSTOMER, at(1))
    steps = [
        lambda: app.add_comment("SF-1", "Any news?", CUSTOMER, at(2)),
        lambda: app.link_sales_document("SF-1", "Quote", "SQ-1", CLERK, at(3), date(2024, 4, 1)),
        lambda: app.approve_quote_for_conversion("SF-1", MANAGER, at(4)),
        lambda: app.refresh_from_sales_document("SF-1", [line("1000", "3", prebook=True)], CUSTOMER, at(5)),
        lambda: app.request_approval("SF-1", CLERK, at(6)),
        lambda: app.approve("SF-1", CUSTOMER, at(7)),
        lambda: app.set_approval("SF-1", "Rejected", MANAGER, at(8), "by phone"),
        lambda: app.make_order_from_quote("SF-1", "SO-1", CLERK, at(9)),
        lambda: app.release_sales_document("SF-1", Decimal("31.00"), CLERK, at(10)),
        lambda: app.release_sales_document("SF-1", Decimal("30.00"), CLERK, at(11)),
        lambda: app.record_payment_event("SF-1", "OK", "TX-1", Decimal("30.00"), CUSTOMER, at(12), "captured"),
        lambda: app.check_out_prebook_line("SF-1", 1, CUSTOMER, at(13)),
        lambda: app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(3)}], CLERK, at(14), "SH-1"),
        lambda: app.confirm_by_shop("SF-1", CLERK, at(15)),
        lambda: app.mark_realized("SF-1", CLERK, at(16)),
        lambda: app.change_workflow_status("SF-1", "Warehouse", MANAGER, at(17), "shipment reversed"),
        lambda: app.add_back_office_comment("SF-1", "customer called", CLERK, at(17)),
    ]
    for step in steps:
        step()
    app.configure_order_taking("B2B Customer", MANAGER, at(18), customer_confirmation_required=True)
    app.place_order("SF-2", b2b_payload(), CUSTOMER, at(19))
    app.confirm_by_customer("SF-2", CUSTOMER, at(20))
    return app


@pytest.fixture(scope="module")
def log() -> list[tuple[str, dict]]:
    app = every_kind_of_event()
    rows = []
    for reference in ("SF-0", "SF-1", "SF-2"):
        for event in app.repository.event_store.get(app.get_order(reference).id):
            rows.append((type(event).__name__, event_log_entry(event)))
    return rows


def row(log: list[tuple[str, dict]], name: str, index: int = 0) -> dict:
    return [entry for event, entry in log if event == name][index]


def test_every_web_order_event_has_an_event_log_row(log: list[tuple[str, dict]]) -> None:
    assert {event for event, _ in log} == set(ROWS)
    assert all(set(entry) == FIELDS for _, entry in log)


def test_a_row_names_who_acted_and_when(log: list[tuple[str, dict]]) -> None:
    assert row(log, "CommentAdded") == {
        "user_type": "Web Account",
        "user_no": "WA-1",
        "entry_time": at(2),
        "event_type": "Customer Comment",
        "new_status": None,
        "comment": "Any news?",
        "person_name": "Ann Buyer",
        "company": "Acme Ltd",
    }
    assert (row(log, "ApprovalSet")["user_type"], row(log, "ApprovalSet")["user_no"]) == ("Back Office User", "U-MGR")


def test_the_placement_row_carries_the_customers_comment(log: list[tuple[str, dict]]) -> None:
    placed = row(log, "Placed")
    assert (placed["event_type"], placed["new_status"], placed["comment"]) == ("Order Placed", "Received", "hi")


def test_status_changes_are_workflow_status_change_rows_with_the_new_status(log: list[tuple[str, dict]]) -> None:
    made = row(log, "MadeOrderFromQuote")
    assert (made["event_type"], made["new_status"]) == ("Workflow Status Change", "Reservation")
    assert made["comment"] == "Quote SQ-1 made into Order SO-1"
    assert row(log, "ShipmentPosted")["new_status"] == "Shipped"
    assert row(log, "WorkflowStatusChanged")["comment"] == "shipment reversed"


def test_an_event_that_leaves_the_status_alone_keeps_its_own_type(log: list[tuple[str, dict]]) -> None:
    linked = row(log, "LinkedToSalesDocument")
    assert (linked["event_type"], linked["new_status"]) == ("Linked to Sales Doc.", None)
    assert linked["comment"] == "Sales Quote SQ-1 created, expires 2024-04-01"


def test_approval_rows_carry_the_new_approval_state(log: list[tuple[str, dict]]) -> None:
    assert [row(log, name)["new_status"] for name in ("ApprovalRequested", "ApprovedByCustomer", "ApprovalSet")] == [
        "Pending",
        "Approved",
        "Rejected",
    ]
    assert {row(log, name)["event_type"] for name in ("ApprovalRequested", "ApprovedByCustomer")} == {"Approval Status Change"}


def test_other_rows_say_what_happened(log: list[tuple[str, dict]]) -> None:
    assert row(log, "RefreshedFromSalesDocument")["event_type"] == "Update from Sales Doc."
    assert row(log, "PaymentGatewayEventRecorded")["comment"] == "OK transaction TX-1, amount 30.00 (captured)"
    assert row(log, "AmountMismatchFlagged")["comment"] == "web order total 30.00, sales document total 31.00"
    assert row(log, "Refused")["comment"].startswith("missing_field")
    assert row(log, "ConfirmedByCustomer")["new_status"] == "Awaiting Shop Confirmation"


def test_events_of_other_aggregates_have_no_row() -> None:
    numbers = NumberBlock(index=0, first=1, size=100, holder="p1", at=at(0))

    assert all(event_log_entry(e) is None for e in numbers.collect_events())
    assert issubclass(WebOrder.Placed, WebOrder.Event)


def test_an_actor_survives_its_dict_form_and_a_bad_one_is_named() -> None:
    assert Actor.from_dict(MANAGER.to_dict()) == MANAGER
    with pytest.raises(InvalidCommand):
        Actor.from_dict({"user_type": "Robot", "user_no": "R2"})
    with pytest.raises(InvalidCommand):
        Actor.from_dict({"user_type": "Web Account"})


def test_a_bad_actor_is_named_by_its_fields_never_by_the_persons_name() -> None:
    for bad in ({"user_type": "Robot", "user_no": "R2", "person_name": "Anna Lind"},
                {"user_type": "Web Account", "user_no": "", "person_name": "Anna Lind", "company": "Lind AB"}):
        with pytest.raises(InvalidCommand) as caught:
            Actor.from_dict(bad)
        assert "user_" in str(caught.value)
        assert "Anna" not in str(caught.value) and "Lind" not in str(caught.value)
