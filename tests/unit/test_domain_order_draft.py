"""OrderDraft: the wire form of a placed order and the validation rules of placement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings

from orderflow.aggregates.draft import OrderDraft
from orderflow.aggregates.errors import InvalidOrder
from orderflow.aggregates.order_taking_setup import OrderTerms
from orderflow.aggregates.values import AuthorizationResult, CheckoutType, CustomerType, LineType
from tests.strategies import b2b_payload, b2b_payloads, guest_payload, line


def codes_of_parse(payload: dict) -> list[str]:
    with pytest.raises(InvalidOrder) as caught:
        OrderDraft.from_dict(payload)
    return [p.code for p in caught.value.problems]


def codes_of_rules(payload: dict) -> list[str]:
    return [p.code for p in OrderDraft.from_dict(payload).problems()]


def test_from_dict_reads_every_field_of_the_wire_form() -> None:
    draft = OrderDraft.from_dict(guest_payload(customer_comment="thanks"))

    assert draft.customer_type is CustomerType.B2C_NOT_REGISTERED
    assert draft.checkout_type is CheckoutType.ORDER
    assert draft.order_date == date(2024, 3, 1)
    assert draft.customer_comment == "thanks"
    assert draft.lines[0].type is LineType.ITEM
    assert draft.lines[0].unit_price == Decimal("10.00")
    assert [l.line_no for l in draft.lines] == [1, 2]
    assert draft.shipping.requested_delivery_date == date(2024, 3, 8)
    assert draft.b2c_customer.email == "gus@mail.test"
    assert draft.payment.authorization_result is AuthorizationResult.OK
    assert draft.payment.amount_paid == Decimal("35.00")
    assert draft.total == Decimal("35.00")


@settings(max_examples=50, deadline=None)
@given(b2b_payloads())
def test_a_draft_survives_its_own_dict_form(payload: dict) -> None:
    draft = OrderDraft.from_dict(payload)

    assert OrderDraft.from_dict(draft.to_dict()) == draft
    assert OrderDraft.from_stored(draft.to_dict()) == draft
    assert draft.problems() == []


def test_a_stored_draft_is_read_back_without_the_wire_reader(monkeypatch) -> None:
    stored = OrderDraft.from_dict(guest_payload()).to_dict()
    monkeypatch.setattr("orderflow.aggregates.draft.Reader", None)  # replay must not need it

    assert OrderDraft.from_stored(stored).total == Decimal("35.00")


def test_reading_a_draft_does_not_read_type_hints_again(monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("type hints are read once per class, at import")

    monkeypatch.setattr("orderflow.aggregates.draft.get_type_hints", forbidden)
    monkeypatch.setattr("orderflow.aggregates.order_taking_setup.get_type_hints", forbidden)
    draft = OrderDraft.from_dict(guest_payload())
    OrderTerms.from_dict(OrderTerms().to_dict())

    assert OrderDraft.from_stored(draft.to_dict()) == draft


def test_a_malformed_draft_names_fields_and_rules_but_never_the_personal_values() -> None:
    email, phone, name = "anna.lind@example.com", "+46 70 123 45 67", "Anna Lind"
    payload = b2b_payload() | {"order_date": email, "customer_type": name, "email": [email], email: phone}
    payload["lines"][0]["quantity"] = phone
    payload["b2c_customer"] = {"name": 7, "web_account_no": 1.5}
    with pytest.raises(InvalidOrder) as caught:
        OrderDraft.from_dict(payload)
    reasons = str(caught.value)

    assert {p.code for p in caught.value.problems} == {"not_date", "unknown_value", "not_str", "unknown_field", "not_decimal"}
    assert "order.order_date must be an ISO 8601 date" in reasons
    assert "lines[0].quantity must be a decimal number" in reasons
    for value in (email, phone, name, "anna", "123 45"):
        assert value not in reasons


def test_line_amount_is_quantity_times_price_less_discount_rounded_half_up() -> None:
    draft = OrderDraft.from_dict(b2b_payload({**line(), "quantity": "3", "unit_price": "0.125", "line_discount_pct": "0", "line_amount": "0.38"}))

    assert draft.lines[0].line_amount == draft.lines[0].expected_amount == Decimal("0.38")


def test_a_line_amount_that_does_not_add_up_is_refused() -> None:
    assert codes_of_parse(b2b_payload({**line(), "line_amount": "19.99"})) == ["line_amount_mismatch"]


def test_quantities_must_be_positive() -> None:
    assert codes_of_parse(b2b_payload({**line(), "quantity": "0", "line_amount": "0.00"})) == ["quantity_not_positive"]


def test_discounts_must_lie_between_0_and_100() -> None:
    assert codes_of_parse(b2b_payload({**line(), "line_discount_pct": "101"})) == ["discount_out_of_range"]


def test_money_travels_as_decimal_strings_not_floats() -> None:
    assert codes_of_parse(b2b_payload({**line(), "unit_price": 10.0})) == ["not_decimal"]


def test_an_order_needs_lines() -> None:
    assert codes_of_parse(b2b_payload() | {"lines": []}) == ["no_lines"]


def test_unknown_fields_and_values_are_named() -> None:
    codes = codes_of_parse(b2b_payload() | {"colour": "red", "customer_type": "VIP", "order_date": "01/03/2024"})

    assert sorted(codes) == ["not_date", "unknown_field", "unknown_value"]


def test_line_numbers_are_unique() -> None:
    payload = b2b_payload(line(line_no=1), line("2000", line_no=1))

    assert codes_of_parse(payload) == ["duplicate_line_no"]


def test_a_guest_order_has_a_name_an_email_and_a_delivery_address() -> None:
    payload = guest_payload()
    payload["b2c_customer"] = {}
    payload["sell_to_customer_name"] = ""
    payload["email"] = ""
    payload["shipping"] = {"city": "Springfield"}

    assert codes_of_rules(payload) == ["guest_without_name", "guest_without_email", "guest_without_address"]


def test_a_ship_to_code_appears_only_on_b2b_orders() -> None:
    payload = guest_payload()
    payload["shipping"]["ship_to_code"] = "MAIN"

    assert codes_of_rules(payload) == ["ship_to_code_not_b2b"]


def test_a_b2b_order_names_its_customer() -> None:
    assert codes_of_rules(b2b_payload(sell_to_customer_no="")) == ["b2b_without_customer_no"]


def test_a_registered_b2c_order_names_its_web_account() -> None:
    payload = guest_payload(customer_type="B2C - Registered")
    payload["customer_type"] = "B2C - Registered"

    assert codes_of_rules(payload) == ["registered_without_web_account"]


def test_the_requested_delivery_date_is_not_before_the_order_date() -> None:
    payload = b2b_payload()
    payload["shipping"]["requested_delivery_date"] = "2024-02-28"

    assert codes_of_rules(payload) == ["delivery_before_order_date"]
