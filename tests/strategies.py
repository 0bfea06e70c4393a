"""Example builders and Hypothesis strategies for web orders (wire payloads, actors, times)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from orderflow.aggregates.lines import line_amount
from orderflow.aggregates.values import Actor
from orderflow.application import Orders

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)

CUSTOMER = Actor.web_account("WA-1", "Ann Buyer", "Acme Ltd")
SALES_AGENT = Actor.web_account("WA-9", "Sam Agent", "Shop", "Sales Agent")
MANAGER = Actor.back_office("U-MGR", "Mia Manager", "Shop", "Sales Manager")
CLERK = Actor.back_office("U-CLK", "Carl Clerk", "Shop", "Sales")
WAREHOUSE = Actor.back_office("U-WH", "Wes Warehouse", "Shop", "Warehouse")


def fresh_orders() -> Orders:
    """An application on its own in-memory store."""
    return Orders("memory:")


def at(minutes: int) -> datetime:
    """A time ``minutes`` after the start of the test day."""
    return T0 + timedelta(minutes=minutes)


def amount(quantity: str, unit_price: str, discount: str = "0") -> str:
    """The line amount the manual's rule gives, as a decimal string."""
    return str(line_amount(Decimal(quantity), Decimal(unit_price), Decimal(discount)))


def line(no: str = "1000", quantity: str = "2", unit_price: str = "10.00", discount: str = "0", **extra: Any) -> dict[str, Any]:
    """A wire line whose amount adds up."""
    return {
        "type": "Item",
        "no": no,
        "description": f"Item {no}",
        "quantity": quantity,
        "unit_of_measure_code": "PCS",
        "unit_price": unit_price,
        "line_discount_pct": discount,
        "line_amount": amount(quantity, unit_price, discount),
        **extra,
    }


def b2b_payload(*lines: dict[str, Any], **header: Any) -> dict[str, Any]:
    """A valid B2B order payload (two lines totalling 35.00 unless lines are given)."""
    return {
        "customer_type": "B2B Customer",
        "sell_to_customer_no": "C-100",
        "sell_to_customer_name": "Acme Ltd",
        "sell_to_contact_no": "CT-1",
        "sell_to_contact": "Ann Buyer",
        "email": "ann@acme.test",
        "phone": "+1 555 0100",
        "customer_comment": "",
        "order_date": "2024-03-01",
        "prices_including_vat": False,
        "currency_code": "",
        "lines": list(lines) or [line("1000", "2", "10.00"), line("2000", "3", "5.00")],
        "shipping": {
            "ship_to_code": "MAIN",
            "name": "Acme Ltd",
            "address": "1 Main St",
            "post_code": "12345",
            "city": "Springfield",
            "country_region_code": "US",
            "requested_delivery_date": "2024-03-08",
            "shipment_method_code": "DHL",
            "shipment_zone_code": "ZONE1",
        },
        **header,
    }


def guest_payload(**header: Any) -> dict[str, Any]:
    """A valid order of a guest (B2C - Not Registered)."""
    payload = b2b_payload(**header)
    payload.update(customer_type="B2C - Not Registered", sell_to_customer_no="B2C")
    payload["shipping"] = {**payload["shipping"], "ship_to_code": ""}
    payload["b2c_customer"] = {"name": "Gus Guest", "email": "gus@mail.test", "phone": "555"}
    payload["payment"] = {"payment_method_code": "CARD", "authorization_result": "OK", "transaction_id": "TX-1", "amount_paid": "35.00"}
    return payload


# -- Hypothesis strategies ---------------------------------------------------------------------

money_strings = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2).map(str)
quantity_strings = st.integers(min_value=1, max_value=20).map(str)
discount_strings = st.sampled_from(["0", "5", "10", "12.5", "33.33", "100"])


@st.composite
def wire_lines(draw: st.DrawFn, prebook: bool | None = None) -> dict[str, Any]:
    """A wire line with a correct amount; ``prebook`` drawn unless fixed."""
    item = draw(st.sampled_from(["1000", "2000", "3000", "SHIP"]))
    extra = {"prebook": draw(st.booleans()) if prebook is None else prebook}
    return line(item, draw(quantity_strings), draw(money_strings), draw(discount_strings), **extra)


@st.composite
def b2b_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid B2B payload with 1 to 4 lines."""
    lines = draw(st.lists(wire_lines(), min_size=1, max_size=4))
    return b2b_payload(*lines)


actors = st.sampled_from([CUSTOMER, SALES_AGENT, MANAGER, CLERK, WAREHOUSE])
