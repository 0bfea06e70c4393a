"""Random sequences of storefront and back-office commands keep every web order invariant.

The machine drives one live ``WebOrder`` and saves it after every command. After
each step it checks, against the stored history: the Workflow Status equals the
status an independent fold over the events derives; the Original version never
changed; the Customer Approval moved only along allowed transitions; replaying
the stored events rebuilds an equal aggregate; line and order totals add up. A
command that breaks a rule must raise a named ``WebOrderError`` and record nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from kafka import TopicPartition

from orderflow.aggregates.errors import WebOrderError
from orderflow.aggregates.inbox import OPEN, RejectedMessage
from orderflow.aggregates.lines import lines_total
from orderflow.aggregates.order_taking_setup import OrderTakingSetup
from orderflow.aggregates.values import Actor, UserType
from orderflow.aggregates.web_order import WebOrder
from orderflow.application.orders import Orders
from orderflow.application.repair import in_event_time, outgoing
from orderflow.consumers.dead_letters import Source
from orderflow.consumers.pipeline import partition_for
from tests.strategies import (
    CLERK,
    CUSTOMER,
    MANAGER,
    SALES_AGENT,
    actors,
    at,
    b2b_payloads,
    fresh_orders,
    line,
    wire_lines,
)
from tests.unit.test_pipeline import MESSAGES, PARTITIONS, TOPICS, Harness, histories, reference, topic_of

ORDER_STATUSES = ["Received", "Reservation", "Warehouse", "Partially Shipped", "Shipped", "Rejected"]

# Mostly the party that sends such a message, sometimes the wrong one.
erp_actors = st.sampled_from([MANAGER, MANAGER, CLERK, CUSTOMER])
storefront_actors = st.sampled_from([CUSTOMER, CUSTOMER, SALES_AGENT, CLERK])


def derived_workflow_status(events: list[Any]) -> tuple[str | None, str | None]:
    """The Workflow Status and the event that caused it, folded from the history alone."""
    status = cause = None
    quantities: dict[int, Decimal] = {}
    shipped: dict[int, Decimal] = {}

    def becomes(new: str, name: str) -> None:
        nonlocal status, cause
        if new != status:
            status, cause = new, name

    for e in events:
        name = type(e).__name__
        if name == "Placed":
            quantities = {entry["line_no"]: entry["quantity"] for entry in e.draft["lines"]}
            becomes("Received", name)
        elif name == "RefreshedFromSalesDocument":
            quantities = {entry["line_no"]: entry["quantity"] for entry in e.lines}
        elif name == "LinkedToSalesDocument" and e.document_type == "Order" or name == "MadeOrderFromQuote":
            becomes("Reservation", name)
        elif name == "SalesDocumentReleased" and e.document_type == "Order" and not shipped:
            becomes("Warehouse", name)
        elif name == "ShipmentPosted":
            for entry in e.lines:
                shipped[entry["line_no"]] = shipped.get(entry["line_no"], Decimal(0)) + entry["quantity"]
            done = all(shipped.get(n, Decimal(0)) >= q for n, q in quantities.items())
            becomes("Shipped" if done else "Partially Shipped", name)
        elif name == "WorkflowStatusChanged":
            becomes(e.workflow_status, name)
    return status, cause


def approval_states(events: list[Any]) -> str:
    """Fold the approval events, asserting that each moved along an allowed transition."""
    state = ""
    for e in events:
        name = type(e).__name__
        back_office = e.actor["user_type"] == UserType.BACK_OFFICE.value if hasattr(e, "actor") else False
        if name == "ApprovalRequested":
            assert back_office, "only the back office requests approval"
            state = "Pending"
        elif name == "ApprovedByCustomer":
            assert not back_office and state == "Pending", f"customer approved from {state!r}"
            state = "Approved"
        elif name == "ApprovalSet":
            assert back_office and e.state != state, f"approval set by hand from {state!r} to {e.state!r}"
            state = e.state
    return state


class WebOrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = fresh_orders()
        self.minute = 0
        self.errors = 0

    def now(self) -> Any:
        self.minute += 1
        return at(self.minute)

    @initialize(
        payload=b2b_payloads(),
        promotable=st.booleans(),
        conversion=st.sampled_from(["Disabled", "With checkout", "Unattended"]),
        confirmation=st.sampled_from(["none", "customer", "auto"]),
        card=st.booleans(),
        linked=st.sampled_from([None, "Quote", "Order"]),
    )
    def place(
        self, payload: dict, promotable: bool, conversion: str, confirmation: str, card: bool, linked: str | None
    ) -> None:
        """Configure order taking, place the order and, mostly, link it to a sales document at once."""
        self.app.configure_order_taking(
            "B2B Customer",
            MANAGER,
            self.now(),
            quote_promotable_by_default=promotable,
            quote_conversion=conversion,
            auto_confirm=confirmation == "auto",
            customer_confirmation_required=confirmation == "customer",
        )
        self.app.require_card_payment("C-100", card, MANAGER, self.now())
        self.setup: OrderTakingSetup = self.app.get_setup()
        self.app.place_order("SF-1", payload, MANAGER, self.now())
        if linked:
            self.app.link_sales_document("SF-1", linked, f"{linked[0]}-1", MANAGER, self.now())
        self.live: WebOrder = self.app.get_order("SF-1")
        self.original = self.live.original_version

    def attempt(self, command: Callable[[], None]) -> None:
        """Run a command on the live order; save it, or check that a refused command recorded nothing."""
        before = self.app.repository.get(self.live.id)
        try:
            command()
        except WebOrderError:
            self.errors += 1
            assert self.live.pending_events == []
            assert self.live == before
            return
        self.app.save(self.live)

    @property
    def permissions(self) -> Any:
        return self.setup.permissions

    # -- storefront --------------------------------------------------------------------------------

    @rule(actor=actors, text=st.sampled_from(["", "Any news?", "Ship faster"]))
    def add_comment(self, actor: Actor, text: str) -> None:
        self.attempt(lambda: self.live.add_comment(text, actor, self.now()))

    @rule(actor=storefront_actors, stale=st.booleans())
    def approve(self, actor: Actor, stale: bool) -> None:
        version = self.live.current_version.number - 1 if stale else None
        self.attempt(lambda: self.live.approve(actor, self.now(), version))

    @rule(actor=storefront_actors)
    def confirm_by_customer(self, actor: Actor) -> None:
        self.attempt(lambda: self.live.confirm_by_customer(actor, self.now(), self.permissions))

    @rule(
        actor=actors,
        result=st.sampled_from(["OK", "FAILURE"]),
        transaction=st.sampled_from(["TX-1", "TX-2"]),
        amount=st.decimals(min_value=0, max_value=200, places=2),
    )
    def record_payment(self, actor: Actor, result: str, transaction: str, amount: Decimal) -> None:
        self.attempt(lambda: self.live.record_payment_event(result, transaction, amount, actor, self.now()))

    @rule(actor=actors, line_no=st.integers(min_value=1, max_value=4))
    def check_out_prebook_line(self, actor: Actor, line_no: int) -> None:
        self.attempt(lambda: self.live.check_out_prebook_line(line_no, actor, self.now()))

    # -- ERP and back office -------------------------------------------------------------------------

    @rule(actor=erp_actors, kind=st.sampled_from(["Quote", "Order"]), expiry=st.sampled_from([None, None, -1, 30]))
    def link(self, actor: Actor, kind: str, expiry: int | None) -> None:
        expires_on = None if expiry is None or kind == "Order" else date.fromordinal(at(0).date().toordinal() + expiry)
        self.attempt(lambda: self.live.link_sales_document(kind, f"{kind[0]}-1", actor, self.now(), expires_on))

    @rule(actor=st.sampled_from([MANAGER, CUSTOMER, SALES_AGENT]), new_address=st.booleans())
    def make_order_from_quote(self, actor: Actor, new_address: bool) -> None:
        shipping = {"address": "2 New Rd", "city": "Shelbyville"} if new_address else None
        self.attempt(lambda: self.live.make_order_from_quote("SO-2", actor, self.now(), shipping))

    @rule(actor=erp_actors)
    def approve_quote_for_conversion(self, actor: Actor) -> None:
        self.attempt(lambda: self.live.approve_quote_for_conversion(actor, self.now(), self.permissions))

    @rule(actor=erp_actors, matching=st.booleans())
    def release(self, actor: Actor, matching: bool) -> None:
        total = self.live.current_total + (0 if matching else Decimal("1.50"))
        self.attempt(lambda: self.live.release_sales_document(total, actor, self.now()))

    @rule(actor=erp_actors, line_no=st.integers(min_value=1, max_value=4), quantity=st.sampled_from([1, 3, None]))
    def post_shipment(self, actor: Actor, line_no: int, quantity: int | None) -> None:
        """Ship some of a line, or (``None``) the whole of it."""
        line = self.live.current_version.line(line_no)
        whole = line.quantity if line is not None else Decimal(1)
        lines = [{"line_no": line_no, "quantity": whole if quantity is None else Decimal(quantity)}]
        self.attempt(lambda: self.live.post_shipment(lines, actor, self.now(), "SH"))

    @rule(actor=st.sampled_from([CLERK, CUSTOMER, SALES_AGENT]), extra=st.lists(wire_lines(), max_size=2), bump=st.booleans(), ask=st.booleans())
    def refresh(self, actor: Actor, extra: list[dict], bump: bool, ask: bool) -> None:
        kept = [
            line(l.no, str(l.quantity + (1 if bump else 0)), str(l.unit_price), prebook=l.prebook, line_no=l.line_no)
            for l in self.live.current_version.lines
        ]
        numbered = [{**l, "line_no": 100 + i} for i, l in enumerate(extra)]
        self.attempt(lambda: self.live.refresh_from_sales_document(kept + numbered, actor, self.now(), ask))

    @rule(actor=erp_actors)
    def request_approval(self, actor: Actor) -> None:
        self.attempt(lambda: self.live.request_approval(actor, self.now()))

    @rule(actor=actors, state=st.sampled_from(["", "Pending", "Approved", "Rejected"]))
    def set_approval(self, actor: Actor, state: str) -> None:
        self.attempt(lambda: self.live.set_approval(state, actor, self.now(), self.permissions))

    @rule(actor=actors, status=st.sampled_from(ORDER_STATUSES))
    def change_workflow_status(self, actor: Actor, status: str) -> None:
        self.attempt(lambda: self.live.change_workflow_status(status, actor, self.now(), self.permissions))

    @rule(actor=erp_actors)
    def confirm_by_shop(self, actor: Actor) -> None:
        self.attempt(lambda: self.live.confirm_by_shop(actor, self.now(), self.permissions))

    @rule(actor=erp_actors)
    def mark_realized(self, actor: Actor) -> None:
        self.attempt(lambda: self.live.mark_realized(actor, self.now()))

    # -- invariants ------------------------------------------------------------------------------------

    def history(self) -> list[Any]:
        return list(self.app.repository.event_store.get(self.live.id))

    @invariant()
    def workflow_status_is_derived_from_the_full_history(self) -> None:
        change = self.live.workflow_status
        assert (change.status.value, change.caused_by) == derived_workflow_status(self.history())

    @invariant()
    def the_original_version_never_changes(self) -> None:
        assert self.live.original_version == self.original

    @invariant()
    def approval_moves_only_along_allowed_transitions(self) -> None:
        assert approval_states(self.history()) == self.live.approval.state.value

    @invariant()
    def replaying_the_stored_events_rebuilds_an_equal_aggregate(self) -> None:
        assert self.app.repository.get(self.live.id) == self.live

    @invariant()
    def line_and_order_totals_add_up(self) -> None:
        for version in self.live.versions:
            assert all(l.line_amount == l.expected_amount for l in version.lines)
            assert version.total == lines_total(version.lines)
        assert self.live.current_total == sum((l.line_amount for l in self.live.current_version.lines), Decimal(0))
        paid, total = self.live.amount_paid, self.live.current_total
        assert (self.live.underpaid, self.live.overpaid) == (0 < paid < total, paid > total)


WebOrderMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestWebOrderCommands = WebOrderMachine.TestCase


# -- refusals and redrives (issue 19) -------------------------------------------------------------

REDRIVE_ACTION = uuid.UUID(int=19)


def misrouted_records(misrouted: set[str]) -> dict[TopicPartition, list[Source]]:
    """The traffic as producers put it, the records of the ``misrouted`` orders one partition off."""
    log = defaultdict(list)
    for message in MESSAGES:
        right = partition_for(message.key.encode(), PARTITIONS)
        tp = TopicPartition(topic_of(message), (right + 1) % PARTITIONS if message.key in misrouted else right)
        log[tp].append(Source(tp.topic, tp.partition, len(log[tp]), message.key.encode(), message.value(),
                              message.headers()))
    return log


def redrive_order(harness: Harness, key: str) -> None:
    """What ``orderflow errors redrive --order KEY`` sends: the order's open entries, in event time, each on its
    key's partition of its message type's topic (:func:`orderflow.application.repair.outgoing`)."""
    entry_ids = {RejectedMessage.create_id(r.source.topic, r.source.partition, r.source.offset)
                 for r in harness.rejections if r.redrive is None}
    entries = [harness.app.repository.get(entry_id) for entry_id in entry_ids]
    for entry in sorted((e for e in entries if e.key == key and e.state == OPEN), key=in_event_time):
        sent, raw_key, value, headers = outgoing(entry, TOPICS, lambda _: range(PARTITIONS), REDRIVE_ACTION, "ops")
        tp = TopicPartition(sent.topic, sent.partition)
        harness.log[tp].append(Source(tp.topic, tp.partition, len(harness.log[tp]), raw_key, value, headers))


def numberless(histories: dict[str, list]) -> dict[str, list]:
    """Histories with the Web Order No. left out."""
    return {key: [(name, {k: v for k, v in fields.items() if k != "web_order_no"}) for name, fields in events]
            for key, events in histories.items()}


ORDER_KEYS = sorted({m.key for m in MESSAGES if m.message_type == "order_placed"})
steps = st.lists(st.one_of(
    st.tuples(st.just("deliver"), st.sampled_from(sorted(misrouted_records(set()))), st.integers(1, 12)),
    st.tuples(st.just("redrive"), st.sampled_from(ORDER_KEYS), st.integers(1, 2)),
), max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(misrouted=st.sets(st.sampled_from(ORDER_KEYS), min_size=1), steps=steps, batch_size=st.integers(1, 40))
def test_any_mix_of_refusals_and_redrives_ends_with_the_history_of_the_messages_applied_once_in_event_time(
        misrouted, steps, batch_size):
    """Orders whose records a producer misrouted are refused, then redriven by order (once, twice, before or after
    the rest of the traffic, while other orders' records still arrive): every order ends with the history the
    same messages give applied once in event time, and every entry is redriven. Only the Web Order No. differs:
    it is issued when an order is placed, so a redriven order gets the next free one."""
    app = Orders("memory:")
    harness = Harness(app, misrouted_records(misrouted), batch_size)
    for step in steps:
        if step[0] == "deliver":
            harness.deliver(step[1], step[2])
        else:
            for _ in range(step[2]):
                redrive_order(harness, step[1])
        harness.run()
    harness.drain()
    for key in misrouted:
        redrive_order(harness, key)
    harness.drain()
    assert numberless(histories(app)) == numberless(reference())
    entries = {RejectedMessage.create_id(r.source.topic, r.source.partition, r.source.offset)
               for r in harness.rejections if r.redrive is None}
    assert {app.repository.get(entry_id).state for entry_id in entries} == {"redriven"}
