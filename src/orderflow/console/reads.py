"""What the console shows, read from the read models and the event store (never written here).

- :meth:`ConsoleReader.list_orders`: the Web Orders list, filtered, searched and sorted, a page at a time with a
  keyset cursor (the last row's sort value and id), so that page 1,000 costs what page 1 costs;
- :meth:`ConsoleReader.order_page`: one order as it stood at an instant (now by default), rebuilt from its
  events, with the line version asked for, the Event Log and the Workflow Status history;
- :meth:`ConsoleReader.failed`: the error journal and the waiting parked messages, grouped by cause;
- :meth:`ConsoleReader.change_mark`: how far the read models are, for the live updates.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgpack

from orderflow.aggregates.event_log_row import event_log_entry
from orderflow.aggregates.values import ApprovalState, CustomerType, WorkflowStatus
from orderflow.aggregates.web_order import WebOrder
from orderflow.analyst.history import order_as_of
from orderflow.application import repair
from orderflow.application.orders import Orders
from orderflow.contract.personal import PersonalFields
from orderflow.db import Database

PAGE_SIZE = 50
LIST_COLUMNS = (
    "id", "web_order_no", "storefront_reference", "customer_type", "sell_to_customer_no", "sell_to_customer_name",
    "order_date", "workflow_status", "approval", "confirmation", "sales_document_type", "sales_document_no",
    "current_total", "amount_paid", "amount_mismatch", "unpaid", "underpaid", "overpaid", "refused",
    "last_change_at",
)
SORTABLE = ("web_order_no", "order_date", "customer_type", "workflow_status", "approval", "sales_document_no",
            "current_total", "amount_paid", "last_change_at")
"""Columns the list sorts by (not the customer's name: a cursor holds the sort value, and names are personal)."""
FLAGS = {"mismatch": "amount_mismatch", "unpaid": "unpaid", "underpaid": "underpaid", "overpaid": "overpaid",
         "refused": "refused"}
APPROVALS = {"none": "", **{state.value: state.value for state in ApprovalState if state.value}}
MASK = "•••"


@dataclass(frozen=True)
class ListQuery:
    """The list's filters, search, sort and page, as the query string gives them (unknown values are ignored)."""

    status: str = ""
    customer_type: str = ""
    approval: str = ""
    flag: str = ""
    date_from: str = ""
    date_to: str = ""
    q: str = ""
    sort: str = "web_order_no"
    direction: str = "desc"
    after: str = ""

    @classmethod
    def from_params(cls, params: Any) -> ListQuery:
        def get(name: str, allowed: Any = None, default: str = "") -> str:
            value = (params.get(name) or "").strip()[:100]
            return value if allowed is None or value in allowed else default

        return cls(
            status=get("status", {s.value for s in WorkflowStatus}),
            customer_type=get("customer_type", {t.value for t in CustomerType}),
            approval=get("approval", APPROVALS),
            flag=get("flag", FLAGS),
            date_from=get("date_from") if _is_date(get("date_from")) else "",
            date_to=get("date_to") if _is_date(get("date_to")) else "",
            q=get("q"),
            sort=get("sort", SORTABLE, "web_order_no"),
            direction=get("direction", ("asc", "desc"), "desc"),
            after=get("after"),
        )

    def params(self, **changes: str) -> dict[str, str]:
        """The non-empty parameters of this query with ``changes``: for links (sorting, next page)."""
        values = {**self.__dict__, **changes}
        return {k: v for k, v in values.items() if v}


@dataclass
class OrdersPage:
    rows: list[dict[str, Any]]
    next_after: str
    counts: list[tuple[str, int]]
    total: int


@dataclass
class OrderPage:
    """One order as of an instant: the aggregate, its events up to then, the version shown and the history."""

    order: WebOrder
    events: list[Any]
    version: Any
    event_log: list[dict[str, Any]]
    status_history: list[dict[str, Any]]
    as_of: datetime | None
    first_at: datetime
    last_at: datetime
    personal_shown: bool
    hidden: frozenset[str] = field(default_factory=frozenset)

    def show(self, path: str, value: Any) -> Any:
        """``value``, or a mask when the field at ``path`` of a placed order is personal and the viewer may not see it."""
        if self.personal_shown or value in (None, "") or path not in self.hidden:
            return value
        return MASK


class ConsoleReader:
    """Queries of the console over one application (the event store) and one read-model database."""

    def __init__(self, app: Orders, db: Database):
        self.app = app
        self.db = db
        self.personal = PersonalFields()
        self._placed_personal = frozenset(self.personal.paths("order_placed"))
        self._counts: tuple[int, list[tuple[str, int]]] | None = None

    # -- the Web Orders list ------------------------------------------------------------------------

    def list_orders(self, query: ListQuery, personal_shown: bool) -> OrdersPage:
        """One page of the list, the counts per Workflow Status above it, and the cursor of the next page."""
        where, params = self._filters(query)
        key = self._sort_key(query.sort)
        op = "<" if query.direction == "desc" else ">"
        cursor = _read_cursor(query.after)
        if cursor is not None:
            where.append(f"({key} {op} ? OR ({key} = ? AND id {op} ?))")
            value = self._cursor_value(query.sort, cursor[0])
            params += [value, value, cursor[1]]
        sql = (f"SELECT {', '.join(LIST_COLUMNS)}, {key} FROM web_orders "
               f"{'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY {key} {query.direction}, id {query.direction} LIMIT ?")
        found = self.db.query(sql, [*params, PAGE_SIZE + 1])
        rows = [dict(zip(LIST_COLUMNS, row[:-1], strict=True)) for row in found[:PAGE_SIZE]]
        if not personal_shown:
            for row in rows:
                row["sell_to_customer_name"] = MASK if row["sell_to_customer_name"] else ""
        next_after = _write_cursor(found[PAGE_SIZE - 1][-1], found[PAGE_SIZE - 1][0]) if len(found) > PAGE_SIZE else ""
        counts = self.counts()
        return OrdersPage(rows, next_after, counts, sum(n for _, n in counts))

    def counts(self) -> list[tuple[str, int]]:
        """Orders per Workflow Status in the manual's order (NAV's cues), counted again only when the list moved."""
        mark = self.change_mark()
        if self._counts is None or self._counts[0] != mark:
            rows = dict(self.db.query("SELECT workflow_status, COUNT(*) FROM web_orders GROUP BY workflow_status"))
            ordered = [(s.value, rows.pop(s.value, 0)) for s in WorkflowStatus]
            ordered += [(str(status or "Refused"), n) for status, n in rows.items()]
            self._counts = (mark, ordered)
        return self._counts[1]

    def _filters(self, query: ListQuery) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("workflow_status", query.status), ("customer_type", query.customer_type)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.approval:
            where.append("COALESCE(approval, '') = ?")
            params.append(APPROVALS[query.approval])
        if query.flag:
            where.append(f"{FLAGS[query.flag]} = ?")
            params.append(True)
        if query.date_from:
            where.append("order_date >= ?")
            params.append(query.date_from)
        if query.date_to:
            where.append("order_date <= ?")
            params.append(query.date_to)
        if query.q:
            # Exact, or a prefix when it ends with *: WO0000000001 must not also find WO0000000010 to ...19.
            columns = ("web_order_no", "storefront_reference", "sales_document_no", "sell_to_customer_no")
            if query.q.endswith("*"):
                prefix = re.sub(r"([\\%_])", r"\\\1", query.q.rstrip("*")) + "%"
                where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
                params += [prefix] * len(columns)
            else:
                where.append("(" + " OR ".join(f"{c} = ?" for c in columns) + ")")
                params += [query.q] * len(columns)
        return where, params

    def _sort_key(self, column: str) -> str:
        if column in ("current_total", "amount_paid"):
            return f"COALESCE({column}, -1)" if self.db.is_postgres else f"CAST(COALESCE({column}, '-1') AS REAL)"
        if column == "last_change_at":
            return column
        return f"COALESCE({column}, '')"

    def _cursor_value(self, column: str, text: str) -> Any:
        if column in ("current_total", "amount_paid") and not self.db.is_postgres:
            try:
                return float(text)  # the key is CAST(... AS REAL) there, and SQLite ranks any text above numbers
            except ValueError:
                return -1.0
        return text

    # -- one order ----------------------------------------------------------------------------------

    def order_page(self, reference: str, as_of: datetime | None, version: int | None,
                   personal_shown: bool) -> OrderPage:
        """The order placed under ``reference`` as of ``as_of`` (now if None), showing line ``version``
        (the current one if None); ``LookupError`` if there was no such order then, or no such version."""
        order_id = WebOrder.create_id(reference)
        everything: list[Any] = list(self.app.events.get(order_id))
        if not everything:
            raise LookupError(f"no order {reference}")
        order, events = order_as_of(self.app, order_id, as_of) if as_of else (self._rebuilt(everything), everything)
        shown = None
        if order.versions:
            try:
                shown = order.get_version(version) if version else order.versions[-1]
            except Exception as error:  # the domain's own error for an unknown version
                raise LookupError(str(error)) from None
        log = []
        for event in events:
            entry = event_log_entry(event)
            if entry is not None:
                personal_comment = type(event).__name__ in ("CommentAdded", "BackOfficeCommentAdded", "Placed")
                if not personal_shown:
                    entry = {**entry, "person_name": MASK if entry["person_name"] else "",
                             "comment": MASK if personal_comment and entry["comment"] else entry["comment"]}
                log.append({**entry, "event_version": event.originator_version, "event_name": type(event).__name__})
        return OrderPage(
            order=order, events=events, version=shown, event_log=log,
            status_history=self._status_history(order_id, as_of), as_of=as_of,
            first_at=everything[0].at, last_at=everything[-1].at, personal_shown=personal_shown,
            hidden=self._placed_personal,
        )

    def _rebuilt(self, events: list[Any]) -> WebOrder:
        order = None
        for event in events:
            order = event.mutate(order)
        return order  # type: ignore[return-value]

    def _status_history(self, order_id: UUID, as_of: datetime | None) -> list[dict[str, Any]]:
        columns = ("opened_version", "status", "from_at", "to_at", "caused_by", "changed_by")
        rows = [dict(zip(columns, row, strict=True)) for row in self.db.query(
            f"SELECT {', '.join(columns)} FROM status_history WHERE order_id = ? ORDER BY opened_version",
            [str(order_id)])]
        if as_of is None:
            return rows
        shown = []
        for row in rows:
            if _time(row["from_at"]) > as_of:
                break
            if row["to_at"] is not None and _time(row["to_at"]) > as_of:
                row = {**row, "to_at": None}
            shown.append(row)
        return shown

    def version_pair(self, reference: str, before: int, after: int) -> tuple[WebOrder, Any, Any, list[Any]]:
        """The order now, versions ``before`` and ``after``, and the domain's line changes between them."""
        order = self._rebuilt(list(self.app.events.get(WebOrder.create_id(reference))) or _missing(reference))
        try:
            return order, order.get_version(before), order.get_version(after), order.diff(before, after)
        except Exception as error:  # the domain's error for a version the order does not have
            raise LookupError(str(error)) from None

    # -- failed messages ----------------------------------------------------------------------------

    def failed(self, limit: int = 500) -> dict[str, Any]:
        """The error journal's entries grouped by cause (:mod:`orderflow.application.repair`'s groups, most open
        first) and the parked messages still waiting, grouped by reason; newest first within a group."""
        groups = repair.failed_groups(self.db)
        by_group: dict[str, list[repair.Entry]] = {}
        for entry in repair.failed_entries(self.db, limit=limit):
            by_group.setdefault(entry.group, []).append(entry)
        journal = [(group, sorted(by_group.get(group.group, []), key=lambda e: e.rejected_at, reverse=True))
                   for group in sorted(groups, key=lambda g: (-g.open, -g.count))]
        parked_columns = ("message_id", "storefront_reference", "message_type", "reason", "deadline", "parked_at")
        parked = [dict(zip(parked_columns, row, strict=True)) for row in self.db.query(
            f"SELECT {', '.join(parked_columns)} FROM parked_messages WHERE released_at IS NULL "
            "ORDER BY position LIMIT ?", [limit])]
        parked_groups: dict[str, list[dict[str, Any]]] = {}
        for item in parked:
            parked_groups.setdefault(repair.cause(item["reason"]), []).append(item)
        return {"journal": journal, "parked": sorted(parked_groups.items(), key=lambda g: -len(g[1]))}

    def failed_payload(self, entry_id: str) -> tuple[repair.Entry, str]:
        """One journal entry and its message's payload as indented JSON, to edit before a redrive."""
        found = [e for e in repair.failed_entries(self.db, limit=100_000) if e.id == entry_id]
        if not found:
            raise LookupError(f"no failed message {entry_id}")
        rows = self.db.query("SELECT value_b64 FROM error_journal WHERE id = ?", [entry_id])
        raw = base64.b64decode(rows[0][0]) if rows else b""
        try:
            payload = msgpack.unpackb(raw, raw=False)
        except (ValueError, msgpack.UnpackException, TypeError):
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode("utf-8", "replace")
        return found[0], json.dumps(payload, indent=2, ensure_ascii=False, default=str)

    # -- live ---------------------------------------------------------------------------------------

    def change_mark(self, view: str = "web_orders") -> int:
        """A read model's position in the event store (``web_orders``: it moves when any order changed)."""
        rows = self.db.query("SELECT position FROM projection_tracking WHERE name = ?", [view])
        return rows[0][0] if rows else 0

    def order_mark(self, reference: str) -> int:
        """The position of the order's row in the list: it moves when this order changed."""
        rows = self.db.query("SELECT position FROM web_orders WHERE storefront_reference = ?", [reference])
        return rows[0][0] if rows else 0


def _missing(reference: str) -> list[Any]:
    raise LookupError(f"no order {reference}")


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _write_cursor(value: Any, row_id: str) -> str:
    shown = value.isoformat() if hasattr(value, "isoformat") else value
    return base64.urlsafe_b64encode(json.dumps([str(shown), row_id]).encode()).decode().rstrip("=")


def _read_cursor(token: str) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        value, row_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None
    return (value, row_id) if isinstance(value, str) and isinstance(row_id, str) else None

