"""Configuration comes from the environment, with defaults that work on a laptop."""

import os
import subprocess
import sys

import pytest

from orderflow.settings import BadSetting, Settings, eventsourcing_env


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
    with pytest.raises(ValueError, match="unsupported scheme .mysql.: use sqlite:///FILE, postgresql://"):
        eventsourcing_env("mysql://x")


def test_a_bad_value_is_one_line_naming_the_variable_and_the_problem():
    with pytest.raises(BadSetting) as raised:
        Settings.from_env({"ORDERFLOW_BATCH_SIZE": "abc"})
    assert str(raised.value) == "ORDERFLOW_BATCH_SIZE='abc': Input should be a valid integer, unable to parse string as an integer"


def test_a_bad_secret_is_named_without_its_value():
    with pytest.raises(BadSetting) as raised:
        Settings.from_env({"ORDERFLOW_KAFKA_SASL_PASSWORD_FILE": "/no/such/file"})
    assert "ORDERFLOW_KAFKA_SASL_PASSWORD_FILE" in str(raised.value) and "\n" not in str(raised.value)


def test_any_orderflow_command_with_a_bad_setting_prints_one_line_and_exits_with_2():
    env = {**os.environ, "ORDERFLOW_BATCH_SIZE": "abc"}
    for command in (["orders"], ["run"], ["simulate", "--count", "1"]):
        done = subprocess.run([sys.executable, "-m", "orderflow.cli", *command], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            f"orderflow {command[0]}: ORDERFLOW_BATCH_SIZE='abc': Input should be a valid integer, "
            "unable to parse string as an integer"]


def test_topic_creation_partitions_and_replication_are_settings():
    settings = Settings.from_env({"ORDERFLOW_CREATE_TOPICS": "false", "ORDERFLOW_TOPIC_PARTITIONS": "12",
                                  "ORDERFLOW_TOPIC_REPLICATION_FACTOR": "3"})
    assert (settings.create_topics, settings.topic_partitions, settings.topic_replication_factor) == (False, 12, 3)
    assert Settings.from_env({}).create_topics is True



def test_where_names_the_same_database_kafka_group_and_topics_as_variables():
    settings = Settings.from_env({"ORDERFLOW_DATABASE_URL": "postgresql://u:p@db/x", "ORDERFLOW_CONSUMER_GROUP": "g",
                                  "ORDERFLOW_TOPIC_ERP": "erp-2", "ORDERFLOW_KAFKA_BOOTSTRAP": "k:9093"})
    again = Settings.from_env(settings.where())
    assert (again.database_url, again.kafka_bootstrap, again.consumer_group, again.topics) == (
        settings.database_url, settings.kafka_bootstrap, settings.consumer_group, settings.topics)
    assert again.topics.erp == "erp-2"
