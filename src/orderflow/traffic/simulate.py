"""Realistic storefront and ERP traffic, reproducible from a seed, for the demo and the benchmarks.

Each simulated order tells a story drawn from the manuals: placed (an order, or a
quote request), sometimes quoted (quote, approval requested, approved by the
customer, made into an order), otherwise ordered at once; commented on; paid
(B2C; a declined card is retried); released, sometimes at a different total (the
ERP added freight or changed a price: the web order is refreshed and, now and
then, the customer asked to approve the new version); prebook lines checked
out; shipped partially then fully; confirmed (registered B2C customers confirm
first, as the simulated setup requires) and realized. A few orders are rejected
by hand along the way. Every message is keyed by the order's storefront
reference; an order's messages have increasing ``occurred_at`` times.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from orderflow.aggregates.lines import line_amount
from orderflow.aggregates.values import money
from orderflow.consumers.handlers import ERP, SETUP_KEY, STOREFRONT, TOPIC_OF, placing_customer, topic_for
from orderflow.contract.envelope import JSON, MSGPACK, Envelope
from orderflow.kafka import make_producer
from orderflow.settings import Settings

CATALOG = [
    ("ITEM-1000", "Bicycle frame 54 cm", "Aluminium, matte black", Decimal("389.00")),
    ("ITEM-1001", "Road wheelset", "700C, tubeless ready", Decimal("249.50")),
    ("ITEM-1002", "Chain KMC X11", "", Decimal("32.90")),
    ("ITEM-1003", "Brake pads", "Disc, organic", Decimal("12.45")),
    ("ITEM-1004", "Handlebar tape", "Cork, blue", Decimal("18.00")),
    ("ITEM-1005", "Saddle Comfort+", "", Decimal("59.99")),
]
B2B_CUSTOMERS = [("C10000", "The Cannon Group PLC"), ("C20000", "Selangorian Ltd."), ("C30000", "John Haddock Insurance Co.")]
PEOPLE = [("Anna Lind", "Storgatan 4", "11122", "Stockholm", "SE"), ("Jan Nowak", "ul. Długa 7", "00-238", "Warszawa", "PL"),
          ("Mia Jensen", "Nørregade 12", "1165", "København", "DK")]
COMMENTS = ["Could you deliver to the back door?", "Is the frame also available in blue?", "Please call before delivery.",
            "We need this before the race on Saturday."]
CLERK = {"user_type": "Back Office User", "user_no": "U-SALES-7", "person_name": "Carl Clerk", "company": "Bikes & Co", "roles": ["Sales"]}
MANAGER = {"user_type": "Back Office User", "user_no": "U-MGR-1", "person_name": "Mia Manager", "company": "Bikes & Co",
           "roles": ["Sales Manager"]}
WAREHOUSE = {"user_type": "Back Office User", "user_no": "U-WH-3", "person_name": "Wes Warehouse", "company": "Bikes & Co",
             "roles": ["Warehouse"]}
PRODUCERS = {STOREFRONT: ("storefront-simulator", MSGPACK), ERP: ("erp-simulator", JSON)}
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def order_placed_payload(rng: random.Random, n: int, at: datetime) -> dict[str, Any]:
    """A B2B or B2C order (or quote request) of a few lines, sometimes with a prebook line or a shipping price."""
    customer_type = rng.choice(["B2B Customer", "B2C - Registered", "B2C - Not Registered"])
    lines: list[dict[str, Any]] = []
    for no, description, description_2, price in rng.sample(CATALOG, rng.randint(1, 4)):
        lines.append(_line(len(lines) + 1, "Item", no, description, description_2, Decimal(rng.randint(1, 5)), price,
                           rng.choice([Decimal("0"), Decimal("0"), Decimal("5"), Decimal("12.5")])))
    if rng.random() < 0.15:
        lines[-1]["prebook"] = True
    zone = rng.choice(["DOMESTIC", "EU"])
    if zone == "EU":
        lines.append(_line(len(lines) + 1, "Resource", "SHIPPING", "Shipping EU", "", Decimal(1), Decimal("15.00"), Decimal(0),
                           unit="SERVICE"))
    name, address, post_code, city, country = rng.choice(PEOPLE)
    payload: dict[str, Any] = {
        "customer_type": customer_type,
        "checkout_type": "Quote" if rng.random() < 0.25 else "Order",
        "order_date": at.date().isoformat(),
        "prices_including_vat": customer_type != "B2B Customer",
        "currency_code": "EUR",
        "customer_comment": rng.choice(["", "", "Please deliver before noon.", "Gift wrap, please."]),
        "lines": lines,
        "shipping": {
            "name": name, "address": address, "post_code": post_code, "city": city, "country_region_code": country,
            "requested_delivery_date": (at.date() + timedelta(days=rng.randint(3, 14))).isoformat(),
            "shipment_method_code": "DHL", "shipment_zone_code": zone,
        },
    }
    email = name.lower().replace(" ", ".") + "@example.com"
    if customer_type == "B2B Customer":
        customer_no, customer_name = rng.choice(B2B_CUSTOMERS)
        payload.update(sell_to_customer_no=customer_no, sell_to_customer_name=customer_name,
                       sell_to_contact_no=f"CT{n:05d}", sell_to_contact=name, email=email, phone="+46 8 123 45 67",
                       actor={"user_type": "Web Account", "user_no": f"WA{n:05d}", "person_name": name,
                              "company": customer_name})
        payload["shipping"]["ship_to_code"] = rng.choice(["", "MAIN", "WAREHOUSE"])
    else:
        registered = customer_type == "B2C - Registered"
        payload.update(sell_to_customer_no="B2C", sell_to_customer_name=name, email=email, phone="+45 33 12 34 56")
        payload["b2c_customer"] = {
            "web_account_no": f"WA{n:05d}" if registered else "", "name": name, "email": email,
            "phone": "+45 33 12 34 56", "ssn_reg_no": "",
        }
        paid = rng.random() < 0.8
        payload["payment"] = {
            "payment_method_code": "CARD", "authorization_result": "OK" if paid else "FAILURE",
            "status_info": "" if paid else "card declined", "transaction_id": f"TX{rng.randrange(10**9):09d}",
            "amount_paid": str(_total(lines) if paid else Decimal("0")),
        }
    return payload


def setup_messages(rng: random.Random) -> list[Envelope]:
    """The order-taking setup the stories assume: registered B2C customers confirm their orders."""
    payload = {"actor": MANAGER, "customer_type": "B2C - Registered", "customer_confirmation_required": True}
    return [_envelope(rng, SETUP_KEY, "order_taking_configured", START - timedelta(hours=1), payload)]


def traffic(count: int, seed: int) -> list[tuple[str, Envelope]]:
    """The setup, then ``count`` orders' stories interleaved by time: ``(topic kind, envelope)`` in sending order.

    The topic kind is ``storefront`` or ``erp`` (:data:`orderflow.consumers.handlers.TOPIC_OF`).
    """
    rng = random.Random(seed)
    envelopes = setup_messages(rng)
    for n in range(1, count + 1):
        envelopes += _Story(rng, n, START + timedelta(minutes=7 * n)).tell()
    envelopes.sort(key=lambda envelope: envelope.occurred_at)  # stable: an order's own messages keep their order
    return [(TOPIC_OF[envelope.message_type], envelope) for envelope in envelopes]


def publish_orders(settings: Settings, count: int, seed: int, rate: float = 0) -> int:
    """Publish the :func:`traffic` of ``count`` orders to the storefront and ERP topics; return how many messages were sent."""
    messages = traffic(count, seed)
    producer = make_producer(settings)
    try:
        for _, envelope in messages:
            producer.send(topic_for(envelope.message_type, settings.topics), key=envelope.key.encode(),
                          value=envelope.value(), headers=envelope.headers())
            if envelope.message_type == "order_taking_configured":
                producer.flush()  # the setup goes first: later orders are taken under it
            if rate:
                time.sleep(1 / rate)
        producer.flush()
    finally:
        producer.close()
    return len(messages)


class _Story:
    """One order's messages, each a little later than the one before."""

    def __init__(self, rng: random.Random, n: int, placed_at: datetime):
        self.rng, self.key, self.at = rng, f"SF-{n:06d}", placed_at
        self.placed = order_placed_payload(rng, n, placed_at)
        self.customer = placing_customer(self.placed).to_dict()
        self.lines: list[dict[str, Any]] = self.placed["lines"]
        self.version = 1
        self.paid = Decimal(self.placed.get("payment", {}).get("amount_paid", "0"))
        self.envelopes: list[Envelope] = []

    def tell(self) -> list[Envelope]:
        rng = self.rng
        self._send("order_placed", self.placed, delay=0)
        if self.placed["customer_type"] != "B2B Customer" and not self.paid:
            self._pay(_total(self.lines), "card accepted on the second try")
        if rng.random() < 0.3:
            self._send("customer_comment", {"actor": self.customer, "text": rng.choice(COMMENTS)})
        if rng.random() < 0.05:
            return self._reject("Duplicate of an earlier order")
        quoted = self.placed["checkout_type"] == "Quote" or rng.random() < 0.2
        if quoted and not self._quote():
            return self.envelopes
        if not quoted:
            self._send("sales_document_created", {"actor": CLERK, "document_type": "Order", "document_no": f"SO{self.key[3:]}"})
        self._confirm()
        self._release()
        for line in self.lines:
            if line.get("prebook"):
                self._send("prebook_line_checked_out", {"actor": self.customer, "line_no": line["line_no"]})
        self._ship()
        self._send("order_realized", {"actor": CLERK}, delay=24 * 60)
        return self.envelopes

    def _quote(self) -> bool:
        """Quote, approval, conversion; False if the quote ends rejected."""
        rng = self.rng
        expires_on = (self.at + timedelta(days=30)).date().isoformat()
        self._send("sales_document_created",
                   {"actor": CLERK, "document_type": "Quote", "document_no": f"SQ{self.key[3:]}", "expires_on": expires_on})
        self._send("approval_requested", {"actor": CLERK})
        if rng.random() < 0.1:
            self._send("approval_set", {"actor": MANAGER, "state": "Rejected", "comment": "Customer declined by phone"})
            self._reject("Quote declined")
            return False
        self._send("customer_approval", {"actor": self.customer, "version": self.version}, delay=rng.randint(60, 2 * 24 * 60))
        order = {"actor": CLERK, "order_no": f"SO{self.key[3:]}"}
        if rng.random() < 0.3:
            if rng.random() < 0.5:
                self._send("quote_approved_for_conversion", {"actor": MANAGER})
            new_date = (self.at + timedelta(days=rng.randint(5, 10))).date().isoformat()
            order = {**order, "actor": self.customer,
                     "shipping": {**self.placed["shipping"], "requested_delivery_date": new_date}}
        self._send("quote_made_into_order", order)
        return True

    def _confirm(self) -> None:
        if self.placed["customer_type"] == "B2C - Registered":
            self._send("customer_confirmation", {"actor": self.customer})
        self._send("order_confirmed_by_shop", {"actor": CLERK})

    def _release(self) -> None:
        """Release; at a different total now and then, which the ERP resolves by refreshing the web order."""
        rng = self.rng
        if rng.random() >= 0.2:
            self._send("sales_document_released", {"actor": CLERK, "total": str(_total(self.lines))})
            return
        self.lines = self._changed_lines()
        self._send("sales_document_released", {"actor": CLERK, "total": str(_total(self.lines))})
        ask = rng.random() < 0.5
        self._send("web_order_refreshed", {"actor": CLERK, "lines": self.lines, "request_approval": ask})
        self.version += 1
        if ask:
            self._send("customer_approval", {"actor": self.customer, "version": self.version}, delay=rng.randint(30, 24 * 60))
        due = _total(self.lines) - self.paid
        if self.placed["customer_type"] != "B2B Customer" and due > 0:
            self._pay(due, "additional charge")

    def _changed_lines(self) -> list[dict[str, Any]]:
        """The sales document's lines: a price changed, or freight added."""
        lines = [dict(line) for line in self.lines]
        if self.rng.random() < 0.5:
            first = lines[0]
            price = money(Decimal(first["unit_price"]) * Decimal("1.05"))
            lines[0] = {**first, "unit_price": str(price), "line_amount": str(
                line_amount(Decimal(first["quantity"]), price, Decimal(first["line_discount_pct"])))}
        else:
            lines.append(_line(len(lines) + 1, "Resource", "FREIGHT", "Freight surcharge", "", Decimal(1), Decimal("9.50"),
                               Decimal(0), unit="SERVICE"))
        return lines

    def _ship(self) -> None:
        """Ship everything, sometimes in two shipments (part of the first line's quantity first)."""
        remaining = {line["line_no"]: Decimal(line["quantity"]) for line in self.lines}
        first = self.lines[0]
        if self.rng.random() < 0.4 and remaining[first["line_no"]] > 1:
            part = remaining[first["line_no"]] - 1
            self._shipment([{"line_no": first["line_no"], "quantity": str(part)}])
            remaining[first["line_no"]] -= part
        self._shipment([{"line_no": no, "quantity": str(quantity)} for no, quantity in remaining.items()])

    def _shipment(self, lines: list[dict[str, Any]]) -> None:
        count = sum(1 for envelope in self.envelopes if envelope.message_type == "shipment_posted")
        self._send("shipment_posted", {"actor": WAREHOUSE, "shipment_no": f"SS{self.key[3:]}-{count + 1}", "lines": lines},
                   delay=self.rng.randint(4 * 60, 3 * 24 * 60))

    def _pay(self, amount: Decimal, status_info: str) -> None:
        self._send("payment_gateway_event", {
            "actor": self.customer, "authorization_result": "OK", "transaction_id": f"TX{self.rng.randrange(10**9):09d}",
            "amount": str(amount), "status_info": status_info,
        })
        self.paid += amount

    def _reject(self, comment: str) -> list[Envelope]:
        self._send("workflow_status_changed", {"actor": MANAGER, "status": "Rejected", "comment": comment})
        return self.envelopes

    def _send(self, message_type: str, payload: dict[str, Any], delay: int | None = None) -> None:
        self.at += timedelta(minutes=self.rng.randint(5, 240) if delay is None else delay)
        self.envelopes.append(_envelope(self.rng, self.key, message_type, self.at, payload))


def _envelope(rng: random.Random, key: str, message_type: str, at: datetime, payload: dict[str, Any]) -> Envelope:
    producer, content_type = PRODUCERS[TOPIC_OF[message_type]]
    return Envelope(
        key=key, message_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), message_type=message_type,
        occurred_at=at, payload=payload, producer=producer, content_type=content_type,
    )


def _line(line_no: int, kind: str, no: str, description: str, description_2: str, quantity: Decimal, price: Decimal,
          discount: Decimal, unit: str = "PCS") -> dict[str, Any]:
    return {
        "line_no": line_no, "type": kind, "no": no, "variant_code": "", "description": description,
        "description_2": description_2, "quantity": str(quantity), "unit_of_measure_code": unit, "unit_price": str(price),
        "line_discount_pct": str(discount), "line_amount": str(line_amount(quantity, price, discount)),
    }


def _total(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["line_amount"]) for line in lines), Decimal("0.00"))
