"""The outbound messages: what the storefront and the notification sender are told after each event."""

from __future__ import annotations

import copy
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from orderflow.aggregates.event_log_row import event_log_entry
from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.contract.envelope import decode
from orderflow.contract.schemas import Contract
from orderflow.db import Database
from orderflow.outbound import OutboundPublisher, notification_messages, storefront_sync_messages
from orderflow.projections.follow import AggregateFollower
from orderflow.settings import Settings, Topics
from tests.strategies import CLERK, CUSTOMER, MANAGER, at, b2b_payload, fresh_orders, guest_payload, line

SHIPMENT = [{"line_no": 1, "quantity": Decimal("2")}, {"line_no": 2, "quantity": Decimal("3")}]


def drive_realistic_history(app: Orders) -> None:
    """Five orders through quotes, approval, conversion, mismatch, refresh, shipment, confirmation, rejection, refusal."""
    app.configure_order_taking("B2C - Not Registered", MANAGER, at(0), auto_confirm=True)
    # SF-1: a B2B quote request, approved by the customer, made into an order, released short, refreshed, shipped.
    app.place_order("SF-1", b2b_payload(checkout_type="Quote", customer_comment="deliver before noon"), CUSTOMER, at(1))
    app.add_comment("SF-1", "can you do 3 of item 1000?", CUSTOMER, at(2))
    app.link_sales_document("SF-1", "Quote", "SQ-1", CLERK, at(3))
    app.request_approval("SF-1", CLERK, at(4))
    app.approve("SF-1", CUSTOMER, at(5))
    app.make_order_from_quote("SF-1", "SO-1", CLERK, at(6))
    app.release_sales_document("SF-1", Decimal("36.00"), CLERK, at(7))
    app.refresh_from_sales_document(
        "SF-1", [line("1000", "2", "10.50"), line("2000", "3", "5.00")], CLERK, at(8), request_approval=True
    )
    app.approve("SF-1", CUSTOMER, at(9))
    app.post_shipment("SF-1", SHIPMENT[:1], CLERK, at(10), "SH-1")
    app.post_shipment("SF-1", SHIPMENT[1:], CLERK, at(11), "SH-2")
    # SF-2: a guest order, paid, confirmed upon checkout.
    app.place_order("SF-2", guest_payload(), CUSTOMER, at(12))
    # SF-3: confirmed by the shop, then rejected by hand.
    app.place_order("SF-3", b2b_payload(), CUSTOMER, at(13))
    app.confirm_by_shop("SF-3", CLERK, at(14))
    app.set_approval("SF-3", "Pending", MANAGER, at(15))
    app.change_workflow_status("SF-3", "Rejected", MANAGER, at(16), comment="customer cancelled by phone")
    # SF-4: refused at placement.
    app.place_order("SF-4", b2b_payload(line("1000", "-1", "10.00")), CUSTOMER, at(17))


def history() -> tuple[Orders, list[tuple[Any, WebOrder]]]:
    """The realistic history's web order events, each with the order as it left it."""
    app = fresh_orders()
    drive_realistic_history(app)
    return app, followed(app)


def followed(app: Orders) -> list[tuple[Any, WebOrder]]:
    """Each web order event with a copy of the order right after it (the follower moves its own copy on)."""
    follower, pairs = AggregateFollower(app), []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        if isinstance(event, WebOrder.Event):
            pairs.append((event, copy.deepcopy(follower.advance(event))))
    return pairs


def all_messages(pairs: list[tuple[Any, WebOrder]]) -> list:
    return [m for event, order in pairs for m in storefront_sync_messages(event, order) + notification_messages(event, order)]


def notifications_of(pairs: list[tuple[Any, WebOrder]], reference: str) -> list:
    return [m for e, o in pairs if o.storefront_reference == reference for m in notification_messages(e, o)]


@pytest.fixture(scope="module")
def realistic() -> tuple[Orders, list[tuple[Any, WebOrder]]]:
    return history()


# -- the contract --------------------------------------------------------------------------------


def test_every_outbound_message_of_a_realistic_history_matches_its_schema(realistic) -> None:
    contract = Contract(Settings().schema_dir)
    messages = all_messages(realistic[1])
    for message in messages:
        wired = decode(message.key.encode(), message.value(), message.headers())
        contract.validate(wired.message_type, wired.schema_version, wired.payload)
    assert {m.message_type for m in messages} == {"web_order_synced", "notification"}
    assert {m.payload["kind"] for m in messages if m.message_type == "notification"} == {
        "new_order", "customer_comment", "approval_requested", "order_confirmed", "workflow_status_changed",
    }


def test_a_payload_that_breaks_the_schema_is_caught_by_the_contract(realistic) -> None:
    contract = Contract(Settings().schema_dir)
    [message] = storefront_sync_messages(*realistic[1][0])
    with pytest.raises(ValueError, match="amount_paid"):
        contract.validate("web_order_synced", 1, {**message.payload, "amount_paid": 12.5})


# -- storefront sync -----------------------------------------------------------------------------


def test_every_web_order_event_gives_one_sync_message_carrying_its_aggregate_version(realistic) -> None:
    pairs = realistic[1]
    for event, order in pairs:
        [message] = storefront_sync_messages(event, order)
        assert (message.key, message.payload["version"]) == (order.storefront_reference, event.originator_version)
    ids = [storefront_sync_messages(e, o)[0].message_id for e, o in pairs]
    assert len(set(ids)) == len(pairs)


def test_a_sync_message_carries_the_event_log_entry_of_its_event(realistic) -> None:
    event, order = next((e, o) for e, o in realistic[1] if type(e).__name__ == "CommentAdded")
    [message] = storefront_sync_messages(event, order)
    [entry] = message.payload["event_log"]
    expected = event_log_entry(event)
    assert entry == {**expected, "version": event.originator_version, "entry_time": message.payload["changed_at"]}
    assert entry["event_type"] == "Customer Comment"


def test_a_sync_message_shows_the_current_version_status_approval_and_document(realistic) -> None:
    app, pairs = realistic
    event, order = next((e, o) for e, o in pairs if type(e).__name__ == "ApprovedByCustomer" and o.version > 10)
    payload = storefront_sync_messages(event, order)[0].payload
    assert payload["current_version"]["number"] == 2
    assert payload["current_version"]["total"] == "36.00"
    assert payload["current_version"]["lines"][0]["unit_price"] == "10.50"
    assert payload["workflow_status"] == {"status": "Warehouse", "caused_by": "SalesDocumentReleased", "changed_at": "2024-03-01T09:07:00Z"}
    assert payload["approval"] == {"state": "Approved", "subject": "Order", "requested_version": 2, "approved_version": 2}
    assert payload["sales_document"] == {"type": "Order", "no": "SO-1", "expires_on": None}
    assert payload["flags"]["amount_mismatch"] is False


def test_a_released_document_with_another_total_is_synced_with_the_mismatch_flag_and_both_amounts(realistic) -> None:
    event, order = next((e, o) for e, o in realistic[1] if type(e).__name__ == "AmountMismatchFlagged")
    payload = storefront_sync_messages(event, order)[0].payload
    assert payload["flags"]["amount_mismatch"] is True
    assert payload["amount_mismatch"] == {"web_order_total": "35.00", "sales_document_total": "36.00"}


def test_a_refused_order_is_synced_with_its_reasons_and_notifies_nobody(realistic) -> None:
    [(event, order)] = [(e, o) for e, o in realistic[1] if o.storefront_reference == "SF-4"]
    payload = storefront_sync_messages(event, order)[0].payload
    assert payload["refused"] is True
    assert [r["code"] for r in payload["refusal_reasons"]] == ["quantity_not_positive"]
    assert payload["current_version"] is None
    assert notification_messages(event, order) == []


# -- notifications -------------------------------------------------------------------------------


def test_each_cause_gives_exactly_one_notification_of_its_kind(realistic) -> None:
    kinds = [(m.payload["caused_by"], m.payload["kind"]) for m in notifications_of(realistic[1], "SF-1")]
    assert kinds == [
        ("Placed", "new_order"),
        ("CommentAdded", "customer_comment"),
        ("ApprovalRequested", "approval_requested"),
        ("MadeOrderFromQuote", "workflow_status_changed"),
        ("SalesDocumentReleased", "workflow_status_changed"),
        ("ApprovalRequested", "approval_requested"),
        ("ShipmentPosted", "workflow_status_changed"),
        ("ShipmentPosted", "workflow_status_changed"),
    ]
    statuses = [m.payload["details"].get("status") for m in notifications_of(realistic[1], "SF-1")]
    assert [s for s in statuses if s] == ["Reservation", "Warehouse", "Partially Shipped", "Shipped"]


def test_an_approval_set_to_pending_by_hand_and_a_status_change_by_hand_notify_too(realistic) -> None:
    kinds = [(m.payload["caused_by"], m.payload["kind"]) for m in notifications_of(realistic[1], "SF-3")]
    assert kinds == [
        ("Placed", "new_order"),
        ("ConfirmedByShop", "order_confirmed"),
        ("ApprovalSet", "approval_requested"),
        ("WorkflowStatusChanged", "workflow_status_changed"),
    ]
    assert notifications_of(realistic[1], "SF-3")[-1].payload["details"] == {
        "status": "Rejected", "comment": "customer cancelled by phone",
    }


def test_a_customer_comment_notification_carries_the_text(realistic) -> None:
    [comment] = [m for m in notifications_of(realistic[1], "SF-1") if m.payload["kind"] == "customer_comment"]
    assert comment.payload["details"] == {"comment": "can you do 3 of item 1000?"}
    assert comment.payload["by"]["user_no"] == CUSTOMER.user_no


def test_an_approval_request_links_to_the_order_by_the_configured_template(realistic) -> None:
    event, order = next((e, o) for e, o in realistic[1] if type(e).__name__ == "ApprovalRequested")
    [message] = notification_messages(event, order, "https://b2b.example/o/{web_order_no}?ref={storefront_reference}")
    assert message.payload["order_url"] == "https://b2b.example/o/WO0000000001?ref=SF-1"
    assert message.payload["details"] == {"subject": "Quote", "requested_version": 1, "total": "35.00"}
    assert notification_messages(event, order)[0].payload["order_url"] == "https://shop.example/orders/SF-1"


def test_an_order_confirmed_upon_checkout_notifies_with_its_invoice_to_the_guests_email(realistic) -> None:
    [new, confirmed] = notifications_of(realistic[1], "SF-2")
    assert new.payload["kind"] == "new_order"
    invoice = confirmed.payload["details"]["invoice"]
    assert confirmed.payload["details"]["auto"] is True
    assert (invoice["email"], invoice["bill_to_name"]) == ("gus@mail.test", "Gus Guest")
    assert [(line["no"], line["line_amount"]) for line in invoice["lines"]] == [("1000", "20.00"), ("2000", "15.00")]
    assert (invoice["total"], invoice["amount_paid"]) == ("35.00", "35.00")
    assert confirmed.payload["recipient"]["email"] == "gus@mail.test"


def test_building_the_messages_again_from_the_store_gives_the_same_ids_and_payloads(realistic) -> None:
    app, pairs = realistic
    first = [(m.message_id, m.value(), m.headers()) for m in all_messages(pairs)]
    again = [(m.message_id, m.value(), m.headers()) for m in all_messages(followed(app))]
    assert again == first
    assert len({message_id for message_id, _, _ in first}) == len(first)


def test_the_same_history_in_another_store_gives_the_same_message_ids() -> None:
    first, second = history(), history()
    assert [m.message_id for m in all_messages(first[1])] == [m.message_id for m in all_messages(second[1])]


# -- the publisher: positions only after the broker acknowledged -----------------------------------


class FakeProducer:
    """Records what was sent; ``fail`` makes every send of the next flush fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, list]] = []
        self.fail = False

    def send(self, topic: str, key: bytes, value: bytes, headers: list) -> FakeFuture:
        if not self.fail:
            self.sent.append((topic, key, value, headers))
        return FakeFuture(self.fail)

    def flush(self, timeout: float | None = None) -> None:
        pass


class FakeFuture:
    def __init__(self, fail: bool):
        self.fail = fail

    def get(self, timeout: float | None = None) -> None:
        if self.fail:
            raise TimeoutError("broker did not acknowledge")


@pytest.fixture
def publishing(tmp_path):
    url = f"sqlite:///{tmp_path}/orderflow.db"
    app, db, producer = Orders(url), Database(url), FakeProducer()
    publisher = OutboundPublisher(app, db, producer, Topics(), batch_size=5)
    yield app, publisher, producer
    db.close()
    app.close()


def sent_ids(producer: FakeProducer, topic: str) -> list[str]:
    return [dict(headers)["message_id"].decode() for t, _, _, headers in producer.sent if t == topic]


def test_the_publisher_sends_one_message_per_cause_and_then_has_no_lag(publishing) -> None:
    app, publisher, producer = publishing
    drive_realistic_history(app)
    publisher.catch_up()
    expected = all_messages(followed(app))
    assert Counter(sent_ids(producer, Topics().storefront_sync) + sent_ids(producer, Topics().notifications)) == Counter(
        m.message_id for m in expected
    )
    assert publisher.lag() == {"outbound:storefront_sync": 0, "outbound:notifications": 0}


def test_a_batch_the_broker_did_not_acknowledge_is_not_recorded_and_is_sent_again(publishing) -> None:
    app, publisher, producer = publishing
    drive_realistic_history(app)
    producer.fail = True
    with pytest.raises(TimeoutError):
        publisher.run_once()
    assert publisher.lag()["outbound:storefront_sync"] == publisher.head()
    producer.fail = False
    publisher.catch_up()
    ids = sent_ids(producer, Topics().storefront_sync)
    assert len(ids) == len(set(ids)) == sum(1 for _ in followed(app))


def test_rewinding_publishes_the_whole_history_again_with_the_same_ids(publishing) -> None:
    app, publisher, producer = publishing
    drive_realistic_history(app)
    publisher.catch_up()
    first = list(producer.sent)
    publisher.rewind(0)
    publisher.catch_up()
    assert producer.sent[len(first):] == first


def test_wire_form_converts_every_kind_of_value_and_keeps_how_a_decimal_was_written() -> None:
    from datetime import date, datetime, timedelta, timezone
    from enum import Enum, StrEnum
    from uuid import UUID

    from orderflow.outbound.messages import _wire

    class Colour(StrEnum):
        RED = "red"

    class Size(Enum):
        BIG = 3

    order_id = UUID("04facfe8-e564-5b3a-ae2b-9c27743f6fa0")
    berlin = timezone(timedelta(hours=1))
    value = {
        "plain": ["a", 1, 2.5, True, None],
        "money": (Decimal("1.0"), Decimal("1"), Decimal("-0.50")),
        "enums": [Colour.RED, Size.BIG],
        "times": {"at": datetime(2024, 3, 1, 10, 0, tzinfo=berlin), "on": date(2024, 3, 1)},
        "id": order_id,
    }
    assert _wire(value) == {
        "plain": ["a", 1, 2.5, True, None],
        "money": ["1.0", "1", "-0.50"],
        "enums": ["red", 3],
        "times": {"at": "2024-03-01T09:00:00Z", "on": "2024-03-01"},
        "id": str(order_id),
    }


def test_wire_form_converts_subclasses_and_enums_met_again_as_the_first_time() -> None:
    from collections import OrderedDict
    from enum import Enum

    from orderflow.outbound.messages import _wire, _Wired

    class Money(Decimal):
        pass

    class Kind(str, Enum):  # noqa: UP042 - the str mixin is what is tested
        ORIGINAL = "Original"

    done = _Wired({"total": "1.00"})
    value = OrderedDict(kind=Kind.ORIGINAL, amount=Money("2.50"), parts=[done, (Kind.ORIGINAL,)])
    first, second = _wire(value), _wire(value)
    assert first == second == {"kind": "Original", "amount": "2.50", "parts": [{"total": "1.00"}, ["Original"]]}
    assert type(first["kind"]) is str and first["parts"][0] is done
