"""Quantities shipped per line of a sales order, and the rules shipments and refreshes obey."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orderflow.aggregates.errors import IllegalTransition, InvalidCommand, OverShipment
from orderflow.aggregates.lines import Line, Version


@dataclass(frozen=True)
class Shipments:
    """Cumulative shipped quantity per line no."""

    quantities: dict[int, Decimal] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.quantities)

    @staticmethod
    def parse(lines: Any) -> dict[int, Decimal]:
        """``[{"line_no": 1, "quantity": Decimal("2")}, ...]`` as {line no.: total quantity}."""
        if not isinstance(lines, list) or not lines:
            raise InvalidCommand("a shipment needs a non-empty list of {line_no, quantity}")
        parsed: dict[int, Decimal] = {}
        for index, entry in enumerate(lines):
            line_no = entry.get("line_no") if isinstance(entry, dict) else None
            quantity = entry.get("quantity") if isinstance(entry, dict) else None
            if not isinstance(line_no, int) or isinstance(line_no, bool):
                raise InvalidCommand(f"lines[{index}]: a shipment line needs an integer line_no")
            if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity <= 0:
                raise InvalidCommand(f"lines[{index}]: a shipped quantity is a positive Decimal")
            parsed[line_no] = parsed.get(line_no, Decimal(0)) + quantity
        return parsed

    def remaining(self, line: Line) -> Decimal:
        return max(line.quantity - self.quantities.get(line.line_no, Decimal(0)), Decimal(0))

    def after(self, shipped: dict[int, Decimal], version: Version) -> Shipments:
        """The shipments once ``shipped`` is posted; raise ``OverShipment`` beyond a line's remaining quantity."""
        for line_no, quantity in shipped.items():
            line = version.line(line_no)
            if line is None:
                raise OverShipment(f"version {version.number} has no line {line_no}")
            if quantity > self.remaining(line):
                raise OverShipment(f"line {line_no}: shipping {quantity}, only {self.remaining(line)} remains")
        return self.add(shipped)

    def add(self, shipped: dict[int, Decimal]) -> Shipments:
        totals = dict(self.quantities)
        for line_no, quantity in shipped.items():
            totals[line_no] = totals.get(line_no, Decimal(0)) + quantity
        return Shipments(totals)

    def complete(self, version: Version) -> bool:
        """Every line's quantity is shipped."""
        return all(self.remaining(line) == 0 for line in version.lines)

    def check_refresh(self, current: Version, lines: list[Line]) -> None:
        """A refresh keeps every shipped line, at no less than its shipped quantity, and needs something unshipped."""
        if not self.any:
            return
        if self.complete(current):
            raise IllegalTransition("the order is completely shipped; it can no longer be refreshed")
        by_no = {line.line_no: line for line in lines}
        for line_no, shipped in self.quantities.items():
            line = by_no.get(line_no)
            if line is None or line.quantity < shipped:
                raise IllegalTransition(f"line {line_no} has {shipped} shipped; a refresh cannot drop or reduce it below that")
