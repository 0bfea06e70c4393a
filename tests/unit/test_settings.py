"""Configuration comes from the environment, with defaults that work on a laptop."""

import pytest

from orderflow.settings import Settings, eventsourcing_env


def test_with_nothing_set_the_event_store_is_an_embedded_sqlite_file():
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.kafka_bootstrap == "localhost:9092"


def test_environment_variables_override_the_defaults():
    settings = Settings.from_env({"ORDERFLOW_KAFKA_BOOTSTRAP": "k:1", "ORDERFLOW_TOPIC_ERP": "erp", "ORDERFLOW_BATCH_SIZE": "7"})
    assert (settings.kafka_bootstrap, settings.topics.erp, settings.batch_size) == ("k:1", "erp", 7)


def test_a_postgresql_url_selects_the_postgres_event_store():
    env = eventsourcing_env("postgresql://app:s%40cret@db.local:6543/orders")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == ("db.local", "6543", "orders")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("app", "s@cret")


def test_a_sqlite_url_names_a_file_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = eventsourcing_env("sqlite:///var/x.db")
    assert env["SQLITE_DBNAME"] == str(tmp_path / "var" / "x.db")


def test_an_unsupported_database_url_is_refused_with_what_is_supported():
    with pytest.raises(ValueError, match="use sqlite:///, postgresql:// or memory:"):
        eventsourcing_env("mysql://x")
