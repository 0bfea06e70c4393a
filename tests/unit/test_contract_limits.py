"""Sane values: every inbound field is bounded, dates and amounts have ranges, and a reason names the range, not the value."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from orderflow.contract.envelope import decode
from orderflow.contract.schemas import MAX_REASON, SCHEMAS, Contract, ContractViolation
from orderflow.settings import Settings
from orderflow.traffic.simulate import traffic
from tests.messages import EXAMPLES

CONTRACT = Contract(Settings().schema_dir)
INBOUND = sorted((f for f in (SCHEMAS / "inbound").iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
DATE_RULE = "must be a date YYYY-MM-DD in the years 2000..2099 (pattern)"


def reason_of(message_type: str, payload: dict[str, Any]) -> str:
    with pytest.raises(ContractViolation) as raised:
        CONTRACT.validate(message_type, 1, payload)
    reason = str(raised.value)
    assert len(reason) <= MAX_REASON
    return reason


def placed(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(EXAMPLES["order_placed"]), **changes}


def with_line(**changes: Any) -> dict[str, Any]:
    payload = placed()
    payload["lines"][0].update(changes)
    return payload


def nodes(node: Any, path: str = "") -> list[tuple[str, dict]]:
    """Every subschema of a schema with its location, for the checks below."""
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found += nodes(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += nodes(value, f"{path}/{index}")
    return found


# -- every field is bounded ------------------------------------------------------------------------


@pytest.mark.parametrize("path", INBOUND, ids=lambda p: p.name)
def test_every_string_array_and_integer_of_an_inbound_schema_has_a_bound(path):
    unbounded = []
    for where, node in nodes(json.loads(path.read_text())):
        kind = node.get("type")
        if kind == "string" and not ({"maxLength", "enum", "const"} & set(node) or "x-rule" in node):
            unbounded.append(where)
        if kind == "array" and "maxItems" not in node:
            unbounded.append(where)
        if kind == "integer" and "maximum" not in node:
            unbounded.append(where)
    assert unbounded == []


def test_every_example_and_the_simulated_traffic_pass_the_strict_envelope_and_the_schemas():
    for _, envelope in traffic(60, seed=11):
        received = decode(envelope.key.encode(), envelope.value(), envelope.headers())
        CONTRACT.validate(received.message_type, received.schema_version, received.payload)
    for message_type, payload in EXAMPLES.items():
        CONTRACT.validate(message_type, 1, payload)


# -- dates ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["0001-01-01", "1970-01-01", "1999-12-31", "2100-01-01", "9999-12-31"])
def test_an_order_date_outside_2000_to_2099_is_refused_naming_the_range(day):
    assert f"/order_date: {DATE_RULE}" in reason_of("order_placed", placed(order_date=day))


def test_a_requested_delivery_date_in_year_9999_is_refused_naming_the_range():
    payload = placed()
    payload["shipping"]["requested_delivery_date"] = "9999-12-31"
    assert f"/shipping/requested_delivery_date: {DATE_RULE}" in reason_of("order_placed", payload)


def test_a_quote_expiring_in_year_1_is_refused_naming_the_range():
    payload = {**EXAMPLES["sales_document_created"], "expires_on": "0001-01-01"}
    assert f"/expires_on: {DATE_RULE}" in reason_of("sales_document_created", payload)


def test_a_date_at_either_end_of_the_range_passes():
    CONTRACT.validate("order_placed", 1, placed(order_date="2000-01-01"))
    CONTRACT.validate("order_placed", 1, placed(order_date="2099-12-31"))


# -- amounts and quantities -------------------------------------------------------------------------------


def test_a_forty_digit_amount_is_refused_naming_the_digits_not_the_value():
    reason = reason_of("order_placed", with_line(line_amount="9" * 40))
    assert "/lines/0/line_amount: must be a decimal string with at most 12 integer digits and 2 decimals (pattern)" in reason
    assert "9" * 13 not in reason


def test_a_quantity_with_forty_decimals_is_refused():
    reason = reason_of("order_placed", with_line(quantity="0." + "0" * 39 + "1"))
    assert "/lines/0/quantity: must be a decimal string with at most 12 integer digits and 5 decimals" in reason


def test_twelve_integer_digits_pass():
    CONTRACT.validate("sales_document_released", 1, {**EXAMPLES["sales_document_released"], "total": "999999999999.99"})


@pytest.mark.parametrize("amount", ["0", "0.00", "0.0"])
def test_an_authorized_payment_of_zero_is_refused(amount):
    payload = {**EXAMPLES["payment_gateway_event"], "amount": amount}
    assert "/amount: must be a decimal string greater than 0" in reason_of("payment_gateway_event", payload)


def test_a_payment_of_1e_minus_40_is_refused_in_either_spelling():
    for amount in ("1e-40", "0." + "0" * 39 + "1"):
        reason = reason_of("payment_gateway_event", {**EXAMPLES["payment_gateway_event"], "amount": amount})
        assert "/amount: must be a decimal string" in reason


def test_a_failed_payment_may_carry_zero_but_never_a_negative_amount():
    failed = {**EXAMPLES["payment_gateway_event"], "authorization_result": "FAILURE", "amount": "0"}
    CONTRACT.validate("payment_gateway_event", 1, failed)
    assert "/amount: must be a decimal string of 0 or more" in reason_of("payment_gateway_event", {**failed, "amount": "-1"})


def test_an_order_paid_at_placement_must_be_paid_more_than_zero():
    payload = placed(payment={"payment_method_code": "CARD", "authorization_result": "OK", "amount_paid": "0"})
    assert "/payment/amount_paid: must be a decimal string greater than 0" in reason_of("order_placed", payload)
    CONTRACT.validate("order_placed", 1, placed(payment={"authorization_result": "FAILURE", "amount_paid": "0"}))


@pytest.mark.parametrize("discount", ["100.01", "101", "-1", "1000", "5.555"])
def test_a_line_discount_outside_0_to_100_is_refused_naming_the_range(discount):
    reason = reason_of("order_placed", with_line(line_discount_pct=discount))
    assert "/lines/0/line_discount_pct: must be a percentage from 0 to 100" in reason


@pytest.mark.parametrize("discount", ["0", "100", "100.00", "12.5", "99.99"])
def test_a_line_discount_from_0_to_100_passes(discount):
    CONTRACT.validate("order_placed", 1, with_line(line_discount_pct=discount))


# -- strings and arrays ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "limit"), [("name", 100), ("address", 200), ("address_2", 200)])
def test_a_shipping_name_or_address_over_its_limit_is_refused_naming_it(field, limit):
    payload = placed()
    payload["shipping"][field] = "x" * (limit + 1)
    assert f"/shipping/{field}: must be at most {limit} characters long (maxLength)" in reason_of("order_placed", payload)


def test_a_customer_comment_over_2000_characters_is_refused():
    payload = {**EXAMPLES["customer_comment"], "text": "x" * 2001}
    assert "/text: must be at most 2000 characters long (maxLength)" in reason_of("customer_comment", payload)


def test_an_order_of_1001_lines_is_refused_naming_the_limit():
    payload = placed(lines=[dict(EXAMPLES["order_placed"]["lines"][0], line_no=n) for n in range(1, 1002)])
    assert "/lines: must have at most 1000 items (maxItems)" in reason_of("order_placed", payload)


def test_an_actor_with_too_many_roles_is_refused():
    payload = {**EXAMPLES["approval_set"], "actor": {**EXAMPLES["approval_set"]["actor"], "roles": ["Sales"] * 21}}
    assert "/actor/roles: must have at most 20 items (maxItems)" in reason_of("approval_set", payload)


def test_a_line_number_beyond_32_bits_is_refused():
    assert "/lines/0/line_no: must be at most 2147483647 (maximum)" in reason_of("order_placed", with_line(line_no=2**31))
