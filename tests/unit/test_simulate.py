"""The simulator speaks the contract: its whole traffic applies without a single rejection."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise

import pytest

from orderflow.aggregates.values import ConfirmationState, WorkflowStatus
from orderflow.application.orders import Orders
from orderflow.consumers.handlers import TOPIC_OF, apply
from orderflow.contract.schemas import Contract
from orderflow.settings import Settings
from orderflow.traffic.simulate import traffic

COUNT = 40


@pytest.fixture(scope="module")
def messages():
    return traffic(COUNT, seed=3)


@pytest.fixture(scope="module")
def applied(messages):
    app = Orders("memory:")
    for _, envelope in messages:
        apply(app, envelope)  # raises CannotApply on the first message the engine refuses
    return [app.get_order(f"SF-{n:06d}") for n in range(1, COUNT + 1)]


def test_the_same_seed_gives_the_same_traffic():
    assert traffic(5, seed=11) == traffic(5, seed=11)
    assert traffic(5, seed=11) != traffic(5, seed=12)


def test_every_simulated_payload_matches_its_schema(messages):
    contract = Contract(Settings().schema_dir)
    for _, envelope in messages:
        contract.validate(envelope.message_type, envelope.schema_version, envelope.payload)


def test_each_message_goes_to_the_topic_of_its_type(messages):
    assert all(kind == TOPIC_OF[envelope.message_type] for kind, envelope in messages)
    assert {kind for kind, _ in messages} == {"storefront", "erp"}


def test_an_orders_messages_occur_at_increasing_times(messages):
    times = defaultdict(list)
    for _, envelope in messages:
        times[envelope.key].append(envelope.occurred_at)
    assert all(earlier < later for at in times.values() for earlier, later in pairwise(at))


def test_the_whole_simulated_traffic_applies_without_a_rejection(applied):
    assert not any(order.refused for order in applied)


def test_the_stories_cover_the_manuals_flows(messages, applied):
    types = Counter(envelope.message_type for _, envelope in messages)
    assert set(types) == set(TOPIC_OF)
    statuses = Counter(order.workflow_status.status for order in applied)
    assert statuses[WorkflowStatus.SHIPPED] and statuses[WorkflowStatus.REJECTED]
    assert any(len(order.versions) > 1 for order in applied)
    assert any(order.confirmation is ConfirmationState.REALIZED for order in applied)
    assert types["shipment_posted"] > statuses[WorkflowStatus.SHIPPED]  # some orders shipped in two parts
