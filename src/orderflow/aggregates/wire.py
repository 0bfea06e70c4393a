"""Reading loosely typed wire dictionaries into typed values, collecting every problem.

A reader never raises on the first bad field: it records a named
:class:`~orderflow.aggregates.errors.Problem` and goes on, so that a refused
order lists all its reasons at once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from orderflow.aggregates.errors import Problem

Kind = type  # str, bool, int, Decimal, date, or a StrEnum subclass


class Reader:
    """Collects problems while reading sections of one payload."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, code: str, detail: str) -> None:
        self.problems.append(Problem(code, detail))

    def section(
        self, data: Any, spec: dict[str, tuple[Kind, Any]], where: str, required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Read the fields of ``spec`` (name -> (kind, default)) from the object ``data``.

        Unknown keys, missing required keys and values of the wrong kind are problems;
        a field with a problem gets its default.
        """
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem("not_object", f"{where} must be an object")
            data = {}
        for key in data:
            if key not in spec:
                self.problem("unknown_field", f"{where}.{key} is not a field")
        values = {}
        for name, (kind, default) in spec.items():
            raw = data.get(name)
            if raw is None or (raw == "" and kind is not str):
                if name in required:
                    self.problem("missing_field", f"{where}.{name} is required")
                values[name] = default
            else:
                values[name] = self.value(raw, kind, f"{where}.{name}", default)
        return values

    def value(self, raw: Any, kind: Kind, where: str, default: Any) -> Any:
        """One value of the given kind, or ``default`` (with a problem) if it is not one."""
        if issubclass(kind, StrEnum):
            try:
                return kind(raw)
            except ValueError:
                allowed = ", ".join(repr(v.value) for v in kind)
                self.problem("unknown_value", f"{where} is {raw!r}; expected one of {allowed}")
                return default
        if kind is Decimal:
            return self._decimal(raw, where, default)
        if kind is date:
            return self._date(raw, where, default)
        # bool before int: a bool is an int in Python, but not on the wire.
        if kind is int and (isinstance(raw, bool) or not isinstance(raw, int)):
            self.problem("not_integer", f"{where} must be an integer")
            return default
        if not isinstance(raw, kind):
            self.problem(f"not_{kind.__name__}", f"{where} must be a {kind.__name__}")
            return default
        return raw

    def _decimal(self, raw: Any, where: str, default: Any) -> Any:
        # Floats are refused: money and quantities travel as decimal strings.
        if isinstance(raw, Decimal) or (isinstance(raw, int) and not isinstance(raw, bool)):
            value = Decimal(raw)
        elif isinstance(raw, str):
            try:
                value = Decimal(raw.strip())
            except InvalidOperation:
                value = Decimal("NaN")
        else:
            self.problem("not_decimal", f"{where} must be a decimal string")
            return default
        if not value.is_finite():
            self.problem("not_decimal", f"{where} is {raw!r}, not a decimal number")
            return default
        return value

    def _date(self, raw: Any, where: str, default: Any) -> Any:
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(raw)
        except (TypeError, ValueError):
            self.problem("not_date", f"{where} is {raw!r}, not an ISO 8601 date (YYYY-MM-DD)")
            return default


def storable(value: Any) -> Any:
    """A copy of an arbitrary decoded payload that an event may hold (JSON types, no floats)."""
    if isinstance(value, dict):
        return {str(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, Decimal, date)):
        return value
    return repr(value)
