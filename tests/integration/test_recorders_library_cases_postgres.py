"""orderflow's PostgreSQL recorder passes the eventsourcing library's recorder test cases, as the library's own does.

:class:`~orderflow.application.positions.PostgresPositionsRecorder` replaces the library's event insert (one
binary array per column) and its tracking insert (every position in one statement): the cases the library runs
against its ``PostgresProcessRecorder`` (application, tracking, process, notification ids that never interleave)
run here against it, built as the engine builds it (``eventsourcing_env``), each on a fresh database of the real
server. Timing cases only print a speed and are left out (speed is measured in ``bench/``); the SQLite and
in-memory recorders run the same cases in ``tests/unit/test_recorders_library_cases.py``.
"""

from __future__ import annotations

import pytest
from eventsourcing.postgres import PostgresFactory
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from orderflow.application.positions import PostgresPositionsRecorder
from orderflow.settings import eventsourcing_env

NOT_HERE = pytest.mark.skip(reason="a timing, not a property: speed is measured in bench/")


class OnAFreshDatabase:
    """Each test's recorder on a database of its own (the real server's), closed after the test."""

    @pytest.fixture(autouse=True)
    def _database(self, database_url: str) -> None:
        self.database_url = database_url
        self.factories: list[PostgresFactory] = []
        yield
        for factory in self.factories:
            factory.close()

    def create_recorder(self) -> PostgresPositionsRecorder:
        factory = PostgresFactory(Environment("orderflow", eventsourcing_env(self.database_url)))
        self.factories.append(factory)
        recorder = factory.process_recorder()
        assert isinstance(recorder, PostgresPositionsRecorder)
        return recorder


class TestPostgresPositionsRecorderAsApplicationRecorder(OnAFreshDatabase, ApplicationRecorderTestCase):
    test_performance = NOT_HERE(ApplicationRecorderTestCase.test_performance)
    test_concurrent_throughput = NOT_HERE(ApplicationRecorderTestCase.test_concurrent_throughput)


class TestPostgresPositionsRecorderAsTrackingRecorder(OnAFreshDatabase, TrackingRecorderTestCase):
    pass


class TestPostgresPositionsRecorderAsProcessRecorder(OnAFreshDatabase, ProcessRecorderTestCase):
    test_performance = NOT_HERE(ProcessRecorderTestCase.test_performance)


class TestPostgresPositionsRecorderNotificationIdsDoNotInterleave(OnAFreshDatabase,
                                                                   NonInterleavingNotificationIDsBaseCase):
    insert_num = 100
