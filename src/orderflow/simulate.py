"""Realistic storefront traffic, reproducible from a seed, for the demo and the benchmarks."""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kafka import KafkaProducer

from orderflow.settings import Settings
from orderflow.wire import Envelope

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
CENT = Decimal("0.01")


def line_amount(quantity: Decimal, unit_price: Decimal, discount_pct: Decimal) -> Decimal:
    """The manual's rule: quantity × unit price × (1 − discount/100), to 2 decimals."""
    return (quantity * unit_price * (1 - discount_pct / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def order_placed(rng: random.Random, n: int, at: datetime) -> Envelope:
    """One ``order_placed`` message: a B2B or a B2C order of a few lines, sometimes shipped at a price."""
    customer_type = rng.choice(["B2B Customer", "B2C - Registered", "B2C - Not Registered"])
    lines = []
    for no, description, description_2, price in rng.sample(CATALOG, rng.randint(1, 4)):
        quantity = Decimal(rng.randint(1, 5))
        discount = rng.choice([Decimal("0"), Decimal("0"), Decimal("5"), Decimal("12.5")])
        lines.append({
            "type": "Item", "no": no, "variant_code": "", "description": description, "description_2": description_2,
            "quantity": str(quantity), "unit_of_measure_code": "PCS", "unit_price": str(price),
            "line_discount_pct": str(discount), "line_amount": str(line_amount(quantity, price, discount)),
        })
    zone = rng.choice(["DOMESTIC", "EU"])
    if zone == "EU":
        lines.append({
            "type": "Resource", "no": "SHIPPING", "variant_code": "", "description": "Shipping EU", "description_2": "",
            "quantity": "1", "unit_of_measure_code": "SERVICE", "unit_price": "15.00", "line_discount_pct": "0",
            "line_amount": "15.00",
        })
    total = sum(Decimal(line["line_amount"]) for line in lines)
    name, address, post_code, city, country = rng.choice(PEOPLE)
    payload: dict[str, Any] = {
        "customer_type": customer_type,
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
            "amount_paid": str(total if paid else Decimal("0")),
        }
    return Envelope(
        key=f"SF-{n:06d}",
        message_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        message_type="order_placed",
        occurred_at=at,
        payload=payload,
        producer="orderflow-simulator",
    )


def publish_orders(settings: Settings, count: int, seed: int, rate: float = 0) -> int:
    """Publish ``count`` placed orders to the storefront topic; return how many were sent."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    try:
        for n in range(1, count + 1):
            envelope = order_placed(rng, n, start + timedelta(minutes=7 * n))
            producer.send(settings.topics.storefront, key=envelope.key.encode(), value=envelope.value(),
                          headers=envelope.headers())
            if rate:
                time.sleep(1 / rate)
        producer.flush()
    finally:
        producer.close()
    return count
