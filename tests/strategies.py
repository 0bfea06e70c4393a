"""Example builders and Hypothesis strategies for web orders (wire payloads, actors, times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from orderflow.aggregates.lines import line_amount
from orderflow.aggregates.values import Actor
from orderflow.application.orders import Orders

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

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


# -- bad records for the envelope fuzz ------------------------------------------------------------

SENTINEL = "planted.sentinel@example.com"
"""A personal-looking value planted in bad records: no reason may ever repeat it."""
OUR_HEADERS = ["message_id", "message_type", "schema_version", "content_type", "occurred_at", "producer"]
_sizes = st.sampled_from([0, 1, 5, 129, 257, 1025, 300_000, 1_100_000])
_planted = st.builds(lambda n, s: (SENTINEL * (n // len(SENTINEL) + 1))[: max(n, len(SENTINEL))] + s,
                     _sizes, st.text(max_size=5))
_bytes = st.one_of(st.binary(max_size=40), _planted.map(lambda s: s.encode("utf-8", "surrogatepass")),
                   st.sampled_from([b"\xff\xfe", b"\x00", "１".encode(), b" 1", b"01", b"+1", b"1",
                                    b"0001-01-01T00:00:00+01:00", b"9999-12-31T23:00:00-05:00", b"2026-11-02T09:00:00Z",
                                    b"application/json", b"application/msgpack", b"order_placed", b"customer_comment"]))
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                     st.text(max_size=10), _planted, st.binary(max_size=5),
                     st.sampled_from(["0001-01-01", "9999-12-31", "0", "1e-40", "9" * 40, "A\x00B", "\ud800"]))
_payload_trees = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.one_of(st.text(max_size=8), _planted, st.sampled_from(["lines", "actor", "text", "amount"])),
                      inner, max_size=3),
    max_leaves=12,
)


@st.composite
def bad_records(draw: st.DrawFn, examples: dict[str, dict[str, Any]]) -> tuple[bytes | None, bytes | None, list]:
    """A record built from a valid example, then broken in its key, headers, value or payload, with planted values."""
    import json as _json

    import msgpack

    from orderflow.contract.envelope import Envelope

    message_type = draw(st.sampled_from(sorted(examples)))
    payload = dict(examples[message_type])
    for _ in range(draw(st.integers(0, 3))):  # plant or break fields
        field = draw(st.one_of(st.sampled_from(sorted(payload) or ["x"]), _planted, st.text(max_size=6)))
        payload[field] = draw(_payload_trees)
    content_type = draw(st.sampled_from(["application/msgpack", "application/json"]))
    sent = Envelope(key="SF-1", message_id="m-1", message_type=message_type, payload={},
                    occurred_at=datetime(2026, 11, 2, 9, tzinfo=UTC), content_type=content_type)
    headers: list[tuple[str, bytes | None]] = list(sent.headers())
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 4]))):  # replace, add, duplicate, null or drop headers
        name = draw(st.one_of(st.sampled_from(OUR_HEADERS), st.text(max_size=6), _planted))
        action = draw(st.sampled_from(["set", "add", "null", "drop"]))
        if action == "drop":
            headers = [(n, v) for n, v in headers if n != name]
        elif action == "set":
            headers = [(n, v) for n, v in headers if n != name] + [(name, draw(_bytes))]
        else:
            headers.append((name, None if action == "null" else draw(_bytes)))
    key = draw(st.sampled_from([b"SF-1", b"SF-1", b"SF-1", None]) | _bytes)
    mode = draw(st.sampled_from(["payload", "payload", "bytes", "deep"]))
    if mode == "bytes":
        value = draw(st.one_of(st.none(), _bytes))
    elif mode == "deep":
        depth = draw(st.sampled_from([17, 1000, 100_000]))
        value = (b'{"a":' + b"[" * depth + b"]" * depth + b"}") if content_type.endswith("json") else b"\x91" * depth + b"\x01"
    elif content_type.endswith("json"):
        try:
            value = _json.dumps(payload, ensure_ascii=draw(st.booleans()), default=repr).encode("utf-8", "surrogatepass")
        except ValueError:
            value = b"{}"
    else:
        value = msgpack.packb(_msgpackable(payload), use_bin_type=True, unicode_errors="surrogatepass")
    return key, value, headers


def _msgpackable(node: Any) -> Any:
    """``node`` with integers msgpack cannot carry (beyond 64 bits) written as text: they are JSON's problem, not msgpack's."""
    if isinstance(node, dict):
        return {key: _msgpackable(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_msgpackable(value) for value in node]
    if isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**64:
        return str(node)
    return node
