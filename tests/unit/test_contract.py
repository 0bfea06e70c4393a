"""Every inbound payload is checked against its JSON Schema in schemas/."""

import copy

import pytest

from orderflow.contract import Contract, ContractViolation
from orderflow.settings import Settings

PLACED = {
    "customer_type": "B2C - Not Registered",
    "order_date": "2026-11-02",
    "lines": [{"type": "Item", "no": "ITEM-1000", "quantity": "2", "unit_price": "10.00", "line_amount": "20.00"}],
}


@pytest.fixture(scope="module")
def contract():
    return Contract(Settings().schema_dir)


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


def test_a_violation_names_the_offending_field(contract):
    payload = copy.deepcopy(PLACED)
    payload["lines"][0]["unit_price"] = 10.0
    with pytest.raises(ContractViolation, match="/lines/0/unit_price: 10.0 is not of type 'string'"):
        contract.validate("order_placed", 1, payload)


def test_money_must_be_a_decimal_string_not_a_float_in_disguise(contract):
    payload = copy.deepcopy(PLACED)
    payload["lines"][0]["quantity"] = "1e3"
    with pytest.raises(ContractViolation, match="/lines/0/quantity"):
        contract.validate("order_placed", 1, payload)
