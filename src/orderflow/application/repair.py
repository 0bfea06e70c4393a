"""Put right what failed: the back office's one service API over the error journal and the parking lots.

The CLI (``orderflow errors ...``, ``orderflow parked ...``) and the web console call these functions and
nothing else; none of them prints. Each action takes the acting back-office user (``user``), records
itself as a :class:`~orderflow.aggregates.repairs.RepairAction` (who, when, what scope, what it did) and
returns a small frozen dataclass saying what it did.

Reading (the ``error_journal`` read model, caught up by the caller)::

    Filters(group=None, order=None, message_type=None, since=None, until=None, state=None)
        # state: "open" | "redriven" | "discarded" | None (all); since/until: aware datetimes, on rejected_at
    failed_groups(db: Database, filters: Filters = Filters()) -> list[Group]
        # Group(group, count, open, first_seen, last_seen, message_types: tuple[str, ...])
    failed_entries(db: Database, filters: Filters = Filters(), limit: int = 1000) -> list[Entry]
        # Entry(id, rejected_at, group, reason, error, state, attempts, topic, partition, offset, order,
        #       message_id, message_type, last_attempt_at, closed_by, closed_reason, edited)
    cause(reason: str, error: str = "") -> str
        # the group of a reason: the reason with its values taken out

Acting (each opens the event store and the broker the settings name, and closes them)::

    Scope(entry_id=None, group=None, order=None, since=None, until=None)
        # one entry by id, or every open entry of a group, of an order, of a time range (combinable)
    redrive(settings, scope: Scope, *, user: str, dry_run: bool = False, payload: dict | None = None)
        -> RedriveOutcome(action_id, user, at, dry_run, sent: tuple[Sent, ...], skipped: tuple[Skipped, ...])
        # payload: the edited payload of the one entry the scope names (edit and redrive)
        # Sent(entry_id, order, message_type, topic, partition); Skipped(entry_id, why)
    discard(settings, entry_id: str, *, user: str, reason: str) -> EntryChange
    reopen(settings, entry_id: str, *, user: str) -> EntryChange
        # EntryChange(action_id, entry_id, user, at, state, reason)
    actions(db: Database, limit: int = 100) -> list[Action]
        # Action(id, kind, user, at, scope: dict, detail: dict): every action above, newest first
        # (the ``repairs`` read model, caught up by the caller)

Parked messages (the ``parked_messages`` read model finds them, the parking lots in the event store say
whether they still wait)::

    release_parked(settings, parked_id_or_order: str, *, user: str, by_order: bool = False) -> ParkedOutcome
    reject_parked(settings, parked_id_or_order: str, *, user: str, reason: str, by_order: bool = False)
        -> ParkedOutcome
        # a parked message's id, or with by_order=True a storefront reference: every message parked for it
        # ParkedOutcome(action_id, user, at, action, sent: tuple[Sent, ...], skipped: tuple[Skipped, ...])
        # Sent.entry_id / Skipped.entry_id: the parked message's id; release skips one whose order is unknown

Errors: :class:`RepairRefused` (a subclass of ``ValueError``) with a sentence saying why, for an unknown
entry or parked message, an empty user, a missing reason, an edited payload the schema refuses, a scope that names nothing.

Why a redrive publishes and does not apply: see docs/operations.md, "Putting right what failed".
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import msgpack
import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from orderflow.aggregates.errors import UnknownOrder
from orderflow.aggregates.inbox import OPEN, EntryNotOpen, ParkingLot, RejectedMessage
from orderflow.aggregates.repairs import RepairAction
from orderflow.bootstrap import Engine, bootstrap
from orderflow.consumers.dead_letters import Source
from orderflow.consumers.pipeline import partition_for
from orderflow.consumers.redrives import (
    PARKED_OF,
    PARKED_REJECT,
    REDRIVE_ACTION,
    REDRIVE_BY,
    REDRIVE_HEADERS,
    REDRIVE_OF,
)
from orderflow.contract.envelope import JSON, parse_time
from orderflow.contract.schemas import ContractViolation
from orderflow.db import Database
from orderflow.kafka import make_producer
from orderflow.outbound.publisher import close_producer
from orderflow.projections.error_journal import ErrorJournalView, cause
from orderflow.projections.parked_messages import ParkedMessagesView
from orderflow.projections.repairs import RepairsView
from orderflow.settings import Settings, Topics

__all__ = [
    "Action", "Entry", "EntryChange", "Filters", "Group", "ParkedOutcome", "RedriveOutcome", "RepairRefused", "Scope",
    "Sent", "Skipped", "actions", "cause", "discard", "failed_entries", "failed_groups", "in_event_time", "outgoing",
    "redrive", "reject_parked", "release_parked", "reopen",
]

log = structlog.get_logger("orderflow.repair")
STATES = ("open", "redriven", "discarded")
ATTEMPTS = 5
"""Times an action on an entry is tried when the engine recorded something on the same entry meanwhile."""


class RepairRefused(ValueError):
    """A back-office action that cannot be done; the text says why."""


@dataclass(frozen=True)
class Filters:
    """Which error journal entries to list: every field given narrows the list."""

    group: str | None = None
    order: str | None = None
    message_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    state: str | None = None

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in STATES:
            raise RepairRefused(f"state must be one of {', '.join(STATES)}")
        for when in (self.since, self.until):
            if when is not None and when.tzinfo is None:
                raise RepairRefused("since and until must be timezone-aware")


@dataclass(frozen=True)
class Scope:
    """What a redrive takes: one entry by id, or the open entries of a group, an order, a time range (combined)."""

    entry_id: str | None = None
    group: str | None = None
    order: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if not any(asdict(self).values()):
            raise RepairRefused("a redrive needs a scope: an entry id, a group, an order or a time range")

    def filters(self) -> Filters:
        return Filters(group=self.group, order=self.order, since=self.since, until=self.until,
                       state=None if self.entry_id else OPEN)


@dataclass(frozen=True)
class Entry:
    """One error journal entry as the back office sees it."""

    id: str
    rejected_at: datetime
    group: str
    reason: str
    error: str
    state: str
    attempts: int
    topic: str
    partition: int
    offset: int
    order: str | None
    message_id: str | None
    message_type: str | None
    last_attempt_at: datetime
    closed_by: str | None
    closed_reason: str | None
    edits: int


@dataclass(frozen=True)
class Group:
    """Entries refused for one cause."""

    group: str
    count: int
    open: int
    first_seen: datetime
    last_seen: datetime
    message_types: tuple[str, ...]


@dataclass(frozen=True)
class Sent:
    """An entry whose record a redrive published: where to, for which order."""

    entry_id: str
    order: str | None
    message_type: str | None
    topic: str
    partition: int


@dataclass(frozen=True)
class Skipped:
    """An entry a redrive did not publish, and why."""

    entry_id: str
    why: str


@dataclass(frozen=True)
class RedriveOutcome:
    """What a redrive sent (or, with ``dry_run``, would send) and what it skipped; ``action_id`` None on a dry run."""

    action_id: str | None
    user: str
    at: datetime
    dry_run: bool
    sent: tuple[Sent, ...]
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True)
class EntryChange:
    """An entry discarded or re-opened: its new state, by whom, when, why."""

    action_id: str
    entry_id: str
    user: str
    at: datetime
    state: str
    reason: str


# -- reading ----------------------------------------------------------------------------------------


def failed_entries(db: Database, filters: Filters = Filters(), limit: int = 1000) -> list[Entry]:  # noqa: B008
    """The entries ``filters`` select, oldest rejection first (the order a redrive sends them in, per order)."""
    view = ErrorJournalView(db.is_postgres)
    where, parameters = _where(view, filters)
    columns = ("id", "rejected_at", "cause", "reason", "error", "state", "attempts", "topic", "partition",
               "record_offset", "key", "message_id", "message_type", "last_attempt_at", "closed_by", "closed_reason",
               "edits")
    rows = db.query(f"SELECT {', '.join(columns)} FROM {view.table('error_journal')} {where} "
                    "ORDER BY position LIMIT ?", [*parameters, limit])
    return [Entry(id=row[0], rejected_at=_time(row[1]), group=row[2], reason=row[3], error=row[4], state=row[5],
                  attempts=row[6], topic=row[7], partition=row[8], offset=row[9], order=row[10], message_id=row[11],
                  message_type=row[12], last_attempt_at=_time(row[13]), closed_by=row[14], closed_reason=row[15],
                  edits=row[16]) for row in rows]


def failed_groups(db: Database, filters: Filters = Filters()) -> list[Group]:  # noqa: B008
    """The entries ``filters`` select, grouped by cause: the largest group first."""
    view = ErrorJournalView(db.is_postgres)
    where, parameters = _where(view, filters)
    rows = db.query(
        f"SELECT cause, COUNT(*), SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END), MIN(rejected_at), MAX(rejected_at) "
        f"FROM {view.table('error_journal')} {where} GROUP BY cause ORDER BY COUNT(*) DESC, cause", parameters)
    types = db.query(f"SELECT DISTINCT cause, message_type FROM {view.table('error_journal')} {where}", parameters)
    by_cause: dict[str, list[str]] = {}
    for group, message_type in types:
        by_cause.setdefault(group, []).append(message_type or "(unknown)")
    return [Group(group, count, int(open_ or 0), _time(first), _time(last), tuple(sorted(by_cause.get(group, ()))))
            for group, count, open_, first, last in rows]


def _where(view: ErrorJournalView, filters: Filters) -> tuple[str, list[Any]]:
    clauses, parameters = [], []
    for column, value in (("cause", filters.group), ("key", filters.order), ("message_type", filters.message_type),
                          ("state", filters.state)):
        if value is not None:
            clauses.append(f"{column} = ?")
            parameters.append(value)
    if filters.since is not None:
        clauses.append("rejected_at >= ?")
        parameters.append(view.value(filters.since.astimezone(UTC)))
    if filters.until is not None:
        clauses.append("rejected_at < ?")
        parameters.append(view.value(filters.until.astimezone(UTC)))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), parameters


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@dataclass(frozen=True)
class Action:
    """One recorded back-office action: what kind, by whom, when, on what scope, with what result."""

    id: str
    kind: str
    user: str
    at: datetime
    scope: dict[str, Any]
    detail: dict[str, Any]


def actions(db: Database, limit: int = 100) -> list[Action]:
    """Every redrive, discard and re-opening, newest first (the ``repairs`` read model, caught up by the caller)."""
    return [Action(row[0], row[1], row[2], _time(row[3]), json.loads(row[4]), json.loads(row[5]))
            for row in RepairsView(db.is_postgres).actions(db, limit)]


# -- acting -----------------------------------------------------------------------------------------


def redrive(settings: Settings, scope: Scope, *, user: str, dry_run: bool = False,
            payload: dict[str, Any] | None = None) -> RedriveOutcome:
    """Publish the records of the open entries ``scope`` selects again, for the engine's inbound path to apply.

    Each goes to the storefront topic, on the partition its key hashes to (a misrouted record lands where
    it belongs; :func:`outgoing` says why one topic), with the entry's id, the action's id and the user in headers; an order's entries are sent in
    event time. The engine records on each entry what became of it, in the transaction that applies it
    (docs/operations.md, "Putting right what failed"). ``payload``: the edited payload of the one entry the
    scope names, checked against its schema before anything is sent or recorded; the edit is recorded on
    the entry (who, when, digests before and after), the original kept.
    """
    user = _user(user)
    if payload is not None and scope.entry_id is None:
        raise RepairRefused("an edited payload redrives one entry: give its id")
    at = datetime.now(UTC)
    with _engine(settings) as engine:
        candidates = _candidates(engine, scope)
        sent: list[Sent] = []
        skipped: list[Skipped] = []
        records: list[RejectedMessage] = []
        for entry in candidates:
            why = _cannot_send(entry)
            if why:
                skipped.append(Skipped(str(entry.id), why))
                continue
            if payload is not None:
                _check_edit(engine, entry, payload)
            records.append(entry)
        records.sort(key=in_event_time)
        action_id = uuid4()
        if not records:
            return _outcome(None if dry_run else _record(engine, action_id, user, scope, [], skipped, payload, at),
                            user, at, dry_run, sent, skipped)
        if not dry_run and payload is not None:
            _edit(engine, records[0], payload, user, at)
            records = [engine.app.repository.get(records[0].id)]
        sent += _send(settings, lambda partitions_of: [outgoing(entry, settings.topics, partitions_of, action_id, user)
                                                      for entry in records], dry_run)
        return _outcome(None if dry_run else _record(engine, action_id, user, scope, sent, skipped, payload, at),
                        user, at, dry_run, sent, skipped)


Outgoing = tuple[Sent, bytes, bytes, list[tuple[str, bytes]]]
"""Where a record goes (:class:`Sent`), its key, value and headers."""


def _send(settings: Settings, records: Callable[[Callable[[str], Any]], list[Outgoing]], dry_run: bool) -> list[Sent]:
    """Publish the records ``records(partitions_of)`` makes (unless ``dry_run``) and wait for the broker to take
    them all; return where each went."""
    producer = make_producer(settings)
    try:
        outgoing_records = records(producer.partitions_for)
        if not dry_run:
            futures = [producer.send(one.topic, key=key, value=value, partition=one.partition, headers=headers)
                       for one, key, value, headers in outgoing_records]
            producer.flush()
            for future in futures:
                future.get(timeout=settings.send_timeout_seconds)
    finally:
        close_producer(producer, timeout=10)
    return [one for one, *_ in outgoing_records]


def _record(engine: Engine, action_id: UUID, user: str, scope: Scope, sent: list[Sent], skipped: list[Skipped],
            payload: dict[str, Any] | None, at: datetime) -> str:
    """Record the redrive (after sending: what it records was sent); return the action's id."""
    action = RepairAction(action_id, "redrive", user, _scope(scope), {
        "sent": [asdict(each) for each in sent], "skipped": [asdict(each) for each in skipped],
        "edited": payload is not None}, at)
    engine.app.save(action)
    log.info("redrive sent", action=str(action.id), user=user, sent=len(sent), skipped=len(skipped))
    return str(action.id)


def _outcome(action_id: str | None, user: str, at: datetime, dry_run: bool, sent: list[Sent],
             skipped: list[Skipped]) -> RedriveOutcome:
    return RedriveOutcome(action_id, user, at, dry_run, tuple(sent), tuple(skipped))


def discard(settings: Settings, entry_id: str, *, user: str, reason: str) -> EntryChange:
    """Close an open entry for good (until re-opened): its record is never applied, even if a redrive is on its way."""
    user, reason = _user(user), (reason or "").strip()
    if not reason:
        raise RepairRefused("a discard needs a reason")
    return _change(settings, entry_id, "discard", user, reason, lambda entry, at: entry.discard(user, reason, at))


def reopen(settings: Settings, entry_id: str, *, user: str) -> EntryChange:
    """Open a discarded entry again, so that it can be redriven."""
    user = _user(user)
    return _change(settings, entry_id, "reopen", user, "", lambda entry, at: entry.reopen(user, at))


def _change(settings: Settings, entry_id: str, kind: str, user: str, reason: str, change: Any) -> EntryChange:
    with _engine(settings, catch_up=False) as engine:
        for attempt in range(ATTEMPTS):
            entry, at = _entry(engine, entry_id), datetime.now(UTC)
            try:
                change(entry, at)
            except EntryNotOpen as error:
                raise RepairRefused(str(error)) from None
            action = RepairAction(uuid4(), kind, user, {"entry_id": str(entry.id)}, {"reason": reason}, at)
            try:
                engine.app.save(entry, action)  # one transaction
            except IntegrityError:  # the engine recorded something on this entry meanwhile: look again
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            log.info(f"entry {kind}ed", entry=str(entry.id), user=user)
            return EntryChange(str(action.id), str(entry.id), user, at, entry.state, reason)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class ParkedOutcome:
    """What a release or a rejection of parked messages sent (each for the engine to settle) and what it skipped."""

    action_id: str
    user: str
    at: datetime
    action: str
    sent: tuple[Sent, ...]
    skipped: tuple[Skipped, ...]


def release_parked(settings: Settings, parked_id_or_order: str, *, user: str, by_order: bool = False) -> ParkedOutcome:
    """Apply parked messages now rather than wait: one by its message id, or (``by_order``) every one of an order.

    Only a message whose order exists is sent (the others are skipped: they keep waiting). The engine
    applies it when the record comes back through its inbound path, as it applies a message whose order
    was just placed, unless it is no longer parked by then.
    """
    return _verdict(settings, parked_id_or_order, by_order, "release", _user(user), None)


def reject_parked(settings: Settings, parked_id_or_order: str, *, user: str, reason: str,
                  by_order: bool = False) -> ParkedOutcome:
    """Close parked messages for good, with a reason (as a discard does an entry): they are never applied, even
    when their order arrives after the engine has read the rejection."""
    user, reason = _user(user), (reason or "").strip()
    if not reason:
        raise RepairRefused("a rejection needs a reason")
    return _verdict(settings, parked_id_or_order, by_order, "reject", user, reason)


def _verdict(settings: Settings, wanted: str, by_order: bool, kind: str, user: str,
             reason: str | None) -> ParkedOutcome:
    """Send the verdict on each parked message ``wanted`` names to the engine (docs/operations.md), record it."""
    at, action_id = datetime.now(UTC), uuid4()
    with _engine(settings) as engine:
        view = ParkedMessagesView(engine.db.is_postgres)
        column = "storefront_reference" if by_order else "message_id"
        rows = engine.db.query(f"SELECT message_id, partition FROM {view.table('parked_messages')} "
                               f"WHERE {column} = ? AND released_at IS NULL ORDER BY position", [wanted])
        if not rows:
            raise RepairRefused(f"no message parked for order {wanted} waits" if by_order
                                else f"no parked message {wanted} waits")
        records: list[tuple[str, Source]] = []
        skipped: list[Skipped] = []
        for message_id, partition in rows:
            lot: ParkingLot = engine.app.repository.get(ParkingLot.create_id(settings.topics.storefront, partition))
            message = lot.pending.get(message_id)
            if message is None:
                skipped.append(Skipped(message_id, "it is no longer parked"))
            elif kind == "release" and not _order_exists(engine, message["key"]):
                skipped.append(Skipped(message_id, f"order {message['key']} is not there yet: it keeps waiting"))
            else:
                records.append((message_id, Source.from_dict(message)))
        sent = _send(settings, lambda partitions_of: [
            _verdict_record(message_id, record, settings.topics, partitions_of, action_id, user, reason)
            for message_id, record in records], dry_run=False) if records else []
        scope = {"order" if by_order else "parked": wanted}
        action = RepairAction(action_id, kind, user, scope, {
            "sent": [asdict(each) for each in sent], "skipped": [asdict(each) for each in skipped],
            "reason": reason or ""}, at)
        engine.app.save(action)
        log.info(f"parked {kind} sent", action=str(action_id), user=user, sent=len(sent), skipped=len(skipped))
        return ParkedOutcome(str(action_id), user, at, kind, tuple(sent), tuple(skipped))


def _order_exists(engine: Engine, key: str) -> bool:
    try:
        engine.app.get_order(key)
    except UnknownOrder:
        return False
    return True


def _verdict_record(message_id: str, record: Source, topics: Topics, partitions_of: Callable[[str], Any],
                    action_id: UUID, user: str, reason: str | None) -> Outgoing:
    """The parked message's record, with the verdict's headers, on its key's partition of the storefront topic
    (where the owner of its parking lot reads it; :func:`outgoing` says why that topic)."""
    topic, key = topics.storefront, record.key or b""
    partition = partition_for(key, len(partitions_of(topic)))
    headers = [(name, raw or b"") for name, raw in record.headers if name not in REDRIVE_HEADERS]
    headers += [(PARKED_OF, message_id.encode()), (REDRIVE_ACTION, str(action_id).encode()),
                (REDRIVE_BY, user.encode())]
    if reason is not None:
        headers.append((PARKED_REJECT, reason.encode()))
    sent = Sent(message_id, key.decode(), record.header("message_type"), topic, partition)
    return sent, key, record.value or b"", headers


@contextmanager
def _engine(settings: Settings, catch_up: bool = True) -> Iterator[Engine]:
    engine = bootstrap(settings)
    try:
        if catch_up:
            engine.projections.catch_up()
        yield engine
    finally:
        engine.close()


def _user(user: str | None) -> str:
    user = (user or "").strip()
    if not user:
        raise RepairRefused("every action names the acting back-office user (--user or ORDERFLOW_USER)")
    return user


def _entry(engine: Engine, entry_id: str) -> RejectedMessage:
    entry: Any
    try:
        entry = engine.app.repository.get(UUID(entry_id))
    except (ValueError, AggregateNotFoundError):
        entry = None
    if not isinstance(entry, RejectedMessage):
        raise RepairRefused(f"no error journal entry {entry_id}")
    return entry


def _candidates(engine: Engine, scope: Scope) -> list[RejectedMessage]:
    """The entries of ``scope``, as the event store has them (the read model only finds them)."""
    if scope.entry_id is not None:
        return [_entry(engine, scope.entry_id)]
    found = failed_entries(engine.db, scope.filters(), limit=1_000_000)
    if not found:
        raise RepairRefused("no open entry in that scope")
    return [_entry(engine, each.id) for each in found]


def _cannot_send(entry: RejectedMessage) -> str:
    if entry.state != OPEN:
        return f"it is {entry.state}"
    if entry.headers.get("dlq_truncated") == "true":
        return "the journal kept only part of the record (it was too large): publish it again by hand"
    if not entry.key:
        return "the record has no key"
    if not entry.message_type:
        return "the record has no message_type header"
    return ""


def outgoing(entry: RejectedMessage, topics: Topics, partitions_of: Callable[[str], Any], action_id: UUID,
             user: str) -> Outgoing:
    """The record a redrive of ``entry`` sends: where to (the storefront topic, the partition its key hashes to
    among ``partitions_of(topic)``), key, value and headers (the entry's, without ``dlq_*``, plus the redrive's).

    Every redriven record goes on the storefront topic, whatever its message type: on one partition, in the
    order sent, an order's records are applied in event time. Split over the two topics, the merge could let
    a later record of one topic overtake an earlier one of the other held behind live traffic.
    """
    topic = topics.storefront
    key = (entry.key or "").encode()  # never empty: see _cannot_send
    partition = partition_for(key, len(partitions_of(topic)))
    own = [(name, value.encode()) for name, value in entry.headers.items()
           if not name.startswith("dlq_") and name not in REDRIVE_HEADERS]
    headers = own + [(REDRIVE_OF, str(entry.id).encode()), (REDRIVE_ACTION, str(action_id).encode()),
                     (REDRIVE_BY, user.encode())]
    sent = Sent(str(entry.id), entry.key, entry.message_type, topic, partition)
    return sent, key, base64.b64decode(entry.value_b64), headers


def in_event_time(entry: RejectedMessage) -> tuple[datetime, datetime, int]:
    """The order a redrive sends entries in: an order's in event time (the merge orders the rest); a record
    without a valid time first."""
    try:
        occurred_at = parse_time(entry.headers.get("occurred_at", ""))
    except ValueError:
        occurred_at = datetime.min.replace(tzinfo=UTC)
    return occurred_at, entry.rejected_at, entry.offset


def _scope(scope: Scope) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(scope).items() if value is not None}


def _encoded(entry: RejectedMessage, payload: dict[str, Any]) -> bytes:
    if entry.headers.get("content_type") == JSON:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return msgpack.packb(payload, use_bin_type=True)


def _check_edit(engine: Engine, entry: RejectedMessage, payload: dict[str, Any]) -> None:
    """The edited payload against its message type's schema: refused, with the schema's reason, before anything."""
    try:
        version = int(entry.headers.get("schema_version", ""))
    except ValueError:
        raise RepairRefused("the record's schema_version header is not a number: its payload cannot be checked") from None
    try:
        engine.contract.validate(entry.message_type or "", version, payload)
    except ContractViolation as error:
        raise RepairRefused(f"the edited payload is refused: {error}") from None


def _edit(engine: Engine, entry: RejectedMessage, payload: dict[str, Any], user: str, at: datetime) -> None:
    before = base64.b64decode(entry.value_b64)
    after = _encoded(entry, payload)
    entry.edit(base64.b64encode(after).decode(), _digest(before), _digest(after), user, at)
    engine.app.save(entry)


def _digest(value: bytes) -> str:
    return "sha256:" + hashlib.sha256(value).hexdigest()
