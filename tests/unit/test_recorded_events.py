"""The short cut of ``@recorded`` records the same events as the library's generic ``@event`` path.

:mod:`orderflow.aggregates.recording` builds a web order's events without the
library's per-call introspection (issue 10). For random simulated traffic,
in order or shuffled (so that commands are also refused), both paths must store
the same events (class and every attribute but the wall-clock ``timestamp``),
refuse the same messages with the same reasons and leave equal aggregates.
"""

from __future__ import annotations

import random
from typing import Any

import eventsourcing.domain
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderflow.aggregates import recording
from orderflow.aggregates.draft import OrderDraft
from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.consumers.handlers import CannotApply, apply
from orderflow.traffic.simulate import traffic
from tests.strategies import CUSTOMER, at, b2b_payload, b2b_payloads, fresh_orders, line


def run(messages: list[Any], generic: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Orders, list[str], dict[Any, Any]]:
    """Apply the messages one by one to a fresh application: it, the reasons of those it cannot apply, the live orders."""
    with monkeypatch.context() as patch:
        patch.setattr(recording, "GENERIC", generic)
        app, refusals, live = fresh_orders(), [], {}
        save = app.save

        def keep(*objs: Any, **kwargs: Any) -> Any:
            live.update((obj.id, obj) for obj in objs if isinstance(obj, WebOrder))
            return save(*objs, **kwargs)

        patch.setattr(app, "save", keep)
        for envelope in messages:
            try:
                apply(app, envelope)
            except CannotApply as refused:
                refusals.append(f"{envelope.message_id}: {refused}")
        return app, refusals, live


def history(app: Orders, key: str) -> list[tuple[type, dict[str, Any]]]:
    """An order's stored events as (class, attributes but the wall-clock timestamp)."""
    return [(type(e), {k: v for k, v in vars(e).items() if k != "timestamp"}) for e in app.events.get(WebOrder.create_id(key))]


def state(order: WebOrder) -> dict[str, Any]:
    return {k: v for k, v in vars(order).items() if k not in ("_modified_on", "_created_on", "_pending_events")}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), count=st.integers(1, 6), shuffle=st.booleans(), rng=st.randoms(use_true_random=False))
def test_the_short_cut_records_what_the_library_records(seed: int, count: int, shuffle: bool, rng: random.Random) -> None:
    messages = [envelope for _, envelope in traffic(count, seed)]
    if shuffle:
        setup, rest = messages[:1], messages[1:]
        rng.shuffle(rest)
        messages = setup + rest
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, fast_refusals, fast_live = run(messages, False, monkeypatch)
        generic, generic_refusals, generic_live = run(messages, True, monkeypatch)
    assert fast_refusals == generic_refusals
    for key in {envelope.key for envelope in messages if envelope.message_type != "order_taking_configured"}:
        assert history(fast, key) == history(generic, key)
    assert fast_live.keys() == generic_live.keys()
    for order_id, order in fast_live.items():
        assert state(order) == state(generic_live[order_id])
        assert state(order) == state(fast.repository.get(order_id))  # the live order is its replayed history


@settings(max_examples=20, deadline=None)
@given(payload=b2b_payloads())
def test_a_placed_order_commented_and_paid_records_the_same_events_either_way(payload: dict[str, Any]) -> None:
    histories = []
    for generic in (False, True):
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.setattr(recording, "GENERIC", generic)
            app = fresh_orders()
            app.place_order("REF-1", payload, CUSTOMER, at(0))
            for minute in (1, 2):
                try:
                    app.add_comment("REF-1", f"comment {minute}", CUSTOMER, at(minute))
                except Exception as error:  # a refused order refuses comments, on either path
                    histories.append(repr(error))
            histories.append(history(app, "REF-1"))
    assert histories[: len(histories) // 2] == histories[len(histories) // 2 :]


def test_the_ordinary_call_skips_the_library_s_bound_decorator(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = eventsourcing.domain.BoundCommandMethodDecorator.trigger
    monkeypatch.setattr(eventsourcing.domain.BoundCommandMethodDecorator, "trigger",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    order = _placed(fresh_orders())
    order._commented(text="hello", actor=CUSTOMER.to_dict(), at=at(1))
    assert calls == []
    assert type(order.pending_events[-1]) is WebOrder.CommentAdded


def test_a_call_by_position_goes_the_library_s_way_and_records_the_same_event(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = eventsourcing.domain.BoundCommandMethodDecorator.trigger
    monkeypatch.setattr(eventsourcing.domain.BoundCommandMethodDecorator, "trigger",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    order = _placed(fresh_orders())
    order._commented("hello", CUSTOMER.to_dict(), at(1))
    order._commented(text="hello", actor=CUSTOMER.to_dict(), at=at(1))
    assert calls == [1]
    by_position, by_keyword = order.pending_events[-2:]
    assert type(by_position) is type(by_keyword) is WebOrder.CommentAdded
    assert by_keyword.originator_version == by_position.originator_version + 1
    assert vars(by_position) | {"originator_version": 0, "timestamp": 0} == vars(by_keyword) | {"originator_version": 0, "timestamp": 0}
    assert order.version == by_keyword.originator_version and order.modified_on == by_keyword.timestamp


def _placed(app: Orders) -> WebOrder:
    app.place_order("REF-1", b2b_payload(line()), CUSTOMER, at(0))
    return app.get_order("REF-1")


@settings(max_examples=30, deadline=None)
@given(payload=b2b_payloads())
def test_a_placed_order_takes_its_draft_as_placed_and_equals_its_replay(payload: dict[str, Any]) -> None:
    reads = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        from_stored = OrderDraft.from_stored.__func__
        monkeypatch.setattr(OrderDraft, "from_stored", classmethod(lambda cls, data: reads.append(1) or from_stored(cls, data)))
        app = fresh_orders()
        placed = WebOrder.place("REF-1", "WO-1", payload, app.get_setup(), CUSTOMER, at(0))
        assert reads == []
        app.save(placed)
        replayed = app.repository.get(placed.id)
    assert reads == ([] if placed.refused else [1])
    assert state(placed) == state(replayed)
