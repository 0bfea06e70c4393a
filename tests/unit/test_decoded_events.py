"""The followers of one process decode each stored event once, and never serve a forgotten customer's data."""

from __future__ import annotations

import copy
from datetime import timedelta

from orderflow.application.orders import Orders
from orderflow.application.shredding import FORGOTTEN
from orderflow.consumers.handlers import apply
from orderflow.projections.decoded import DecodedEvents
from tests.messages import EXAMPLES, T0, envelope


def placed(account: str, name: str) -> dict:
    payload = copy.deepcopy(EXAMPLES["order_placed"])
    payload["b2c_customer"] = {"web_account_no": account, "name": name, "email": f"{account}@example.com"}
    payload["sell_to_customer_name"] = name
    return payload


def store_with_two_orders() -> Orders:
    app = Orders("memory:")
    apply(app, envelope("order_placed", key="SF-1", payload=placed("WA-1", "Anna Lind")))
    apply(app, envelope("order_placed", 1, key="SF-2", payload=placed("WA-2", "Bo Berg")))
    return app


class Counting:
    """The application's mapper, counting the events it decodes."""

    def __init__(self, mapper):
        self.mapper, self.decoded = mapper, 0
        self.keys = mapper.keys

    def to_domain_events(self, notifications):
        self.decoded += len(notifications)
        return self.mapper.to_domain_events(notifications)


def test_runners_of_one_application_share_one_cache_and_other_applications_do_not() -> None:
    app, other = Orders("memory:"), Orders("memory:")
    assert DecodedEvents.of(app) is DecodedEvents.of(app)
    assert DecodedEvents.of(app) is not DecodedEvents.of(other)


def test_the_second_reader_of_a_page_gets_the_events_the_first_decoded() -> None:
    app = store_with_two_orders()
    mapper = Counting(app.mapper)
    shared = DecodedEvents(mapper)
    page = app.recorder.select_notifications(start=1, limit=100)
    first, second = shared.decode(page), shared.decode(page[1:])
    assert mapper.decoded == len(page)
    assert second == first[1:] and all(a is b for a, b in zip(second, first[1:], strict=True))
    assert [type(e).__name__ for e in first] == [type(e).__name__ for e in app.mapper.to_domain_events(page)]


def test_events_beyond_the_capacity_or_too_old_are_decoded_again() -> None:
    app = store_with_two_orders()
    mapper = Counting(app.mapper)
    page = app.recorder.select_notifications(start=1, limit=100)
    small = DecodedEvents(mapper, capacity=1)
    small.decode(page)
    small.decode(page)
    assert mapper.decoded == 2 * len(page) - 1
    mapper.decoded = 0
    stale = DecodedEvents(mapper, ttl=0)
    stale.decode(page)
    stale.decode(page)
    assert mapper.decoded == 2 * len(page)


def test_after_a_customer_is_forgotten_no_reader_gets_their_personal_data_from_the_cache() -> None:
    app = store_with_two_orders()
    shared = DecodedEvents.of(app)
    page = app.recorder.select_notifications(start=1, limit=100)
    names = {e.draft["b2c_customer"]["name"] for e in shared.decode(page) if type(e).__name__ == "Placed"}
    assert names == {"Anna Lind", "Bo Berg"}
    app.forget_customer("WA-1", requested_by="U-DPO", at=T0 + timedelta(days=30))
    names = {e.draft["b2c_customer"]["name"] for e in shared.decode(page) if type(e).__name__ == "Placed"}
    assert names == {FORGOTTEN, "Bo Berg"}
