"""Values as JSON's plain strings, lists and dicts, and as the text of one table cell."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from orderflow.contract.envelope import format_time

_AS_IS = frozenset((str, int, float, bool, type(None)))


def plain(value: Any) -> Any:
    """``value`` with decimals, times, enums, UUIDs and dataclasses turned into JSON's strings, lists and dicts."""
    if type(value) in _AS_IS:  # the most common cells first (exact types: a str or int enum is not as is)
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def cell(value: Any) -> str:
    """A value as one cell's text: nothing for None, JSON for lists and dicts."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
