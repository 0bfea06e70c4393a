"""Forgetting a customer: their personal fields read as <forgotten>, the order history stays."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from orderflow.aggregates.forgetting import Forgetting
from orderflow.application.orders import Orders
from orderflow.application.shredding import FORGOTTEN, UnknownCustomer, customer_of
from orderflow.consumers.handlers import apply
from tests.messages import EXAMPLES, T0, envelope


def placed_by(account: str, name: str) -> dict:
    payload = copy.deepcopy(EXAMPLES["order_placed"])
    payload["b2c_customer"] = {"web_account_no": account, "name": name, "email": f"{account}@example.com"}
    payload["actor"] = {**payload["actor"], "user_no": account, "person_name": name}
    payload["sell_to_customer_name"] = name
    return payload


@pytest.fixture(params=["memory:", "sqlite"])
def url(request, tmp_path):
    return "memory:" if request.param == "memory:" else f"sqlite:///{tmp_path}/store.db"


def test_the_customer_of_an_order_is_its_web_account_else_the_b2b_customer_else_the_e_mail_else_the_order():
    assert customer_of({"b2c_customer": {"web_account_no": "WA-1", "email": "a@x"}}, "SF-1") == "account:WA-1"
    assert customer_of({"customer_type": "B2B Customer", "sell_to_customer_no": "C-9"}, "SF-1") == "customer:C-9"
    assert customer_of({"customer_type": "B2C - Not Registered", "email": "Ann@X.org"}, "SF-1") == "email:ann@x.org"
    assert customer_of({}, "SF-1") == "order:SF-1"


def test_after_forgetting_the_personal_fields_read_as_forgotten_and_the_history_stays(url):
    app = Orders(url)
    apply(app, envelope("order_placed", key="SF-1", payload=placed_by("WA-1", "Anna Lind")))
    apply(app, envelope("order_placed", 1, key="SF-2", payload=placed_by("WA-2", "Bo Berg")))
    apply(app, envelope("customer_comment", 2, key="SF-1", payload={"actor": placed_by("WA-1", "Anna Lind")["actor"],
                                                                        "text": "call me on 070-1234567"}))
    before = app.get_order("SF-1")
    [forgetting] = app.forget_customer("WA-1", requested_by="U-DPO", at=T0 + timedelta(days=30))
    assert forgetting.orders == 1 and forgetting.kind == "account"

    fresh = Orders(url) if url != "memory:" else app  # another process, or the same one
    order = fresh.get_order("SF-1")
    draft = order.draft
    assert (draft.b2c_customer.name, draft.b2c_customer.email, draft.email) == (FORGOTTEN, FORGOTTEN, FORGOTTEN)
    assert (draft.shipping.name, draft.shipping.address, draft.shipping.city) == (FORGOTTEN,) * 3
    assert draft.b2c_customer.web_account_no == "WA-1" and draft.shipping.country_region_code == "SE"
    assert order.web_order_no == before.web_order_no and draft.total == before.draft.total
    assert [line.no for line in draft.lines] == [line.no for line in before.draft.lines]
    assert order.workflow_status.status == before.workflow_status.status
    events = fresh.repository.event_store.get(order.id)
    assert [e.text for e in events if type(e).__name__ == "CommentAdded"] == [FORGOTTEN]
    assert all(e.actor["person_name"] == FORGOTTEN for e in events)
    assert fresh.get_order("SF-2").draft.b2c_customer.name == "Bo Berg"
    assert fresh.repository.get(Forgetting.create_id(forgetting.subject)).requested_by == "U-DPO"


def test_an_order_of_a_forgotten_customer_takes_further_events_without_their_personal_data(url):
    app = Orders(url)
    apply(app, envelope("order_placed", key="SF-1", payload=placed_by("WA-1", "Anna Lind")))
    app.forget_customer("WA-1", requested_by="U-DPO", at=T0)
    apply(app, envelope("customer_comment", 2, key="SF-1", payload={"actor": placed_by("WA-1", "Anna Lind")["actor"],
                                                                        "text": "my new address is Ringvägen 1"}))
    stored = list(app.recorder.select_events(app.get_order("SF-1").id))
    assert not any(b"Ringv" in s.state or b"Anna" in s.state for s in stored)


def test_forgetting_someone_never_seen_or_already_forgotten_is_refused(url):
    app = Orders(url)
    apply(app, envelope("order_placed", key="SF-1", payload=placed_by("WA-1", "Anna Lind")))
    with pytest.raises(UnknownCustomer):
        app.forget_customer("WA-404", requested_by="U-DPO", at=T0)
    app.forget_customer("account:WA-1", requested_by="U-DPO", at=T0)
    with pytest.raises(UnknownCustomer):
        app.forget_customer("WA-1", requested_by="U-DPO", at=T0)
