"""Fixtures running real PostgreSQL and Kafka servers; every test here is marked ``integration``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from devservices.kafka_broker import KafkaBroker
from devservices.postgres_server import PostgresServer

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """A PostgreSQL server shared by the whole test session."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def kafka_broker() -> KafkaBroker:
    """A Kafka broker shared by the whole test session."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """URL of a fresh, empty database created for this test."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")
