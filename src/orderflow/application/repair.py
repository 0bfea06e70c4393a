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
    cause(reason: str) -> str
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
    release_parked(settings, parked_id_or_order: str, *, user: str, by_order: bool = False) -> ParkedOutcome
    reject_parked(settings, parked_id_or_order: str, *, user: str, reason: str, by_order: bool = False)
        -> ParkedOutcome
        # a parked message's id, or with by_order=True a storefront reference: every message parked for it
        # ParkedOutcome(action_id, user, at, action, sent: tuple[Sent, ...], skipped: tuple[Skipped, ...])
    actions(db: Database, limit: int = 100) -> list[Action]
        # Action(id, kind, user, at, scope, detail): every action above, newest first

Errors: :class:`RepairRefused` (a subclass of ``ValueError``) with a sentence saying why, for an unknown
entry, an empty user, a missing reason, an edited payload the schema refuses, a scope that names nothing.

Why a redrive publishes and does not apply: see docs/operations.md, "Putting right what failed".
"""
