"""The copy-on-write sealing walk (issue 10) seals exactly what the deep-copying walk before it sealed, in the
same order, and never changes the event it reads; events it stores read back as they were written."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import DomainEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.aggregates.web_order import WebOrder
from orderflow.application import shredding
from orderflow.application.orders import Orders
from orderflow.application.shredding import ENCRYPTED, FIELD, _is_value, _swap
from orderflow.consumers.handlers import apply
from orderflow.contract.personal import personal_fields
from orderflow.traffic.simulate import traffic

NAMES = personal_fields().names
UNSIMULATED = {"WebOrder.Created", "WebOrder.Event", "WebOrder.Refused", "WebOrder.QuoteApprovalVoided"}
"""The library's base classes, and web order events the simulator never causes (their sealing is covered by the
walk property above)."""


def deep_copying_swap(value: Any, names: frozenset[str], match: Any, swap: Any, depth: int = 0) -> Any:
    """The walk as it was before issue 10: a full copy, every value visited."""
    if depth > 12:
        return value
    if isinstance(value, dict):
        return {k: swap(v) if k in names and match(v) else deep_copying_swap(v, names, match, swap, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copying_swap(v, names, match, swap, depth + 1) for v in value]
    return value


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.sampled_from(["", ENCRYPTED, "x"]),
    st.decimals(allow_nan=False, places=2), st.uuids(),
    st.datetimes(timezones=st.just(UTC)), st.dates(),
)
keys = st.one_of(st.sampled_from(sorted(NAMES)), st.text(max_size=6))
states = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(keys, inner, max_size=5)), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(state=st.dictionaries(keys, states, max_size=6))
def test_the_copy_on_write_walk_seals_what_the_deep_copying_walk_sealed_in_the_same_order(state):
    before = copy.deepcopy(state)
    sealed_old: list[str] = []
    sealed_new: list[str] = []
    old = deep_copying_swap(state, NAMES, _is_value, lambda v: sealed_old.append(v) or ENCRYPTED)
    new = _swap(state, NAMES, _is_value, lambda v: sealed_new.append(v) or ENCRYPTED)
    assert new == old
    assert sealed_new == sealed_old
    assert state == before


def test_a_deep_value_below_the_depth_limit_is_left_as_both_walks_leave_it():
    nested: Any = {"email": "a@b"}
    for _ in range(14):
        nested = {"x": [nested]}
    assert _swap(nested, NAMES, _is_value, lambda v: ENCRYPTED) == deep_copying_swap(
        nested, NAMES, _is_value, lambda v: ENCRYPTED)


def test_the_types_the_store_transcodes_are_kept_by_the_walk():
    state = {"email": "a@b", "at": datetime(2024, 3, 1, tzinfo=UTC), "d": date(2024, 3, 1),
             "amount": Decimal("1.10"), "id": UUID(int=5), "lines": [{"comment": "hi", "n": 1}]}
    assert _swap(state, NAMES, _is_value, lambda v: ENCRYPTED) == {
        **state, "email": ENCRYPTED, "lines": [{"comment": ENCRYPTED, "n": 1}]}


def recorded_events(seed: int, count: int) -> tuple[Any, list[Any]]:
    """An application that applied ``count`` simulated orders (seed ``seed``), and every event it recorded."""
    app = Orders("memory:")
    for message in sorted((m for _, m in traffic(count, seed)), key=lambda m: m.occurred_at):
        try:
            apply(app, message)
        except Exception:  # noqa: BLE001 - a refused message is part of the traffic, not of this test
            pass
    notifications = app.recorder.select_notifications(start=None, limit=1_000_000)
    return app, [app.mapper.to_domain_event(n) for n in notifications]


def stored_by(app: Any, event: Any, walk: Any, monkeypatch: Any) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(shredding, "_swap", walk)
        return app.mapper.to_stored_event(event)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_events_of_every_type_stored_by_either_walk_read_back_the_same(seed):
    monkeypatch = pytest.MonkeyPatch()
    app, events = recorded_events(seed, 4)
    for event in events:
        new = stored_by(app, event, _swap, monkeypatch)
        old = stored_by(app, event, deep_copying_swap, monkeypatch)
        assert (new.originator_id, new.originator_version, new.topic) == (old.originator_id, old.originator_version,
                                                                          old.topic)
        plain_new, plain_old = (app.mapper.transcoder.decode(s.state) for s in (new, old))
        assert {k: v for k, v in plain_new.items() if k != FIELD} == {k: v for k, v in plain_old.items() if k != FIELD}
        assert vars(app.mapper.to_domain_event(new)) == vars(app.mapper.to_domain_event(old)) == vars(event)


def test_the_simulated_traffic_records_events_of_every_web_order_type():
    _, events = recorded_events(11, 200)
    recorded = {type(e).__qualname__ for e in events if type(e).__qualname__.startswith("WebOrder.")}
    declared = {f"WebOrder.{name}" for name, value in vars(WebOrder).items()
                if isinstance(value, type) and issubclass(value, DomainEvent)}
    assert declared - recorded <= UNSIMULATED, sorted(declared - recorded)
