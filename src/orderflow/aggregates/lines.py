"""Order lines, versions of a web order's lines, and the line-level diff between two versions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from orderflow.aggregates.errors import Problem
from orderflow.aggregates.payload_reader import Fields, Reader
from orderflow.aggregates.values import LineType, member, money

HUNDRED = Decimal(100)

LINE_SPEC: dict[str, tuple[type, Any]] = {
    "line_no": (int, None),
    "type": (LineType, None),
    "no": (str, ""),
    "variant_code": (str, ""),
    "description": (str, ""),
    "description_2": (str, ""),
    "quantity": (Decimal, Decimal(0)),
    "unit_of_measure_code": (str, ""),
    "unit_price": (Decimal, Decimal(0)),
    "line_discount_pct": (Decimal, Decimal(0)),
    "line_amount": (Decimal, Decimal(0)),
    "prebook": (bool, False),
}
REQUIRED_LINE_FIELDS = ("type", "no", "quantity", "unit_price", "line_amount")
LINE_FIELDS = Fields(LINE_SPEC, REQUIRED_LINE_FIELDS)


def line_amount(quantity: Decimal, unit_price: Decimal, line_discount_pct: Decimal) -> Decimal:
    """The manual's rule: quantity x unit price x (1 - discount/100), rounded to 2 decimals half up."""
    return money(quantity * unit_price * (1 - line_discount_pct / HUNDRED))


@dataclass(frozen=True)
class Line:
    """One ordered item or resource; the quantity is in the base unit of measure."""

    line_no: int
    type: LineType
    no: str
    variant_code: str
    description: str
    description_2: str
    quantity: Decimal
    unit_of_measure_code: str
    unit_price: Decimal
    line_discount_pct: Decimal
    line_amount: Decimal
    prebook: bool = False

    @property
    def expected_amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price, self.line_discount_pct)

    def problems(self, where: str) -> list[Problem]:
        """The rules a line breaks: positive quantity, discount in 0..100, amounts that add up."""
        found = []
        if self.quantity <= 0:
            found.append(Problem("quantity_not_positive", f"{where}.quantity is {self.quantity}"))
        if self.unit_price < 0:
            found.append(Problem("negative_unit_price", f"{where}.unit_price is {self.unit_price}"))
        if not 0 <= self.line_discount_pct <= HUNDRED:
            found.append(Problem("discount_out_of_range", f"{where}.line_discount_pct is {self.line_discount_pct}"))
        elif self.line_amount != self.expected_amount:
            found.append(
                Problem(
                    "line_amount_mismatch",
                    f"{where}.line_amount is {self.line_amount}, quantity x price less discount is {self.expected_amount}",
                )
            )
        return found

    def to_dict(self) -> dict[str, Any]:
        # The instance's own dict holds exactly the fields, in their order (no slots): copied, not read by name.
        data = self.__dict__.copy()
        data["type"] = self.type.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Line:
        """A line as ``to_dict`` wrote it (in an event)."""
        return cls(**{**data, "type": member(LineType, data["type"])})


def read_lines(reader: Reader, data: Any, where: str = "lines") -> list[Line]:
    """Parse a list of wire lines; a line without ``line_no`` is numbered by its position (from 1)."""
    if not isinstance(data, list) or not data:
        reader.problem("no_lines", f"{where} must be a non-empty list")
        return []
    lines, seen = [], set()
    read = LINE_FIELDS.read
    for index, raw in enumerate(data):
        at = f"{where}[{index}]"
        known = len(reader.problems)
        values = read(raw) if type(raw) is dict else None  # reader.section's common case, without the call
        if values is None:
            values = reader.section(raw, LINE_FIELDS, at)
        if values["line_no"] is None:
            values["line_no"] = index + 1
        if values["line_no"] in seen:
            reader.problem("duplicate_line_no", f"{at}.line_no {values['line_no']} appears twice")
        seen.add(values["line_no"])
        if len(reader.problems) == known:
            line = Line(**values)
            reader.problems.extend(line.problems(at))
            lines.append(line)
    return lines


def lines_total(lines: tuple[Line, ...] | list[Line]) -> Decimal:
    return money(sum((line.line_amount for line in lines), Decimal(0)))


class VersionKind(StrEnum):
    ORIGINAL = "Original"
    MODIFIED = "Modified by Sales Doc."


@dataclass(frozen=True)
class Version:
    """The lines and total of a web order at one version; number 1 is the Original."""

    number: int
    kind: VersionKind
    lines: tuple[Line, ...]
    made_at: datetime
    source: str  # "" for the Original, else "Quote SQ-1" / "Order SO-1"

    @property
    def total(self) -> Decimal:
        return lines_total(self.lines)

    def line(self, line_no: int) -> Line | None:
        return next((line for line in self.lines if line.line_no == line_no), None)


@dataclass(frozen=True)
class LineChange:
    """One difference between two versions: a line ``added``, ``removed`` or ``changed``."""

    change: str
    before: Line | None
    after: Line | None
    fields: tuple[str, ...] = ()


LINE_NAMES = tuple(f.name for f in fields(Line))
COMPARED_FIELDS = tuple(name for name in LINE_NAMES if name != "line_no")


def diff(before: Version, after: Version) -> list[LineChange]:
    """Line-level differences from ``before`` to ``after``.

    Lines are matched by (type, no., variant code) and order of appearance, not by
    line no., because the ERP renumbers the lines of the documents it creates.
    """
    unmatched = defaultdict(list)
    for line in before.lines:
        unmatched[_identity(line)].append(line)
    changes = []
    for line in after.lines:
        candidates = unmatched[_identity(line)]
        if not candidates:
            changes.append(LineChange("added", None, line))
            continue
        old = candidates.pop(0)
        changed = tuple(name for name in COMPARED_FIELDS if getattr(old, name) != getattr(line, name))
        if changed:
            changes.append(LineChange("changed", old, line, changed))
    changes.extend(LineChange("removed", line, None) for rest in unmatched.values() for line in rest)
    return changes


def _identity(line: Line) -> tuple[str, str, str]:
    return (line.type.value, line.no, line.variant_code)
