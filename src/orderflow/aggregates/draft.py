"""The order as the storefront places it: :class:`OrderDraft` and its wire form.

Wire form accepted by :meth:`OrderDraft.from_dict` (snake_case keys named after
the manual's fields; money and quantities are decimal strings, e.g. ``"12.50"``
(integers are accepted, floats are not); dates are ISO 8601 ``YYYY-MM-DD``;
a missing optional field or ``null`` takes the default shown; any other key is
refused as ``unknown_field``)::

    customer_type           "B2B Customer" | "B2C - Registered" | "B2C - Not Registered"   required
    checkout_type           "Order" | "Quote"     default "Order" (place an order or request a quote)
    sell_to_customer_no     string                default ""  (required for B2B)
    sell_to_customer_name   string                default ""
    sell_to_contact_no      string                default ""
    sell_to_contact         string                default ""
    email                   string                default ""
    phone                   string                default ""
    customer_comment        string                default ""
    order_date              date                  required
    prices_including_vat    boolean               default false
    currency_code           string                default ""  (local currency)
    lines                   non-empty list of:
        line_no               integer             default: position in the list, from 1
        type                  "Item" | "Resource" required
        no                    string              required
        variant_code          string              default ""
        description           string              default ""
        description_2         string              default ""
        quantity              decimal > 0         required (base unit of measure)
        unit_of_measure_code  string              default ""
        unit_price            decimal >= 0        required
        line_discount_pct     decimal 0..100      default "0"
        line_amount           decimal             required; must equal
                              round_half_up(quantity * unit_price * (1 - line_discount_pct/100), 2)
        prebook               boolean             default false (a future-sales line checked out later)
    shipping                object, default {}:
        ship_to_code, name, address, address_2, post_code, city,
        country_region_code, shipment_method_code, shipment_zone_code   strings, default ""
        requested_delivery_date                                          date, default null
    b2c_customer            object, default {}:
        web_account_no, name, email, phone, ssn_reg_no                   strings, default ""
    payment                 object, default {}:
        payment_method_code   string              default ""
        authorization_result  "OK" | "FAILURE"    default null (none yet)
        status_info           string              default ""
        transaction_id        string              default ""
        amount_paid           decimal >= 0        default "0"

Validation happens in two steps: :meth:`OrderDraft.from_dict` raises
:class:`~orderflow.aggregates.errors.InvalidOrder` listing every malformed
field; :meth:`OrderDraft.problems` lists the business rules a well-formed draft
breaks. Either way the order is recorded as refused with those reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, get_args, get_type_hints

from orderflow.aggregates.errors import InvalidOrder, Problem
from orderflow.aggregates.lines import Line, lines_total, read_lines
from orderflow.aggregates.payload_reader import Fields, Reader
from orderflow.aggregates.values import AuthorizationResult, CheckoutType, CustomerType

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass(frozen=True)
class Shipping:
    ship_to_code: str = ""
    name: str = ""
    address: str = ""
    address_2: str = ""
    post_code: str = ""
    city: str = ""
    country_region_code: str = ""
    requested_delivery_date: date | None = None
    shipment_method_code: str = ""
    shipment_zone_code: str = ""


@dataclass(frozen=True)
class B2CCustomer:
    web_account_no: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    ssn_reg_no: str = ""


@dataclass(frozen=True)
class Payment:
    payment_method_code: str = ""
    authorization_result: AuthorizationResult | None = None
    status_info: str = ""
    transaction_id: str = ""
    amount_paid: Decimal = Decimal(0)


HEADER_SPEC: dict[str, tuple[type, Any]] = {
    "customer_type": (CustomerType, None),
    "checkout_type": (CheckoutType, CheckoutType.ORDER),
    "sell_to_customer_no": (str, ""),
    "sell_to_customer_name": (str, ""),
    "sell_to_contact_no": (str, ""),
    "sell_to_contact": (str, ""),
    "email": (str, ""),
    "phone": (str, ""),
    "customer_comment": (str, ""),
    "order_date": (date, None),
    "prices_including_vat": (bool, False),
    "currency_code": (str, ""),
}
HEADER_FIELDS = Fields(HEADER_SPEC, required=("customer_type", "order_date"))
NOT_HEADER = frozenset({"lines", "shipping", "b2c_customer", "payment"})


def _spec(section: type) -> dict[str, tuple[type, Any]]:
    """A section's wire fields: name -> (kind, default), from its dataclass fields."""
    hints = get_type_hints(section)
    return {f.name: (_kind(hints[f.name]), f.default) for f in fields(section)}


def _kind(hint: Any) -> type:
    """``X | None`` -> ``X``."""
    args = [arg for arg in get_args(hint) if arg is not type(None)]
    kind: type = args[0] if args else hint
    return kind


SECTIONS: dict[str, tuple[type[DataclassInstance], Fields]] = {
    name: (section, Fields(_spec(section)))  # type hints read once, not per order
    for name, section in (("shipping", Shipping), ("b2c_customer", B2CCustomer), ("payment", Payment))
}


@dataclass(frozen=True)
class OrderDraft:
    """Everything the customer placed: header, lines, shipping, B2C details and payment."""

    customer_type: CustomerType
    order_date: date
    lines: tuple[Line, ...]
    checkout_type: CheckoutType = CheckoutType.ORDER
    sell_to_customer_no: str = ""
    sell_to_customer_name: str = ""
    sell_to_contact_no: str = ""
    sell_to_contact: str = ""
    email: str = ""
    phone: str = ""
    customer_comment: str = ""
    prices_including_vat: bool = False
    currency_code: str = ""
    shipping: Shipping = Shipping()
    b2c_customer: B2CCustomer = B2CCustomer()
    payment: Payment = Payment()

    @classmethod
    def from_dict(cls, payload: Any) -> OrderDraft:
        """Parse the wire form (see the module docstring); raise ``InvalidOrder`` naming every bad field."""
        reader = Reader()
        if not isinstance(payload, dict):
            raise InvalidOrder([Problem("not_object", "the order must be an object")])
        header_part = {k: v for k, v in payload.items() if k not in NOT_HEADER}
        header = reader.section(header_part, HEADER_FIELDS, "order")
        lines = read_lines(reader, payload.get("lines"))
        sections: dict[str, Any] = {  # Shipping, B2CCustomer and Payment, by keyword
            name: section(**reader.section(payload.get(name), spec, name)) for name, (section, spec) in SECTIONS.items()
        }
        if reader.problems:
            raise InvalidOrder(reader.problems)
        return cls(lines=tuple(lines), **header, **sections)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> OrderDraft:
        """The draft as :meth:`to_dict` wrote it into a ``Placed`` event, without reading it as wire input again.

        It was read and checked when the order was placed; replaying an order
        must not pay for that again (the transcoder gives back its Decimal and
        date values). A field an older event lacks takes its default.
        """
        payment = data.get("payment") or {}
        if payment.get("authorization_result") is not None:
            payment = {**payment, "authorization_result": AuthorizationResult(payment["authorization_result"])}
        header = {name: data[name] for name in HEADER_SPEC if name in data}
        header["customer_type"] = CustomerType(data["customer_type"])
        header["checkout_type"] = CheckoutType(data.get("checkout_type", CheckoutType.ORDER))
        return cls(
            lines=tuple(Line.from_dict(line) for line in data["lines"]),
            shipping=Shipping(**(data.get("shipping") or {})),
            b2c_customer=B2CCustomer(**(data.get("b2c_customer") or {})),
            payment=Payment(**payment),
            **header,
        )

    def to_dict(self) -> dict[str, Any]:
        """The draft as an event stores it (Decimal and date values; ``from_dict`` reads it back)."""
        # By hand, not dataclasses.asdict: that deep-copies every value, on every placement.
        data: dict[str, Any] = {name: getattr(self, name) for name in HEADER_SPEC}
        data["customer_type"] = self.customer_type.value
        data["checkout_type"] = self.checkout_type.value
        data["lines"] = [line.to_dict() for line in self.lines]
        for name, (section, _) in SECTIONS.items():
            data[name] = {f: getattr(getattr(self, name), f) for f in section.__dataclass_fields__}
        if self.payment.authorization_result is not None:
            data["payment"]["authorization_result"] = self.payment.authorization_result.value
        return data

    @property
    def total(self) -> Decimal:
        return lines_total(self.lines)

    @property
    def customer_name(self) -> str:
        return self.b2c_customer.name or self.sell_to_customer_name

    @property
    def customer_email(self) -> str:
        return self.b2c_customer.email or self.email

    def problems(self) -> list[Problem]:
        """The business rules this draft breaks (the lines' own rules were checked when parsing)."""
        found = []
        b2b = self.customer_type is CustomerType.B2B
        if b2b and not self.sell_to_customer_no:
            found.append(Problem("b2b_without_customer_no", "a B2B order needs sell_to_customer_no"))
        if self.shipping.ship_to_code and not b2b:
            found.append(Problem("ship_to_code_not_b2b", "only B2B orders may name a ship-to code"))
        if self.customer_type is CustomerType.B2C_REGISTERED and not self.b2c_customer.web_account_no:
            found.append(Problem("registered_without_web_account", "a registered B2C order needs b2c_customer.web_account_no"))
        if self.customer_type is CustomerType.B2C_NOT_REGISTERED:
            found.extend(self._guest_problems())
        if self.payment.amount_paid < 0:
            found.append(Problem("negative_amount_paid", f"payment.amount_paid is {self.payment.amount_paid}"))
        delivery = self.shipping.requested_delivery_date
        if delivery is not None and delivery < self.order_date:
            found.append(Problem("delivery_before_order_date", f"requested delivery {delivery} is before order date {self.order_date}"))
        return found

    def _guest_problems(self) -> list[Problem]:
        found = []
        if not self.customer_name:
            found.append(Problem("guest_without_name", "a guest order needs b2c_customer.name or sell_to_customer_name"))
        if not self.customer_email:
            found.append(Problem("guest_without_email", "a guest order needs b2c_customer.email or email"))
        if not (self.shipping.address and self.shipping.city):
            found.append(Problem("guest_without_address", "a guest order needs shipping.address and shipping.city"))
        return found


def read_shipping(data: Any) -> dict[str, Any]:
    """A shipping section in wire form (see the module docstring) as event values; ``InvalidOrder`` if malformed."""
    reader = Reader()
    values = reader.section(data, SECTIONS["shipping"][1], "shipping")
    if reader.problems:
        raise InvalidOrder(reader.problems)
    return values
