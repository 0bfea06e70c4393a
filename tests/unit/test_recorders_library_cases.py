"""orderflow's own recorders pass the eventsourcing library's recorder test cases, as the library's own do.

The positions recorders replace the library's event insert and tracking insert (see
:mod:`orderflow.application.positions`); whatever the library promises an application, tracking or process
recorder (they are all three), they must keep: the cases the library runs against its own process recorders. The same cases run against the PostgreSQL recorder in
``tests/integration/test_recorders_library_cases_postgres.py``. The library's timing cases (``test_performance``,
``test_concurrent_throughput``) only print a speed: speed is measured in ``bench/``, so they are left out.
"""

from __future__ import annotations

import pytest
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
    tmpfile_uris,
)

from orderflow.application.positions import POPOPositionsRecorder, SQLitePositionsRecorder

NOT_HERE = pytest.mark.skip(reason="a timing, not a property: speed is measured in bench/")


def sqlite_recorder(db_uri: str = ":memory:", **datastore: object) -> SQLitePositionsRecorder:
    recorder = SQLitePositionsRecorder(SQLiteDatastore(db_uri, **datastore))
    recorder.create_table()
    return recorder


class TestSQLitePositionsRecorderAsApplicationRecorder(ApplicationRecorderTestCase):
    db_uri = ":memory:"

    def create_recorder(self) -> SQLitePositionsRecorder:
        return sqlite_recorder(self.db_uri, pool_size=100)

    def test_concurrent_no_conflicts(self) -> None:
        self.db_uri = next(tmpfile_uris())
        super().test_concurrent_no_conflicts()

    test_performance = NOT_HERE(ApplicationRecorderTestCase.test_performance)
    test_concurrent_throughput = NOT_HERE(ApplicationRecorderTestCase.test_concurrent_throughput)


class TestSQLitePositionsRecorderAsTrackingRecorder(TrackingRecorderTestCase):
    def create_recorder(self) -> SQLitePositionsRecorder:
        return sqlite_recorder()


class TestSQLitePositionsRecorderAsProcessRecorder(ProcessRecorderTestCase):
    def create_recorder(self) -> SQLitePositionsRecorder:
        return sqlite_recorder()

    test_performance = NOT_HERE(ProcessRecorderTestCase.test_performance)


class TestSQLitePositionsRecorderNotificationIdsDoNotInterleave(NonInterleavingNotificationIDsBaseCase):
    insert_num = 10_000

    def create_recorder(self) -> SQLitePositionsRecorder:
        return sqlite_recorder(next(tmpfile_uris()))


class TestPOPOPositionsRecorderAsApplicationRecorder(ApplicationRecorderTestCase):
    def create_recorder(self) -> POPOPositionsRecorder:
        return POPOPositionsRecorder()

    test_performance = NOT_HERE(ApplicationRecorderTestCase.test_performance)
    test_concurrent_throughput = NOT_HERE(ApplicationRecorderTestCase.test_concurrent_throughput)


class TestPOPOPositionsRecorderAsTrackingRecorder(TrackingRecorderTestCase):
    def create_recorder(self) -> POPOPositionsRecorder:
        return POPOPositionsRecorder()


class TestPOPOPositionsRecorderAsProcessRecorder(ProcessRecorderTestCase):
    def create_recorder(self) -> POPOPositionsRecorder:
        return POPOPositionsRecorder()

    test_performance = NOT_HERE(ProcessRecorderTestCase.test_performance)


class TestPOPOPositionsRecorderNotificationIdsDoNotInterleave(NonInterleavingNotificationIDsBaseCase):
    insert_num = 10_000

    def create_recorder(self) -> POPOPositionsRecorder:
        return POPOPositionsRecorder()
