"""The PostgreSQL recorder's own event and position inserts keep what the library's guarantee:
notification ids in the events' order, a version conflict or a stale position is the library's
``IntegrityError`` and records nothing (events, positions, staged rows), and the events read back as written."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.postgres import PostgresFactory

from orderflow.application.positions import RECEIPT_COLUMNS, RECEIPTS, Positions, PostgresPositionsRecorder, Rows
from orderflow.application.shredding import CustomerKeys
from orderflow.settings import eventsourcing_env


@pytest.fixture
def recorder(database_url: str) -> PostgresPositionsRecorder:
    factory = PostgresFactory(eventsourcing_env(database_url))
    recorder = factory.process_recorder()
    assert isinstance(recorder, PostgresPositionsRecorder)
    CustomerKeys(recorder.datastore, postgres=True, staged=recorder.staged)  # its tables
    yield recorder
    factory.close()


def events(originator: UUID, versions: range, topic: str = "t:E") -> list[StoredEvent]:
    return [StoredEvent(originator, v, topic, f"state {v} \\x00 ' \" {{}}".encode() + bytes([0, 255, v % 256]))
            for v in versions]


def receipt(message_id: str) -> Rows:
    return Rows(RECEIPTS, RECEIPT_COLUMNS, [(message_id, "d", "order_placed", "t:0:1", "2024-03-01T09:00:00+00:00")],
                pg_types=("text", "text", "text", "text", "timestamptz"))


def count(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_events_and_staged_rows_come_back_as_written_with_notification_ids_in_the_events_order(recorder, database_url):
    a, b = uuid4(), uuid4()
    written = [*events(a, range(1, 4)), *events(b, range(1, 3), topic="t:Other")]
    recorder.staged.add(receipt("m-0"))
    recorder.staged.add(Rows("customer_keys", ("subject", "customer_hash", "key"), [("s", "h", b"\x00\xffk")],
                             pg_types=("text", "text", "bytea")))
    ids = recorder.insert_events(written, tracking=Positions.of({"in:0": 5}))
    recorder.staged.clear()
    assert ids == sorted(ids) and len(ids) == 5
    ids += recorder.insert_events(events(a, range(4, 6)))
    assert recorder.select_events(a) == [*written[:3], *events(a, range(4, 6))]
    assert recorder.select_events(b) == written[3:]
    with psycopg.connect(database_url) as conn:
        assert conn.execute(f"SELECT message_id, recorded_at FROM {RECEIPTS}").fetchall() == [
            ("m-0", datetime(2024, 3, 1, 9, tzinfo=UTC))]
        assert conn.execute("SELECT subject, customer_hash, key FROM customer_keys").fetchall() == [
            ("s", "h", b"\x00\xffk")]
    notified = recorder.select_notifications(start=None, limit=10)
    assert [(n.id, n.originator_id, n.originator_version) for n in notified] == [
        (i, e.originator_id, e.originator_version) for i, e in zip(ids, [*written, *events(a, range(4, 6))], strict=True)]


def test_a_version_conflict_is_the_library_integrity_error_and_records_nothing(recorder, database_url):
    a = uuid4()
    recorder.insert_events(events(a, range(1, 3)), tracking=Positions.of({"in:0": 1, "in:1": 1}))
    recorder.staged.add(receipt("m-1"))
    with pytest.raises(IntegrityError):
        recorder.insert_events([*events(uuid4(), range(1, 2)), *events(a, range(2, 3))],
                               tracking=Positions.of({"in:0": 2, "in:1": 2}))
    recorder.staged.clear()
    assert count(database_url, recorder.events_table_name) == 2
    assert count(database_url, RECEIPTS) == 0
    assert (recorder.max_tracking_id("in:0"), recorder.max_tracking_id("in:1")) == (1, 1)


def test_a_position_that_does_not_move_forward_is_an_integrity_error_and_records_nothing(recorder, database_url):
    recorder.insert_events(events(uuid4(), range(1, 2)), tracking=Positions.of({"in:0": 7, "in:1": 3, "in:2": 1}))
    recorder.staged.add(receipt("m-2"))
    with pytest.raises(IntegrityError, match="in:1 3"):
        recorder.insert_events(events(uuid4(), range(1, 2)), tracking=Positions.of({"in:0": 8, "in:1": 3, "in:2": 2}))
    recorder.staged.clear()
    assert count(database_url, recorder.events_table_name) == 1
    assert count(database_url, RECEIPTS) == 0
    assert [recorder.max_tracking_id(f"in:{p}") for p in range(3)] == [7, 3, 1]
    recorder.insert_events(events(uuid4(), range(1, 2)), tracking=Positions.of({"in:0": 8, "in:1": 4, "in:2": 2}))
    assert [recorder.max_tracking_id(f"in:{p}") for p in range(3)] == [8, 4, 2]


def test_one_position_alone_is_recorded_and_checked_as_the_library_does(recorder):
    recorder.insert_events([], tracking=Tracking("in:0", 3))
    assert recorder.max_tracking_id("in:0") == 3
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(uuid4(), range(1, 2)), tracking=Tracking("in:0", 3))
