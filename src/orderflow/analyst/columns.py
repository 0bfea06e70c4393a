"""The one fixed schema of every exported table: each column's name, kind and whether it is personal.

An export's schema never depends on its data: an empty table, or a column that is all NULL, has the
same types as a full one, so that two days' files combine. Each kind has one Parquet type (what DuckDB
and pandas read as they are), one CSV text form and one JSON form (docs/read-models.md lists them):

| kind | Parquet | CSV | JSON lines |
| --- | --- | --- | --- |
| text | string | as is | string |
| money | decimal(18,2) | ``30.00`` | ``"30.00"`` |
| decimal (quantities, prices, discounts) | decimal(38,10) | ``2.5`` | ``"2.5"`` |
| time | timestamp[us, tz=UTC] | ``2026-11-02T09:00:00+00:00`` | ``"2026-11-02T09:00:00Z"`` |
| date | date32 | ``2026-11-02`` | ``"2026-11-02"`` |
| int, bigint | int32, int64 | ``7`` | ``7`` |
| bool | bool | ``true`` / ``false`` | ``true`` / ``false`` |
| json | string holding JSON | JSON text | string holding JSON |

:func:`typed` turns what a database gives back (SQLite keeps decimals, times and dates as text, and
booleans as 0/1) into the kind's Python value: ``Decimal``, aware ``datetime``, ``date``, ``int``, ``bool``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")
KINDS = ("text", "money", "decimal", "time", "date", "int", "bigint", "bool", "json")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"
    personal: bool = False
    """Masked in an export unless ``--include-personal`` (an ``x-personal`` field of the schemas, or a raw record)."""


def _columns(spec: str) -> tuple[Column, ...]:
    """``"name:kind name name:kind:personal"`` as columns (kind ``text`` when left out)."""
    columns = []
    for word in spec.split():
        name, _, rest = word.partition(":")
        kind, _, flag = rest.partition(":")
        assert (kind or "text") in KINDS and flag in ("", "personal"), word
        columns.append(Column(name, kind or "text", flag == "personal"))
    return tuple(columns)


EVENTS = _columns(
    "position:bigint stream event_type order_id web_order_no storefront_reference customer_key event_version:int "
    "at:time recorded_at:time user_type user_no person_name:text:personal company workflow_status payload:json"
)
"""``events``: one row per stored event. ``stream`` is ``order``, ``setup``, ``inbox`` or ``bookkeeping``."""

BOOK = _columns(
    "as_of:time order_id web_order_no storefront_reference customer_key customer_type order_date:date refused:bool "
    "workflow_status approval confirmation sales_document_type sales_document_no released:bool event_version:int "
    "current_version:int version_count:int current_total:money amount_paid:money unpaid:bool underpaid:bool "
    "overpaid:bool last_change_at:time"
)
"""``book``: every order as it stood at an instant (``export --as-of``, ``orders --as-of``)."""

TABLES: dict[str, tuple[Column, ...]] = {
    "web_orders": _columns(
        "id web_order_no storefront_reference customer_type sell_to_customer_no sell_to_customer_name:text:personal "
        "order_date:date workflow_status status_caused_by approval confirmation sales_document_type sales_document_no "
        "current_total:money amount_paid:money amount_mismatch:bool mismatch_web_order_total:money "
        "mismatch_sales_document_total:money unpaid:bool underpaid:bool overpaid:bool refused:bool refusal_reasons "
        "version_count:int last_change_at:time last_event position:bigint"
    ),
    "web_order_versions": _columns(
        "order_id web_order_no storefront_reference version_no:int kind source created_at:time total:money "
        "line_count:int position:bigint"
    ),
    "web_order_version_lines": _columns(
        "order_id web_order_no version_no:int line_no:int type no variant_code description description_2 "
        "quantity:decimal unit_of_measure_code unit_price:decimal line_discount_pct:decimal line_amount:money "
        "prebook:bool"
    ),
    "event_log": _columns(
        "order_id event_version:int position:bigint web_order_no storefront_reference order_version:int event_name "
        "user_type user_no entry_time:time event_type new_status comment:text:personal person_name:text:personal "
        "company"
    ),
    "status_history": _columns(
        "order_id opened_version:int web_order_no status from_at:time to_at:time caused_by changed_by position:bigint"
    ),
    "error_journal": _columns(
        "id topic partition:int record_offset:bigint key message_id message_type reason error rejected_at:time "
        "value_b64:text:personal position:bigint cause state attempts:int last_attempt_at:time closed_by "
        "closed_reason edits:int changed_position:bigint"
    ),
    "parked_messages": _columns(
        "message_id storefront_reference message_type topic partition:int record_offset:bigint reason deadline:time "
        "parked_at:time released_at:time outcome detail position:bigint"
    ),
    "repair_actions": _columns("id kind user_name taken_at:time scope:json detail:json position:bigint"),
    "redriven_events": _columns("storefront_reference event_version:int entry_id action_id user_name redriven_at:time "
                                "position:bigint"),
}
"""The read models' tables, column for column as the projections create them (a test compares them)."""

KEYS = {
    "web_orders": ("id",),
    "web_order_versions": ("order_id", "version_no"),
    "web_order_version_lines": ("order_id", "version_no", "line_no"),
    "event_log": ("order_id", "event_version"),
    "status_history": ("order_id", "opened_version"),
    "error_journal": ("id",),
    "parked_messages": ("message_id",),
    "repair_actions": ("id",),
    "redriven_events": ("storefront_reference", "event_version"),
}
"""Each table's primary key: exports read a table in its key's order, and an increment's rows replace those
of the same key."""

CUSTOMER_KEY = Column("customer_key")
"""Added to ``web_orders`` in exports: the pseudonymous customer key (the same in every export, kept after a forget)."""


def exported(table: str) -> tuple[Column, ...]:
    """The columns of ``table``'s export file: the table's own, plus ``customer_key`` for ``web_orders``."""
    columns = TABLES[table]
    return (*columns, CUSTOMER_KEY) if table == "web_orders" else columns


def typed(kind: str, value: Any) -> Any:
    """``value``, as a database gave it back, as the Python value of ``kind`` (None stays None)."""
    if value is None:
        return None
    if kind == "money":
        return Decimal(str(value)).quantize(CENT)
    if kind == "decimal":
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if kind == "time":
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return when.astimezone(UTC)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if kind in ("int", "bigint"):
        return int(value)
    if kind == "bool":
        return bool(value)
    return value if isinstance(value, str) else str(value)


def arrow_schema(columns: tuple[Column, ...]) -> Any:
    """The pyarrow schema of these columns (pyarrow imported here: only Parquet needs it)."""
    import pyarrow as pa

    types = {
        "text": pa.string(), "json": pa.string(), "money": pa.decimal128(18, 2), "decimal": pa.decimal128(38, 10),
        "time": pa.timestamp("us", tz="UTC"), "date": pa.date32(), "int": pa.int32(), "bigint": pa.int64(),
        "bool": pa.bool_(),
    }
    return pa.schema([pa.field(c.name, types[c.kind]) for c in columns])


def csv_text(kind: str, value: Any) -> str:
    """A typed value as CSV text: ISO 8601 with its offset, exact decimal text, ``true``/``false``, empty for None."""
    if value is None:
        return ""
    if kind == "bool":
        return "true" if value else "false"
    if kind in ("time", "date"):
        return value.isoformat()
    return str(value)
