"""The wire contract: one JSON Schema per message type and version, in ``schemas/``.

A schema file is ``schemas/<direction>/<message_type>.v<version>.json``;
its ``$id`` names the same type and version. The schemas are package data
(``orderflow.schemas``), read with :func:`importlib.resources.files`. Every inbound payload is
validated here, once, before any command sees it.

Validation is compiled: each schema becomes a `jsonschema-rs
<https://pypi.org/project/jsonschema-rs/>`_ validator (Rust; JSON Schema
draft 2020-12, formats enforced) when the contract is loaded, and a payload is
checked in one call. A violation's reason names each offending field by its
JSON path and the rule it breaks (the keyword and its limit, from the schema),
and never the offending value: payloads carry personal data (names, e-mail
addresses, phone numbers), and reasons go to logs, dead-letter headers and the
error journal. For the same reason a reason is bounded in length however large
the payload. A ``pattern`` may carry an ``x-rule`` annotation, the rule in words
("a date YYYY-MM-DD in the years 2000..2099"): a reason then gives those words
instead of the regular expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from itertools import islice
from pathlib import Path
from typing import Any

import jsonschema_rs

FILE_NAME = re.compile(r"^(?P<type>[a-z0-9_]+)\.v(?P<version>\d+)\.json$")
SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
"""A payload key or message type shown in a reason: snake_case, short. Anything else
(an e-mail address used as a key, a 1 MB key) is shown as ``*``."""
MAX_ERRORS = 10
MAX_RULE = 160
MAX_REASON = 1000


SCHEMAS: Traversable = files("orderflow.schemas")
"""The schemas shipped in the package (``orderflow.schemas``: the top-level ``schemas/`` of the source tree)."""


def schema_files(schema_dir: Traversable | str = SCHEMAS) -> Iterator[tuple[str, int, Traversable]]:
    """Message type, version and file of every ``<direction>/<type>.v<version>.json`` in ``schema_dir``, by name."""
    root = Path(schema_dir) if isinstance(schema_dir, str) else schema_dir
    for folder in sorted((f for f in root.iterdir() if f.is_dir()), key=lambda f: f.name):
        for file in sorted(folder.iterdir(), key=lambda f: f.name):
            if match := FILE_NAME.match(file.name):
                yield match["type"], int(match["version"]), file


class ContractViolation(ValueError):
    """A payload that does not match its schema, or a type the contract does not know."""


class Contract:
    """All schemas of one schema directory (the shipped ones by default), compiled, ready to validate payloads."""

    def __init__(self, schema_dir: Traversable | str = SCHEMAS):
        self._validators: dict[tuple[str, int], Any] = {}
        self._rules: dict[str, str] = {}
        """A pattern's rule in words (its ``x-rule``), by pattern."""
        for message_type, version, file in schema_files(schema_dir):
            schema = json.loads(file.read_text())
            try:
                jsonschema_rs.meta.validate(schema)
            except jsonschema_rs.ValidationError as error:
                raise ValueError(f"{file} is not a valid JSON Schema: {error}") from None
            _collect_rules(schema, self._rules)
            # mask: should anything ever print the library's own message, it holds no value either.
            self._validators[(message_type, version)] = jsonschema_rs.Draft202012Validator(
                schema, validate_formats=True, ignore_unknown_formats=False, mask="<value>"
            )
        if not self._validators:
            raise FileNotFoundError(f"no schemas found in {schema_dir}")

    @property
    def message_types(self) -> list[tuple[str, int]]:
        return sorted(self._validators)

    def validate(self, message_type: str, version: int, payload: dict[str, Any]) -> None:
        """Raise :class:`ContractViolation` naming (up to ten of) the problems of ``payload``.

        The reason names the field and the rule, never the value.
        """
        validator = self._validators.get((message_type, version))
        if validator is None:
            known = sorted({name for name, _ in self._validators})
            raise ContractViolation(
                f"unknown message type {_name(message_type)} version {_number(version)}; known types: {', '.join(known)}"
            )
        try:
            if validator.is_valid(payload):
                return
            errors = list(islice(validator.iter_errors(payload), MAX_ERRORS + 1))
        except ValueError:  # a value JSON has no type for: bytes, a set, a non-string key
            details = ["(payload): holds a value or key JSON cannot carry (bytes, a set, a non-string key, ...)"]
        else:
            details = [detail for error in errors[:MAX_ERRORS] for detail in _details(error, self._rules)]
            if len(errors) > MAX_ERRORS:
                details.append("and more")
        raise ContractViolation(_bounded(f"{message_type} v{version} violates its schema: {'; '.join(details)}"))


def _collect_rules(node: Any, rules: dict[str, str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str) and isinstance(node.get("x-rule"), str):
            rules[node["pattern"]] = node["x-rule"]
        for value in node.values():
            _collect_rules(value, rules)
    elif isinstance(node, list):
        for item in node:
            _collect_rules(item, rules)


def _details(error: Any, rules: dict[str, str]) -> list[str]:
    """``path: rule`` for one error: the JSON path of the field, the keyword and its limit, no value."""
    kind, where = error.kind, _path(error.instance_path)
    name = kind.name
    if name == "required":
        return [f"{_join(where, kind.property)}: is required"]
    if name == "additionalProperties":
        return [f"{_join(where, key)}: is not a field of this message (additionalProperties)" for key in kind.unexpected]
    return [f"{where or '(payload)'}: {_clip(_rule(kind, rules))}"]


def _rule(kind: Any, rules: dict[str, str]) -> str:
    name = kind.name
    if name == "type":
        return f"must be of type {' or '.join(kind.types)}"
    if name == "format":
        return f"is not a valid '{kind.format}'"
    if name == "pattern":
        if kind.pattern in rules:
            return f"must be {rules[kind.pattern]} (pattern)"
        return f"must match pattern {kind.pattern}"
    if name == "enum":
        return f"must be one of {', '.join(json.dumps(option) for option in kind.options)}"
    if name == "const":
        return f"must be {json.dumps(kind.expected_value)}"
    if name == "not":
        return f"must not match {json.dumps(kind.schema, separators=(',', ':'))} (not)"
    if name in ("oneOf", "anyOf"):
        return f"must match {'exactly' if name == 'oneOf' else 'at least'} one of its alternatives ({name})"
    limits = {
        "maxLength": "must be at most {} characters long",
        "minLength": "must be at least {} characters long",
        "minimum": "must be at least {}",
        "maximum": "must be at most {}",
        "exclusiveMinimum": "must be greater than {}",
        "exclusiveMaximum": "must be less than {}",
        "minItems": "must have at least {} items",
        "maxItems": "must have at most {} items",
        "multipleOf": "must be a multiple of {}",
    }
    if name in limits:
        return f"{limits[name].format(kind.limit)} ({name})"
    return f"breaks its '{name}' rule"


def _path(parts: Any) -> str:
    return "".join(f"/{part}" if isinstance(part, int) else f"/{_key(part)}" for part in parts)


def _join(where: str, key: Any) -> str:
    return f"{where}/{_key(key)}"


def _key(key: Any) -> str:
    return key if isinstance(key, str) and SAFE_NAME.match(key) else "*"


def _name(value: Any) -> str:
    return repr(value) if isinstance(value, str) and SAFE_NAME.match(value) else "(unreadable)"


def _number(value: Any) -> str:
    return str(value) if isinstance(value, int) and abs(value) < 10**6 else "(unreadable)"


def _clip(text: str, limit: int = MAX_RULE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(reason: str) -> str:
    return _clip(reason, MAX_REASON)
