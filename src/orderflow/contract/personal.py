"""Which fields hold personal data: declared once, in the schemas, with ``"x-personal": true``.

A property of a message schema (``schemas/<direction>/<type>.v<n>.json``) that
may hold personal data carries the keyword ``"x-personal": true``: names,
e-mail addresses, phone numbers, delivery addresses, registration numbers and
free texts (comments) that may hold any of these. JSON Schema validators ignore
the keyword; this module reads it, so that the rest of the engine can ask:

- :meth:`PersonalFields.is_personal`: is the field at this JSON path of this
  message type personal?
- :attr:`PersonalFields.names`: the property names that are personal in some
  message (the log filter masks any logged key of these names; the event store
  encrypts these fields of an order's events with the customer's key,
  :mod:`orderflow.application.shredding`).

:func:`redact_text` masks anything that looks like an e-mail address in a text:
order keys and message ids are e-mail addresses when a producer misbehaves.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources.abc import Traversable
from typing import Any

from orderflow.contract.schemas import SCHEMAS, schema_files

KEYWORD = "x-personal"
MASK = "<personal>"
EMAIL = re.compile(r"[^\s@'\"<>(),;:\[\]{}]{1,64}@[^\s@'\"<>(),;:\[\]{}]{1,255}")
"""Anything shaped like ``local@domain``: masked wherever it appears in a logged value or a reason."""


def redact_text(text: str) -> str:
    """``text`` with every e-mail-like word replaced by :data:`MASK`."""
    return EMAIL.sub(MASK, text) if "@" in text else text


class PersonalFields:
    """The personal fields of every message type, read from the ``x-personal`` keyword of its schema."""

    def __init__(self, schema_dir: Traversable | str = SCHEMAS):
        self._paths: dict[str, set[str]] = {}
        for message_type, _, file in schema_files(schema_dir):
            schema = json.loads(file.read_text())
            self._paths.setdefault(message_type, set()).update(_personal_paths(schema, schema, "", 0))
        self.names: frozenset[str] = frozenset(p.rsplit("/", 1)[-1] for paths in self._paths.values() for p in paths)
        """The property names personal in some message: ``email``, ``person_name``, ``comment``, ..."""

    def paths(self, message_type: str) -> frozenset[str]:
        """The JSON paths of ``message_type``'s personal fields; array items are ``*`` (``/lines/*/...``)."""
        return frozenset(self._paths.get(message_type, ()))

    def is_personal(self, message_type: str, path: str) -> bool:
        """Whether the field at ``path`` (``/b2c_customer/email``, ``/lines/0/description``) of the message is personal."""
        generic = "/".join("*" if part.isdigit() else part for part in path.split("/"))
        return generic in self._paths.get(message_type, ())


def _personal_paths(node: Any, root: dict[str, Any], where: str, depth: int) -> set[str]:
    """The paths below ``node`` whose schema says ``x-personal``, following local ``$ref``\\ s."""
    found: set[str] = set()
    if not isinstance(node, dict) or depth > 20:
        return found
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        found |= _personal_paths(target, root, where, depth + 1)
    if node.get(KEYWORD) is True and where:
        found.add(where)
    for name, sub in (node.get("properties") or {}).items():
        found |= _personal_paths(sub, root, f"{where}/{name}", depth + 1)
    if isinstance(node.get("items"), dict):
        found |= _personal_paths(node["items"], root, f"{where}/*", depth + 1)
    for keyword in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(keyword) or []:
            found |= _personal_paths(sub, root, where, depth + 1)
    return found


@cache
def personal_fields(schema_dir: Traversable | str = SCHEMAS) -> PersonalFields:
    """The personal fields of the shipped schemas (read once per process)."""
    return PersonalFields(schema_dir)
