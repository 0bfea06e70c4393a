"""Credentials come from the environment or files and are never printed."""

from __future__ import annotations

import logging

import pytest
import structlog

from orderflow.cli import main
from orderflow.settings import Settings, redact_secrets, redact_url


@pytest.fixture(autouse=True)
def restore_logging():
    """``main`` configures logging onto this test's captured stderr: undo that afterwards."""
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def test_a_database_url_is_shown_without_its_user_and_password():
    assert redact_url("postgresql://app:s%40cret@db:5432/orders?sslmode=require") == "postgresql://***@db:5432/orders?sslmode=require"
    assert redact_url("sqlite:///var/x.db") == "sqlite:///var/x.db"


SASL = {"ORDERFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "ORDERFLOW_KAFKA_SASL_MECHANISM": "PLAIN",
        "ORDERFLOW_KAFKA_SASL_USERNAME": "alice"}


def test_secrets_in_an_error_text_are_replaced():
    settings = Settings.from_env({"ORDERFLOW_DATABASE_URL": "postgresql://app:s%40cret@db/orders",
                                  "ORDERFLOW_KAFKA_SASL_PASSWORD": "kafka-pw", **SASL})
    text = "failed: postgresql://app:s%40cret@db/orders (password s@cret), sasl kafka-pw"
    assert redact_secrets(text, settings) == "failed: postgresql://***@db/orders (password ***), sasl ***"


def test_secrets_can_come_from_files_and_settings_never_print_them(tmp_path):
    (tmp_path / "db").write_text("postgresql://app:pw-from-file@db/orders\n")
    (tmp_path / "sasl").write_text("sasl-from-file\n")
    settings = Settings.from_env({"ORDERFLOW_DATABASE_URL_FILE": str(tmp_path / "db"),
                                  "ORDERFLOW_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "sasl"), **SASL})
    assert settings.database_url == "postgresql://app:pw-from-file@db/orders"
    assert settings.kafka_security.sasl_password == "sasl-from-file"
    assert "pw-from-file" not in repr(settings) and "sasl-from-file" not in repr(settings)


def test_a_database_that_refuses_the_connection_is_reported_without_the_password(monkeypatch, capsys):
    monkeypatch.setenv("ORDERFLOW_DATABASE_URL", "postgresql://app:hunter22@127.0.0.1:1/orders?connect_timeout=1")
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "1")
    assert main(["orders"]) == 2
    err = capsys.readouterr().err
    assert "hunter22" not in err and "postgresql://***@127.0.0.1:1/orders" in err
