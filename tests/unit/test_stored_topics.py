"""Events stored before the aggregates' modules were split and renamed still load.

``stored_events_before_split.json`` holds the stored events (topic, state) of
:func:`history`, recorded with the code of commit 3499545, before
``aggregates/web_order.py`` became a package (its topics did not change) and
``aggregates/setup.py`` became ``aggregates/order_taking_setup.py`` (its old
topic is registered). Do not record it again: it stands for the
stores written by that code. (It was recorded with ``python -m
tests.unit.test_stored_topics``, without encryption at rest, which does not
touch topics.)
"""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from orderflow.application.orders import Orders
from tests.strategies import CLERK, CUSTOMER, MANAGER, at, b2b_payload, fresh_orders, line

RECORDED = Path(__file__).with_name("stored_events_before_split.json")
# Set from the stored events' own clock, not from the events' attributes.
WALL_CLOCK = {"_created_on", "_modified_on"}


def history() -> Orders:
    """Orders whose histories between them hold every web order and every order-taking setup event."""
    app = fresh_orders()
    app.configure_order_taking("B2B Customer", MANAGER, at(0), quote_promotable_by_default=False)
    app.require_card_payment("C-100", True, MANAGER, at(0))
    app.set_permission("Confirm", ["Sales", "Admin"], MANAGER, at(0))
    app.place_order("SF-0", {"lines": []}, CUSTOMER, at(0))
    app.place_order("SF-1", b2b_payload(line("1000", prebook=True), customer_comment="hi"), CUSTOMER, at(1))
    app.add_comment("SF-1", "Any news?", CUSTOMER, at(2))
    app.link_sales_document("SF-1", "Quote", "SQ-1", CLERK, at(3), date(2024, 4, 1))
    app.approve_quote_for_conversion("SF-1", MANAGER, at(4))
    app.refresh_from_sales_document("SF-1", [line("1000", "3", prebook=True)], CUSTOMER, at(5))
    app.request_approval("SF-1", CLERK, at(6))
    app.approve("SF-1", CUSTOMER, at(7))
    app.set_approval("SF-1", "Rejected", MANAGER, at(8), "by phone")
    app.make_order_from_quote("SF-1", "SO-1", CLERK, at(9))
    app.release_sales_document("SF-1", Decimal("31.00"), CLERK, at(10))
    app.release_sales_document("SF-1", Decimal("30.00"), CLERK, at(11))
    app.record_payment_event("SF-1", "OK", "TX-1", Decimal("30.00"), CUSTOMER, at(12), "captured")
    app.check_out_prebook_line("SF-1", 1, CUSTOMER, at(13))
    app.post_shipment("SF-1", [{"line_no": 1, "quantity": Decimal(3)}], CLERK, at(14), "SH-1")
    app.confirm_by_shop("SF-1", CLERK, at(15))
    app.mark_realized("SF-1", CLERK, at(16))
    app.change_workflow_status("SF-1", "Warehouse", MANAGER, at(17), "shipment reversed")
    app.configure_order_taking("B2B Customer", MANAGER, at(18), customer_confirmation_required=True)
    app.place_order("SF-2", b2b_payload(), CUSTOMER, at(19))
    app.confirm_by_customer("SF-2", CUSTOMER, at(20))
    return app


def stored_events(app: Orders) -> list[StoredEvent]:
    """Every event of ``app``, as the library's plain mapper stores it (no personal-field encryption)."""
    plain = Mapper(transcoder=app.mapper.transcoder)
    notifications = app.recorder.select_notifications(start=None, limit=10_000)
    return [plain.to_stored_event(app.mapper.to_domain_event(n)) for n in notifications]


def record() -> None:
    if RECORDED.exists():
        sys.exit(f"{RECORDED.name} stands for stores written before the split: not recorded again")
    rows = [
        {
            "originator_id": str(e.originator_id),
            "originator_version": e.originator_version,
            "topic": e.topic,
            "state": e.state.decode(),
        }
        for e in stored_events(history())
    ]
    RECORDED.write_text(json.dumps(rows, indent=1) + "\n")


@pytest.fixture(scope="module")
def recorded() -> list[StoredEvent]:
    rows = json.loads(RECORDED.read_text())
    return [
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"].encode()) for r in rows
    ]


def state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k not in WALL_CLOCK}


def test_every_recorded_topic_resolves_to_the_class_that_records_it_today(recorded: list[StoredEvent]) -> None:
    today = {e.topic for e in stored_events(history())}
    for topic in {e.topic for e in recorded}:
        cls = resolve_topic(topic)
        assert get_topic(cls) in today, topic


def test_the_recording_holds_every_web_order_and_setup_event(recorded: list[StoredEvent]) -> None:
    names = {e.topic.rpartition(".")[2] for e in recorded}
    assert {"Placed", "Refused", "ShipmentPosted", "WorkflowStatusChanged", "ConfirmedByCustomer"} <= names
    assert {"Started", "OrderTakingConfigured", "CardPaymentRequirementSet", "PermissionSet"} <= names


def test_aggregates_stored_before_the_split_load_as_the_same_aggregates_recorded_today(
    recorded: list[StoredEvent],
) -> None:
    old = fresh_orders()
    old.recorder.insert_events(recorded)
    live = history()
    ids = [live.get_order(reference).id for reference in ("SF-0", "SF-1", "SF-2")] + [live.get_setup().id]
    for aggregate_id in ids:
        loaded, expected = old.repository.get(aggregate_id), live.repository.get(aggregate_id)
        assert type(loaded) is type(expected)
        assert state(loaded) == state(expected)


def test_new_events_are_stored_under_the_old_web_order_topics(recorded: list[StoredEvent]) -> None:
    """Encryption at rest and stored histories rely on ``orderflow.aggregates.web_order:WebOrder.*``."""
    order_topics = {e.topic for e in recorded if ":WebOrder." in e.topic}
    today = {e.topic for e in stored_events(history()) if ":WebOrder." in e.topic}
    assert today == order_topics


if __name__ == "__main__":
    sys.exit(record())
