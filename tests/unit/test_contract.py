"""Every inbound payload is checked against its JSON Schema in schemas/; a reason names the field and the rule, never the value."""

import copy

import pytest

from orderflow.contract.schemas import MAX_REASON, Contract, ContractViolation
from orderflow.settings import Settings
from tests.messages import EXAMPLES

PLACED = {
    "customer_type": "B2C - Not Registered",
    "order_date": "2026-11-02",
    "lines": [{"type": "Item", "no": "ITEM-1000", "quantity": "2", "unit_price": "10.00", "line_amount": "20.00"}],
}
EMAIL = "anna.lind@example.com"
PHONE = "+46 70 123 45 67"
NAME = "Anna Maria Lind-Svensson"
SSN = "19790412-1234"


@pytest.fixture(scope="module")
def contract():
    return Contract(Settings().schema_dir)


def reason_of(contract, message_type, payload) -> str:
    with pytest.raises(ContractViolation) as raised:
        contract.validate(message_type, 1, payload)
    return str(raised.value)


def test_every_schema_in_the_contract_is_a_valid_json_schema(contract):
    assert ("order_placed", 1) in contract.message_types


def test_a_payload_that_matches_its_schema_passes(contract):
    contract.validate("order_placed", 1, PLACED)


def test_an_unknown_message_type_is_a_violation_naming_the_known_types(contract):
    with pytest.raises(ContractViolation, match="unknown message type 'order_exploded'.*order_placed"):
        contract.validate("order_exploded", 1, PLACED)


def test_an_unknown_schema_version_is_a_violation(contract):
    with pytest.raises(ContractViolation, match="version 99"):
        contract.validate("order_placed", 99, PLACED)


def test_a_violation_names_the_offending_field_and_the_expected_type(contract):
    payload = copy.deepcopy(PLACED)
    payload["lines"][0]["unit_price"] = 10.0
    assert reason_of(contract, "order_placed", payload).endswith("/lines/0/unit_price: must be of type string")


def test_money_must_be_a_decimal_string_not_a_float_in_disguise(contract):
    payload = copy.deepcopy(PLACED)
    payload["lines"][0]["quantity"] = "1e3"
    reason = reason_of(contract, "order_placed", payload)
    assert "/lines/0/quantity: must be a decimal string with at most 12 integer digits and 5 decimals (pattern)" in reason


def test_a_date_that_is_no_date_names_the_format(contract):
    assert "/order_date: is not a valid 'date'" in reason_of(contract, "order_placed", {**PLACED, "order_date": "2026-02-30"})


def test_a_too_long_field_names_its_limit(contract):
    reason = reason_of(contract, "order_placed", {**PLACED, "email": "x" * 81})
    assert "/email: must be at most 80 characters long (maxLength)" in reason


def test_a_missing_field_and_an_unknown_field_are_named_by_their_paths(contract):
    payload = {k: v for k, v in PLACED.items() if k != "order_date"} | {"surprise": 1}
    reason = reason_of(contract, "order_placed", payload)
    assert "/order_date: is required" in reason
    assert "/surprise: is not a field of this message" in reason


def test_a_value_json_cannot_carry_is_a_violation_not_a_crash(contract):
    assert "JSON cannot carry" in reason_of(contract, "order_placed", {**PLACED, "email": b"\x00bytes"})
    assert "JSON cannot carry" in reason_of(contract, "order_placed", {**PLACED, 7: "int key"})


# -- personal data never leaves in a reason (issue 12) -------------------------------------------------


def planted_payloads():
    """Bad payloads carrying known personal values in every kind of invalid field."""
    placed = copy.deepcopy(EXAMPLES["order_placed"])
    yield "order_placed", {**placed, "email": EMAIL * 4}  # too long
    yield "order_placed", {**placed, "phone": [PHONE]}  # wrong type
    yield "order_placed", {**placed, "order_date": EMAIL}  # not a date (pattern and format)
    yield "order_placed", {**placed, "customer_type": NAME}  # not in the enum
    yield "order_placed", {**placed, "b2c_customer": {"ssn_reg_no": SSN * 3, "name": 42}}  # nested
    yield "order_placed", {**placed, EMAIL: PHONE}  # a personal value as an unknown key
    yield "order_placed", {**placed, "shipping": {**placed["shipping"], EMAIL: NAME, "name": NAME * 20}}
    lines = copy.deepcopy(placed["lines"])
    lines[0]["quantity"] = PHONE
    lines[1]["description"] = NAME * 20
    yield "order_placed", {**placed, "lines": lines}
    yield "customer_comment", {**EXAMPLES["customer_comment"], "text": 12, "actor": {"user_type": NAME, "user_no": EMAIL}}
    yield "order_taking_configured", {**EXAMPLES["order_taking_configured"], "customer_type": EMAIL}


@pytest.mark.parametrize("message_type, payload", list(planted_payloads()))
def test_a_reason_never_quotes_a_planted_personal_value(contract, message_type, payload):
    reason = reason_of(contract, message_type, payload)
    assert ": " in reason.split("violates its schema: ", 1)[1], "the reason names at least one field and rule"
    for value in (EMAIL, PHONE, NAME, SSN, "anna", "Lind", "123 45"):
        assert value not in reason


def test_a_megabyte_string_gives_a_short_reason_that_names_the_field(contract):
    reason = reason_of(contract, "order_placed", {**PLACED, "customer_comment": NAME * 50_000})
    assert len(NAME * 50_000) > 1_000_000
    assert "/customer_comment: must be at most 2000 characters long (maxLength)" in reason
    assert NAME not in reason
    assert len(reason) <= MAX_REASON


def test_a_reason_stays_bounded_however_many_fields_are_bad(contract):
    payload = {**PLACED, **{f"unknown_{n}": EMAIL for n in range(500)}, ("x" * 100_000): 1}
    reason = reason_of(contract, "order_placed", payload)
    assert len(reason) <= MAX_REASON
    assert EMAIL not in reason and "x" * 50 not in reason


def test_an_unknown_message_type_that_is_no_name_is_not_quoted(contract):
    reason = str(pytest.raises(ContractViolation, contract.validate, EMAIL * 10_000, 1, PLACED).value)
    assert EMAIL not in reason
    assert len(reason) <= MAX_REASON
