"""One valid example payload per inbound message type: the contract's examples.

The unit tests apply them, ``docs/generate_messages.py`` prints them into
``docs/messages.md``. Together they tell one order's story (storefront reference
:data:`KEY`): placed with a prebook line, quoted, approved, converted, released
at a higher total (the ERP added shipping), refreshed, shipped, confirmed.
:data:`BEFORE` lists the messages that must be applied before each example.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from orderflow.application.orders import Orders
from orderflow.consumers.handlers import SETUP_KEY, apply
from orderflow.contract.envelope import Envelope

KEY = "SF-2026-000123"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

CUSTOMER = {"user_type": "Web Account", "user_no": "WA-00042", "person_name": "Anna Lind", "company": ""}
CLERK = {"user_type": "Back Office User", "user_no": "U-SALES-7", "person_name": "Carl Clerk", "company": "Bikes & Co", "roles": ["Sales"]}
MANAGER = {"user_type": "Back Office User", "user_no": "U-MGR-1", "person_name": "Mia Manager", "company": "Bikes & Co", "roles": ["Sales Manager"]}
WAREHOUSE = {"user_type": "Back Office User", "user_no": "U-WH-3", "person_name": "Wes Warehouse", "company": "Bikes & Co", "roles": ["Warehouse"]}

FRAME = {
    "line_no": 1, "type": "Item", "no": "ITEM-1000", "variant_code": "", "description": "Bicycle frame 54 cm",
    "description_2": "Aluminium, matte black", "quantity": "2", "unit_of_measure_code": "PCS", "unit_price": "389.00",
    "line_discount_pct": "0", "line_amount": "778.00",
}
SADDLE = {
    "line_no": 2, "type": "Item", "no": "ITEM-1005", "description": "Saddle Comfort+ (spring collection)",
    "quantity": "1", "unit_of_measure_code": "PCS", "unit_price": "59.99", "line_discount_pct": "0",
    "line_amount": "59.99", "prebook": True,
}
SHIPPING_LINE = {
    "line_no": 3, "type": "Resource", "no": "SHIPPING", "description": "Shipping EU", "quantity": "1",
    "unit_of_measure_code": "SERVICE", "unit_price": "10.00", "line_discount_pct": "0", "line_amount": "10.00",
}

EXAMPLES: dict[str, dict[str, Any]] = {
    "order_placed": {
        "customer_type": "B2C - Registered",
        "checkout_type": "Quote",
        "sell_to_customer_no": "B2C",
        "sell_to_customer_name": "Anna Lind",
        "email": "anna.lind@example.com",
        "order_date": "2026-11-02",
        "prices_including_vat": True,
        "currency_code": "EUR",
        "customer_comment": "Please deliver before noon.",
        "lines": [FRAME, SADDLE],
        "shipping": {
            "name": "Anna Lind", "address": "Storgatan 4", "post_code": "11122", "city": "Stockholm",
            "country_region_code": "SE", "requested_delivery_date": "2026-11-16", "shipment_method_code": "DHL",
            "shipment_zone_code": "EU",
        },
        "b2c_customer": {"web_account_no": "WA-00042", "name": "Anna Lind", "email": "anna.lind@example.com"},
        "payment": {"payment_method_code": "CARD"},
        "actor": CUSTOMER,
    },
    "customer_comment": {"actor": CUSTOMER, "text": "Could the frame come in blue instead?"},
    "customer_approval": {"actor": CUSTOMER, "version": 1},
    "customer_confirmation": {"actor": CUSTOMER},
    "payment_gateway_event": {
        "actor": CUSTOMER, "authorization_result": "OK", "transaction_id": "TX-000004711",
        "amount": "837.99", "status_info": "Authorized",
    },
    "prebook_line_checked_out": {"actor": CUSTOMER, "line_no": 2},
    "sales_document_created": {"actor": CLERK, "document_type": "Quote", "document_no": "SQ-1001", "expires_on": "2026-12-02"},
    "approval_requested": {"actor": CLERK},
    "quote_approved_for_conversion": {"actor": MANAGER},
    "quote_made_into_order": {"actor": CLERK, "order_no": "SO-1001"},
    "sales_document_released": {"actor": CLERK, "total": "847.99"},
    "web_order_refreshed": {"actor": CLERK, "lines": [FRAME, SADDLE, SHIPPING_LINE], "request_approval": True},
    "shipment_posted": {"actor": WAREHOUSE, "shipment_no": "SS-5001", "lines": [{"line_no": 1, "quantity": "1"}]},
    "workflow_status_changed": {"actor": MANAGER, "status": "Rejected", "comment": "Cancelled by phone"},
    "approval_set": {"actor": MANAGER, "state": "Rejected", "comment": "Customer declined the new price by phone"},
    "back_office_comment": {"actor": CLERK, "text": "Called the customer: the blue frame ships next week."},
    "order_confirmed_by_shop": {"actor": CLERK},
    "order_realized": {"actor": CLERK},
    "order_taking_configured": {
        "actor": MANAGER, "customer_type": "B2C - Registered", "intake": "Manual",
        "checkout_options": "Place orders and request quotes", "quote_conversion": "With checkout",
        "quote_promotable_by_default": True, "auto_confirm": False, "customer_confirmation_required": True,
    },
}

_QUOTED = ("order_placed", "sales_document_created")
_ORDERED = (*_QUOTED, "quote_made_into_order")
BEFORE: dict[str, tuple[str, ...]] = {
    "order_placed": (),
    "order_taking_configured": (),
    "customer_comment": ("order_placed",),
    "customer_approval": (*_QUOTED, "approval_requested"),
    "customer_confirmation": ("order_taking_configured", "order_placed"),
    "payment_gateway_event": ("order_placed",),
    "prebook_line_checked_out": ("order_placed",),
    "sales_document_created": ("order_placed",),
    "approval_requested": _QUOTED,
    "quote_approved_for_conversion": _QUOTED,
    "quote_made_into_order": _QUOTED,
    "sales_document_released": _ORDERED,
    "web_order_refreshed": (*_ORDERED, "sales_document_released"),
    "shipment_posted": (*_ORDERED, "sales_document_released"),
    "workflow_status_changed": ("order_placed",),
    "approval_set": (*_QUOTED, "approval_requested"),
    "back_office_comment": ("order_placed",),
    "order_confirmed_by_shop": ("order_placed",),
    "order_realized": ("order_placed", "order_confirmed_by_shop"),
}


def envelope(message_type: str, minutes: int = 0, payload: dict[str, Any] | None = None, **overrides: Any) -> Envelope:
    """The example of ``message_type`` (or ``payload``) in an envelope, ``minutes`` after :data:`T0`."""
    fields: dict[str, Any] = {
        "key": SETUP_KEY if message_type == "order_taking_configured" else KEY,
        "message_id": str(uuid.uuid4()),
        "message_type": message_type,
        "occurred_at": T0 + timedelta(minutes=minutes),
        "payload": EXAMPLES[message_type] if payload is None else payload,
        "producer": "tests",
        **overrides,
    }
    return Envelope(**fields)


def apply_before(app: Orders, message_type: str) -> int:
    """Apply the examples :data:`BEFORE` lists for ``message_type``; return the next free minute."""
    for minute, earlier in enumerate(BEFORE[message_type]):
        apply(app, envelope(earlier, minute))
    return len(BEFORE[message_type])
