"""Large orders: 500 lines each, placed, refreshed and shipped line by line.

Some customers order 100+ lines. Each story here is the simulator's shape at
that size, built with the simulator's own helpers and envelope: a B2B order of
``lines`` item lines placed on the storefront topic; on the ERP topic a sales
order linked, confirmed by the shop, released at a changed total, the web order
refreshed with the changed lines, one shipment per line, realized. That is
``lines + 6`` messages per order, and every message but the first four touches
an aggregate whose history grows with the order.

The schemas set no maximum on the number of lines (``minItems: 1`` only); a
500-line message is about 100 KB, under Kafka's default 1 MB record limit.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from orderflow.contract.envelope import Envelope
from orderflow.traffic.simulate import (
    CATALOG,
    CLERK,
    PRODUCERS,
    START,
    WAREHOUSE,
    order_placed_payload,
    setup_messages,
    traffic,
)


@cache
def topic_kinds() -> dict[str, str]:
    """Which inbound topic (``storefront`` or ``erp``) each message type travels on, as the simulator sends it."""
    return {envelope.message_type: kind for kind, envelope in traffic(60, 1)}


def large_orders(count: int, lines: int = 500, seed: int = 11) -> list[tuple[str, Envelope]]:
    """The setup, then ``count`` large orders' stories, interleaved by time: ``(topic kind, envelope)`` pairs."""
    rng = random.Random(seed)
    kinds = topic_kinds()
    envelopes = setup_messages(rng)
    for n in range(1, count + 1):
        envelopes += _story(rng, n, lines, START + timedelta(minutes=3 * n))
    envelopes.sort(key=lambda envelope: envelope.occurred_at)
    return [(kinds[envelope.message_type], envelope) for envelope in envelopes]


def _story(rng: random.Random, n: int, count: int, at: datetime) -> list[Envelope]:
    key = f"LG-{n:06d}"
    placed = _b2b_order(rng, n, at)
    placed["lines"] = [_line(no, rng) for no in range(1, count + 1)]
    refreshed = [{**line, "unit_price": str(Decimal(line["unit_price"]) + 1),
                  "line_amount": str(Decimal(line["quantity"]) * (Decimal(line["unit_price"]) + 1))}
                 for line in placed["lines"]]
    total = str(sum((Decimal(line["line_amount"]) for line in refreshed), Decimal("0.00")))
    steps: list[tuple[str, dict[str, Any]]] = [
        ("order_placed", placed),
        ("sales_document_created", {"actor": CLERK, "document_type": "Order", "document_no": f"SO-{key}"}),
        ("order_confirmed_by_shop", {"actor": CLERK}),
        ("sales_document_released", {"actor": CLERK, "total": total}),
        ("web_order_refreshed", {"actor": CLERK, "lines": refreshed, "request_approval": False}),
        *(("shipment_posted", {"actor": WAREHOUSE, "shipment_no": f"SS{n:06d}-{line['line_no']}",
                               "lines": [{"line_no": line["line_no"], "quantity": line["quantity"]}]})
          for line in refreshed),
        ("order_realized", {"actor": CLERK}),
    ]
    envelopes = []
    for step, (message_type, payload) in enumerate(steps):
        producer, content_type = PRODUCERS[topic_kinds()[message_type]]
        envelopes.append(Envelope(
            key=key, message_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), message_type=message_type,
            occurred_at=at + timedelta(seconds=step), payload=payload, producer=producer, content_type=content_type))
    return envelopes


def _b2b_order(rng: random.Random, n: int, at: datetime) -> dict[str, Any]:
    """The simulator's order, drawn until it is a B2B order (no payment to follow), not a quote."""
    while True:
        payload = order_placed_payload(rng, n, at)
        if payload["customer_type"] == "B2B Customer":
            return {**payload, "checkout_type": "Order"}


def _line(line_no: int, rng: random.Random) -> dict[str, Any]:
    """An item line with whole quantities and no discount: its amount is exact, whatever the rounding rule."""
    no, description, description_2, price = rng.choice(CATALOG)
    quantity = Decimal(rng.randint(1, 5))
    return {
        "line_no": line_no, "type": "Item", "no": no, "variant_code": "", "description": description,
        "description_2": description_2, "quantity": str(quantity), "unit_of_measure_code": "PCS",
        "unit_price": str(price), "line_discount_pct": "0", "line_amount": str(quantity * price),
    }
