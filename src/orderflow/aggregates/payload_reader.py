"""Reading loosely typed wire dictionaries into typed values, collecting every problem.

A reader never raises on the first bad field: it records a named
:class:`~orderflow.aggregates.errors.Problem` and goes on, so that a refused
order lists all its reasons at once.

A problem names the field and the rule, never the value: payloads carry
personal data, and reasons are stored, shown and logged.

Messages from Kafka were checked against their JSON Schema before they get
here, so for them the type checks below never fail; they stay because the
commands are also called directly (the CLI, tests, other adapters), and they
are cheap: each section's fields are compiled once into a :class:`Fields`
table of converters, and a well-typed value costs one ``type()`` comparison.
What the schema cannot say (amounts that add up, line numbers that repeat,
the business rules of a draft) is checked by the domain in any case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from orderflow.aggregates.errors import Problem

Kind = type  # str, bool, int, Decimal, date, or a StrEnum subclass
SAFE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Bad(Exception):
    """A value that is not of its field's kind: ``code`` and what was expected."""

    def __init__(self, code: str, expected: str):
        super().__init__(code)
        self.code, self.expected = code, expected


def field_name(key: Any) -> str:
    """A payload key as a reason may show it: a short snake_case name, else ``*`` (it could be an e-mail address)."""
    return key if isinstance(key, str) and SAFE_KEY.match(key) else "*"


def converter(kind: Kind) -> Callable[[Any], Any]:
    """A function from a raw wire value to a value of ``kind``; it raises :class:`Bad` for anything else."""
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        members = kind._value2member_map_
        allowed = ", ".join(repr(v.value) for v in kind)

        def enum(raw: Any) -> Any:
            try:
                return members[raw]
            except (KeyError, TypeError):
                raise Bad("unknown_value", f"one of {allowed}") from None

        return enum
    if kind is Decimal:
        return _decimal
    if kind is date:
        return _date
    if kind is int:
        # bool before int: a bool is an int in Python, but not on the wire.
        def integer(raw: Any) -> Any:
            if type(raw) is int or (isinstance(raw, int) and not isinstance(raw, bool)):
                return raw
            raise Bad("not_integer", "an integer")

        return integer
    code, expected = f"not_{kind.__name__}", f"a {kind.__name__}"

    def plain(raw: Any) -> Any:
        if type(raw) is kind or isinstance(raw, kind):
            return raw
        raise Bad(code, expected)

    return plain


class Fields:
    """The fields of one wire section, compiled once: name -> (converter, default), and which are required.

    ``read`` is the section's reader for the common case, compiled once into one
    straight-line function (issue 10: the generic loop of :meth:`Reader.section`
    cost some 10 µs per section): it gives the values of a section whose every
    key is a field and every value is of its kind, and None at the first thing
    that would be a problem, for the generic loop to name.
    """

    def __init__(self, spec: dict[str, tuple[Kind, Any]], required: tuple[str, ...] = ()):
        self.spec = spec
        self.required = frozenset(required)
        self.table = [(name, kind is str, converter(kind), default, name in self.required) for name, (kind, default) in spec.items()]
        self.read: Callable[[dict[Any, Any]], dict[str, Any] | None] = _compile(spec, self.required, self.table)


_EXACT = {str: "str", bool: "bool", int: "int"}
"""Kinds whose well-typed wire values are taken as they are: one ``type() is`` check (a subclass goes the generic way)."""


def _compile(spec: dict[str, tuple[Kind, Any]], required: frozenset[str], table: list[Any]) -> Callable[[dict[Any, Any]], Any]:
    """The straight-line reader of a section (see :class:`Fields`), generated from its table."""
    names = frozenset(spec)
    scope: dict[str, Any] = {"names": names, "Bad": Bad, "str": str, "bool": bool, "int": int}
    body = ["def read(data):", "    if not data.keys() <= names:", "        return None", "    get = data.get", "    try:"]
    for i, (name, is_text, convert, default, must) in enumerate(table):
        kind = spec[name][0]
        scope[f"c{i}"], scope[f"d{i}"] = convert, default
        absent = "v is None" if is_text else "v is None or v == ''"
        body += [f"        v = get({name!r})", f"        if {absent}:", "            return None" if must else f"            v{i} = d{i}"]
        if kind in _EXACT:
            body += [f"        elif type(v) is not {_EXACT[kind]}:", "            return None", "        else:", f"            v{i} = v"]
        else:
            body += ["        else:", f"            v{i} = c{i}(v)"]
    body += ["    except Bad:", "        return None"]
    body.append("    return {" + ", ".join(f"{name!r}: v{i}" for i, (name, *_) in enumerate(table)) + "}")
    exec("\n".join(body), scope)  # noqa: S102 - generated from the spec's names (repr'd) and kinds, never from input
    read: Callable[[dict[Any, Any]], Any] = scope["read"]
    return read


class Reader:
    """Collects problems while reading sections of one payload."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, code: str, detail: str) -> None:
        self.problems.append(Problem(code, detail))

    def section(self, data: Any, fields: Fields, where: str) -> dict[str, Any]:
        """Read ``fields`` from the object ``data``.

        Unknown keys, missing required keys and values of the wrong kind are problems;
        a field with a problem gets its default.
        """
        if type(data) is dict:
            values = fields.read(data)
            if values is not None:
                return values
        return self.section_generically(data, fields, where)

    def section_generically(self, data: Any, fields: Fields, where: str) -> dict[str, Any]:
        """:meth:`section` field by field, naming every problem (the compiled ``fields.read`` gave up)."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem("not_object", f"{where} must be an object")
            data = {}
        spec = fields.spec
        for key in data:
            if key not in spec:
                self.problem("unknown_field", f"{where}.{field_name(key)} is not a field")
        values = {}
        get = data.get
        for name, is_text, convert, default, required in fields.table:
            raw = get(name)
            if raw is None or (raw == "" and not is_text):
                if required:
                    self.problem("missing_field", f"{where}.{name} is required")
                values[name] = default
                continue
            try:
                values[name] = convert(raw)
            except Bad as bad:
                self.problem(bad.code, f"{where}.{name} must be {bad.expected}")
                values[name] = default
        return values

    def value(self, raw: Any, kind: Kind, where: str, default: Any) -> Any:
        """One value of the given kind, or ``default`` (with a problem) if it is not one."""
        try:
            return converter(kind)(raw)
        except Bad as bad:
            self.problem(bad.code, f"{where} must be {bad.expected}")
            return default


def _decimal(raw: Any) -> Decimal:
    # Floats are refused: money and quantities travel as decimal strings.
    if type(raw) is str:
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise Bad("not_decimal", "a decimal number") from None
    elif isinstance(raw, Decimal) or (isinstance(raw, int) and not isinstance(raw, bool)):
        value = Decimal(raw)
    else:
        raise Bad("not_decimal", "a decimal string")
    if not value.is_finite():
        raise Bad("not_decimal", "a decimal number")
    return value


def _date(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise Bad("not_date", "an ISO 8601 date (YYYY-MM-DD)") from None


def storable(value: Any) -> Any:
    """A copy of an arbitrary decoded payload that an event may hold (JSON types, no floats)."""
    if isinstance(value, dict):
        return {str(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, Decimal, date)):
        return value
    return repr(value)
