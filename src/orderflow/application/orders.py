"""The eventsourcing Application that records every order action.

Commands (see :mod:`orderflow.application.commands`) are get, act, save. A Kafka consumer
wraps many commands in one :meth:`Orders.batch`, so that their events and the
consumer's position are recorded in one database transaction.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import JSONTranscoder, Mapper, ProcessRecorder, Tracking
from eventsourcing.popo import POPOFactory

from orderflow.aggregates.forgetting import Forgetting
from orderflow.aggregates.inbox import ParkingLot
from orderflow.aggregates.numbering import NumberBlock, NumberSeries, WebOrderNumbers
from orderflow.aggregates.web_order import WebOrder
from orderflow.application.ciphers import cipher_env
from orderflow.application.commands import OrderCommands
from orderflow.application.positions import RECEIPT_COLUMNS, RECEIPTS, POPOPositionsRecorder, Rows, Staged
from orderflow.application.shredding import CustomerKeys, ShreddingMapper, UnknownCustomer, candidates
from orderflow.application.transcodings import DateAsISO
from orderflow.settings import eventsourcing_env, libpq_ssl_env

if TYPE_CHECKING:
    from orderflow.projections.inline import InlineProjection


class SQLRecorder(Protocol):
    """What orderflow reads of the library's SQLite and PostgreSQL recorders beyond ``ProcessRecorder``."""

    datastore: Any  # the library's SQLiteDatastore or PostgresDatastore: transaction(), and schema on PostgreSQL
    events_table_name: str


def sql_recorder(recorder: ProcessRecorder) -> SQLRecorder | None:
    """``recorder``, if it keeps a SQL database (SQLite, PostgreSQL); None if it keeps its tables in memory."""
    return cast(SQLRecorder, recorder) if getattr(recorder, "datastore", None) is not None else None


class Orders(OrderCommands, Application[UUID]):
    """The order-processing application: one event store for all web orders."""

    name = "orderflow"
    snapshotting_intervals = {ParkingLot: 100}  # noqa: RUF012 - the library reads it from the class

    def __init__(self, database_url: str = "memory:", env: dict[str, str] | None = None,
                 cipher_keys: tuple[str, ...] = (), cache_size: int = 5_000):
        """The event store at ``database_url``; with ``cipher_keys`` (newest first) every event is encrypted at rest.

        TLS parameters of a PostgreSQL URL (``?sslmode=verify-full&sslrootcert=...``) reach the library's
        connections through libpq's variables (``PGSSLMODE``, ...), which the URL overrides.
        """
        os.environ.update(libpq_ssl_env(database_url))
        super().__init__(env={**eventsourcing_env(database_url), **cipher_env(cipher_keys), **(env or {})})
        self.recorder: ProcessRecorder
        self.mapper: ShreddingMapper
        self.staged: Staged = getattr(self.recorder, "staged", None) or Staged()
        self.customer_keys = CustomerKeys(
            getattr(self.recorder, "datastore", None), postgres=self._is_postgres, wrap=self.mapper.cipher,
            staged=self.staged,
        )
        self.mapper.keys = self.customer_keys
        self._batch: ProcessingEvent[UUID] | None = None
        # What the open batch has read (or found missing), so that one message's
        # lookups are not repeated by the next: a batch is one transaction's view.
        self._read: dict[UUID, Any] = {}
        self._missing: set[UUID] = set()
        # Receipts of the open batch (message id -> digest, source), written as rows with its events.
        self._receipts: dict[str, tuple[str, str, str, datetime]] = {}
        # Web orders as the last recorded batch left them: a consumer's orders stay in memory, not
        # read back per batch. Dropped whole when a batch is not recorded (see ``forget_cache``).
        self._cache: OrderedDict[UUID, WebOrder] = OrderedDict()
        self.cache_size = cache_size
        self.inline: InlineProjection | None = None
        """Read models written in the transaction of every event insert (the engine's: ``orderflow run``)."""

    @property
    def _is_postgres(self) -> bool:
        return self.factory.__class__.__module__ == "eventsourcing.postgres"

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, with each customer's personal fields under the customer's key (:mod:`orderflow.application.shredding`)."""
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=ShreddingMapper)

    def forget_customer(self, customer: str, requested_by: str, at: datetime) -> list[Forgetting]:
        """Forget a customer: record ``CustomerForgotten``, then delete the customer's key.

        ``customer`` is a web account no., a B2B sell-to customer no., an e-mail address (guests) or
        ``kind:id`` (``account:``, ``customer:``, ``email:``, ``order:``). Raises :class:`UnknownCustomer`
        if no customer has a key under it.
        """
        done = []
        for candidate in candidates(customer):
            found = self.customer_keys.find(candidate)
            if found is None:
                continue
            subject, orders = found
            forgetting = Forgetting(subject, candidate.split(":", 1)[0], orders, requested_by, at)
            self.save(forgetting)
            self.customer_keys.forget(candidate)
            done.append(forgetting)
        if not done:
            raise UnknownCustomer("no customer with personal data under this id (never seen, or already forgotten)")
        return done

    def construct_recorder(self) -> ProcessRecorder:
        """A process recorder: events and the consumer's positions in one transaction."""
        if isinstance(self.factory, POPOFactory):
            return POPOPositionsRecorder()
        return self.factory.process_recorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    @contextmanager
    def batch(self, tracking: Tracking | None = None) -> Iterator[ProcessingEvent[UUID]]:
        """Collect everything saved inside the block; record it, with ``tracking``, on exit.

        If the block raises, nothing is recorded.
        """
        if self._batch is not None:
            raise RuntimeError("batches do not nest")
        self._batch = ProcessingEvent(tracking=tracking)
        read = self._read
        try:
            yield self._batch
            processing_event, self._batch = self._batch, None
            recordings = self._record(processing_event)
        except BaseException:
            self.forget_cache()  # cached orders may carry changes that were not recorded
            raise
        finally:
            self._batch = None
            self._read = {}
            self._missing.clear()
            self._receipts = {}
        self._remember({**read, **processing_event.aggregates})
        self._take_snapshots(processing_event)
        self._notify(recordings)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> Any:
        """The library's recording, with the rows staged for the same transaction: the open batch's receipts,
        new customers' keys (staged while the events are mapped)."""
        if self._receipts:
            self.staged.add(Rows(RECEIPTS, RECEIPT_COLUMNS, [
                (message_id, digest, message_type, source, at.isoformat())
                for message_id, (digest, message_type, source, at) in self._receipts.items()
            ], pg_types=("text", "text", "text", "text", "timestamptz")))
        self.mapper.prefetch(processing_event.events)
        inline = self.inline
        if inline is not None and processing_event.events:
            inline.prepare(processing_event.events)
            events, forgotten = processing_event.events, self.mapper.stored_forgotten
            self.staged.after = lambda cursor, positions: inline.write(
                cursor, events, positions, stored_forgotten=self.mapper.stored_forgotten != forgotten)
        try:
            recordings = super()._record(processing_event)
        except BaseException:
            self.customer_keys.settle(recorded=False)
            if inline is not None:
                inline.forget()
            raise
        finally:
            self.staged.clear()
        self.customer_keys.settle(recorded=True)
        return recordings

    def receipt(self, message_id: str, message_type: str, digest: str, source: str, at: datetime) -> None:
        """Record, with the open batch, that the message ``message_id`` was applied (or parked): a row, not an event.

        A second receipt for one message id is an ``IntegrityError`` on recording: nothing of the batch is recorded.
        """
        if self._batch is None:
            raise RuntimeError("receipts are recorded with a batch")
        if message_id in self._receipts:
            raise ValueError(f"message {message_id} already has a receipt in this batch")
        self._receipts[message_id] = (digest, message_type, source, at)

    def receipts(self, message_ids: list[str]) -> dict[str, tuple[str, str]]:
        """The recorded receipts among ``message_ids`` (the open batch's included): message id -> (digest, source)."""
        found = {m: (r[0], r[2]) for m in message_ids if (r := self._receipts.get(m)) is not None}
        rest = [m for m in message_ids if m not in found]
        if rest:
            found.update(self._recorded_receipts(rest))
        return found

    @property
    def legacy_receipts(self) -> bool:
        """Whether the store holds receipts recorded as ``Receipt`` aggregates (before they were rows): then
        deduplication asks about those too. Asked once per process."""
        known = self.__dict__.get("_legacy_receipts")
        if known is None:
            recorder = sql_recorder(self.recorder)
            known = False
            if recorder is not None:
                datastore = recorder.datastore
                topic = "orderflow.aggregates.inbox:Receipt.Applied"
                table = (f"{datastore.schema}.{recorder.events_table_name}" if self._is_postgres
                         else recorder.events_table_name)
                with datastore.transaction(commit=False) as cursor:
                    cursor.execute(f"SELECT 1 AS found FROM {table} WHERE topic = {'%s' if self._is_postgres else '?'} "
                                   "LIMIT 1", (topic,))
                    known = bool(cursor.fetchall())
            self.__dict__["_legacy_receipts"] = known
        return known

    def _recorded_receipts(self, message_ids: list[str], cursor: Any = None) -> dict[str, tuple[str, str]]:
        recorder = self.recorder
        if isinstance(recorder, POPOPositionsRecorder):
            table = recorder.tables.get(RECEIPTS, {})
            return {m: (row[1], row[3]) for m in message_ids if (row := table.get(m)) is not None}
        datastore = cast(SQLRecorder, recorder).datastore  # any recorder but the in-memory one is a SQL one
        if cursor is None:
            with datastore.transaction(commit=False) as cursor:
                return self._recorded_receipts(message_ids, cursor)
        if self._is_postgres:
            cursor.execute(f"SELECT message_id, digest, source FROM {datastore.schema}.{RECEIPTS} "
                           "WHERE message_id = ANY(%s)", (message_ids,))
        else:
            cursor.execute(f"SELECT message_id, digest, source FROM {RECEIPTS} WHERE message_id IN "
                           f"({','.join('?' * len(message_ids))})", message_ids)
        return {row["message_id"]: (row["digest"], row["source"]) for row in cursor.fetchall()}

    def is_cached(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._cache

    def forget_cache(self) -> None:
        """Drop every order kept in memory (after a conflict, or when partitions change hands)."""
        self._cache.clear()

    def _remember(self, aggregates: dict[UUID, Any]) -> None:
        for aggregate_id, aggregate in aggregates.items():
            if isinstance(aggregate, WebOrder):
                self._cache[aggregate_id] = aggregate
                self._cache.move_to_end(aggregate_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Record at once, or collect into the open batch."""
        if self._batch is None:
            return super().save(*objs, **kwargs)
        batch = self._batch
        for obj in objs:
            if isinstance(obj, BaseAggregate) and not hasattr(obj, "originator_id"):
                # What ProcessingEvent.collect_events does with an aggregate, without its two isinstance checks
                # against runtime-checkable Protocols (each walks the Protocol's members: issue 10).
                batch.events.extend(obj.collect_events())
                batch.aggregates[obj.id] = obj
            else:
                batch.collect_events(obj)
        batch.saved_kwargs.update(kwargs)
        return []

    def load(self, aggregate_id: UUID) -> Any:
        """The aggregate as the open batch left it, else as stored.

        Raises ``AggregateNotFoundError`` from the library when there is none;
        commands translate that into the domain's own error.
        """
        if self._batch is None:
            return self.repository.get(aggregate_id)
        if aggregate_id in self._batch.aggregates:
            return self._batch.aggregates[aggregate_id]
        if aggregate_id in self._read:
            return self._read[aggregate_id]
        cached = self._cache.get(aggregate_id)
        if cached is not None:
            self._read[aggregate_id] = cached
            return cached
        if aggregate_id in self._missing:
            raise AggregateNotFoundError(aggregate_id)
        aggregate: BaseAggregate[UUID]
        try:
            aggregate = self._read[aggregate_id] = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            self._missing.add(aggregate_id)
            raise
        return aggregate

    def missing(self, aggregate_ids: list[UUID], message_ids: Sequence[str] = (), customers: Sequence[str] = (),
                ) -> tuple[set[UUID], dict[str, tuple[str, str]]]:
        """Which of these aggregates do not exist (none are known missing without a SQL store), and the recorded
        receipts among ``message_ids`` (message id -> digest, source): one query each, in one transaction, which
        also reads the keys of ``customers`` (see :meth:`CustomerKeys.prefetch`) not known yet.

        A consumer asks "was this message seen?" for every message it polls:
        one round trip per poll instead of one per message.
        """
        recorder = sql_recorder(self.recorder)
        message_ids = list(message_ids)
        if recorder is None:
            return set(), self._recorded_receipts(message_ids) if message_ids else {}
        datastore = recorder.datastore
        if not aggregate_ids and not message_ids and not customers:
            return set(), {}
        found: set[UUID] = set()
        receipts: dict[str, tuple[str, str]] = {}
        with datastore.transaction(commit=False) as cursor:
            if aggregate_ids and self._is_postgres:
                cursor.execute(
                    f"SELECT DISTINCT originator_id FROM {datastore.schema}.{recorder.events_table_name} "
                    "WHERE originator_id = ANY(%s)", (list(aggregate_ids),))
                found = {row["originator_id"] for row in cursor.fetchall()}
            elif aggregate_ids:
                marks = ",".join("?" * len(aggregate_ids))
                cursor.execute(f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "
                               f"WHERE originator_id IN ({marks})", [i.hex for i in aggregate_ids])
                found = {UUID(row["originator_id"]) for row in cursor.fetchall()}
            if message_ids:
                receipts = self._recorded_receipts(message_ids, cursor)
            if customers:
                self.customer_keys.prefetch(list(customers), cursor)
        return {i for i in aggregate_ids if i not in found}, receipts

    def assume_missing(self, aggregate_ids: set[UUID]) -> None:
        """Let the open batch take these aggregates as not existing, without asking the store.

        Safe when wrong: creating an aggregate that exists after all is a
        version conflict, and the batch is not recorded.
        """
        if self._batch is not None:
            self._missing.update(aggregate_ids)

    def discard_unsaved(self) -> None:
        """Undo what a failed command did to aggregates of the open batch.

        Domain methods check before they record, but a command that failed
        half-way must not leave a half-changed aggregate for the next message
        of the same batch: each such aggregate is rebuilt from the store plus
        the batch's collected events.
        """
        if self._batch is None:
            return
        for aggregate_id, aggregate in list(self._read.items()):
            if aggregate.pending_events and aggregate_id not in self._batch.aggregates:
                del self._read[aggregate_id]
                self._cache.pop(aggregate_id, None)
        for aggregate_id, aggregate in list(self._batch.aggregates.items()):
            if not aggregate.pending_events:  # type: ignore[attr-defined]  # the library types them as maybe immutable
                continue
            rebuilt: BaseAggregate[UUID] | None
            try:
                rebuilt = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                rebuilt = None
            for collected in self._batch.events:
                if collected.originator_id == aggregate_id:
                    rebuilt = collected.mutate(rebuilt)  # type: ignore[attr-defined]  # typed as DomainEventProtocol
            self._read.pop(aggregate_id, None)
            self._cache.pop(aggregate_id, None)
            if rebuilt is None:
                del self._batch.aggregates[aggregate_id]
            else:
                self._batch.aggregates[aggregate_id] = rebuilt

    def next_web_order_no(self, at: datetime) -> str:
        """Issue the next system-wide unique Web Order No. (see :mod:`orderflow.aggregates.numbering`).

        O(1): numbers come from a block this instance reserved; a new block's
        reservation is saved with the caller's work (the open batch, if any).
        """
        series = self.__dict__.get("_web_order_numbers")
        if series is None:

            def find(index: int) -> NumberBlock | None:
                try:
                    return self.repository.get(NumberBlock.create_id(index))
                except AggregateNotFoundError:
                    return None

            def legacy_last() -> int:
                try:
                    return self.repository.get(WebOrderNumbers.create_id()).last_issued
                except AggregateNotFoundError:
                    return 0

            series = self.__dict__["_web_order_numbers"] = NumberSeries(find, legacy_last)
        number, reserved = series.issue(at, self._batch)
        if reserved is not None:
            try:
                self.save(reserved)
            except BaseException:
                series.forget(reserved)
                raise
        return number

    def position(self, name: str) -> int | None:
        """The last recorded position of a tracked source (e.g. ``topic:partition``)."""
        return self.recorder.max_tracking_id(name)
