"""The wire contract: one JSON Schema per message type and version, in ``schemas/``.

A schema file is ``schemas/<direction>/<message_type>.v<version>.json``;
its ``$id`` names the same type and version. Every inbound payload is
validated here before any command sees it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

FILE_NAME = re.compile(r"^(?P<type>[a-z0-9_]+)\.v(?P<version>\d+)\.json$")


class ContractViolation(ValueError):
    """A payload that does not match its schema, or a type the contract does not know."""


class Contract:
    """All schemas of one ``schemas/`` directory, ready to validate payloads."""

    def __init__(self, schema_dir: Path):
        self._validators: dict[tuple[str, int], Draft202012Validator] = {}
        for path in sorted(Path(schema_dir).glob("*/*.json")):
            match = FILE_NAME.match(path.name)
            if not match:
                continue
            schema = json.loads(path.read_text())
            Draft202012Validator.check_schema(schema)
            key = (match["type"], int(match["version"]))
            self._validators[key] = Draft202012Validator(_inline_refs(schema), format_checker=FormatChecker())
        if not self._validators:
            raise FileNotFoundError(f"no schemas found in {schema_dir}")

    @property
    def message_types(self) -> list[tuple[str, int]]:
        return sorted(self._validators)

    def validate(self, message_type: str, version: int, payload: dict[str, Any]) -> None:
        """Raise :class:`ContractViolation` naming every problem of ``payload``."""
        validator = self._validators.get((message_type, version))
        if validator is None:
            known = sorted({name for name, _ in self._validators})
            raise ContractViolation(
                f"unknown message type {message_type!r} version {version}; known types: {', '.join(known)}"
            )
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
        if errors:
            details = "; ".join(f"{_where(e.absolute_path)}: {e.message}" for e in errors[:10])
            raise ContractViolation(f"{message_type} v{version} violates its schema: {details}")


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its local ``#/$defs/...`` references replaced by what they name.

    Same meaning, but validation no longer resolves a reference per field:
    it is most of the cost of checking a message.
    """
    definitions = schema.get("$defs", {})

    def inline(node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [inline(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref not in seen:
            target = inline(definitions[ref.removeprefix("#/$defs/")], (*seen, ref))
            # Beside a reference our schemas only annotate (description, title).
            return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return {k: inline(v, seen) for k, v in node.items()}

    return inline(schema)


def _where(path: Any) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "(payload)"
