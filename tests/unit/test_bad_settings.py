"""Every setting docs/operations.md lists refuses a bad value with one line naming it, and exit code 2, in every command."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orderflow.cli import main
from orderflow.settings import BadSetting, Settings, variables

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
MISSING = "/no/such/file"

BAD = {
    "ORDERFLOW_DATABASE_URL": "nonsense://",
    "ORDERFLOW_DATABASE_URL_FILE": MISSING,
    "ORDERFLOW_KAFKA_BOOTSTRAP": "localhost:notaport",
    "ORDERFLOW_CONSUMER_GROUP": "my group",
    "ORDERFLOW_TOPIC_STOREFRONT": "store front!",
    "ORDERFLOW_TOPIC_ERP": "erp/v1",
    "ORDERFLOW_TOPIC_STOREFRONT_SYNC": "x" * 250,
    "ORDERFLOW_TOPIC_NOTIFICATIONS": "..",
    "ORDERFLOW_TOPIC_DEAD_LETTERS": "dead letters",
    "ORDERFLOW_CREATE_TOPICS": "maybe",
    "ORDERFLOW_TOPIC_PARTITIONS": "0",
    "ORDERFLOW_TOPIC_REPLICATION_FACTOR": "three",
    "ORDERFLOW_BATCH_SIZE": "abc",
    "ORDERFLOW_SESSION_TIMEOUT_MS": "0",
    "ORDERFLOW_MERGE_GRACE_MS": "-1",
    "ORDERFLOW_MAX_IDLE_MS": "1.5",
    "ORDERFLOW_FOLLOWERS_NICE": "20",
    "ORDERFLOW_PARK_DEADLINE_SECONDS": "-5",
    "ORDERFLOW_ORDER_URL_TEMPLATE": "https://shop.example/{order}",
    "ORDERFLOW_SCHEMA_DIR": "/no/such/dir",
    "ORDERFLOW_LOG_FORMAT": "xml",
    "ORDERFLOW_CIPHER_KEY": "not a key",
    "ORDERFLOW_CIPHER_KEY_FILE": MISSING,
    "ORDERFLOW_CIPHER_OLD_KEYS": "c2hvcnQ=",  # base64 of 5 bytes
    "ORDERFLOW_CIPHER_OLD_KEYS_FILE": MISSING,
    "ORDERFLOW_KAFKA_SECURITY_PROTOCOL": "TLS",
    "ORDERFLOW_KAFKA_SASL_MECHANISM": "GSSAPI",
    "ORDERFLOW_KAFKA_SASL_USERNAME": "alice",  # without a SASL protocol: it would be ignored
    "ORDERFLOW_KAFKA_SASL_USERNAME_FILE": MISSING,
    "ORDERFLOW_KAFKA_SASL_PASSWORD": "secret-pw",
    "ORDERFLOW_KAFKA_SASL_PASSWORD_FILE": MISSING,
    "ORDERFLOW_KAFKA_SSL_CAFILE": MISSING,
    "ORDERFLOW_KAFKA_SSL_CERTFILE": MISSING,
    "ORDERFLOW_KAFKA_SSL_KEYFILE": MISSING,
    "ORDERFLOW_KAFKA_SSL_PASSWORD": "secret-pw",  # without TLS: it would be ignored
    "ORDERFLOW_KAFKA_SSL_PASSWORD_FILE": MISSING,
    "ORDERFLOW_KAFKA_SSL_CHECK_HOSTNAME": "sometimes",
    "ORDERFLOW_BACKOFF_MAX_SECONDS": "0",
    "ORDERFLOW_SEND_TIMEOUT_SECONDS": "inf",
    "ORDERFLOW_STARTUP_TIMEOUT_SECONDS": "-1",
    "ORDERFLOW_MAX_FAILURES": "0",
    "ORDERFLOW_FAILURE_WINDOW_SECONDS": "nan",
    "ORDERFLOW_METRICS_PORT": "70000",
    "ORDERFLOW_METRICS_ADDRESS": "not an address",
    "ORDERFLOW_LIVE_TIMEOUT_SECONDS": "0",
    "ORDERFLOW_READY_MAX_LAG": "-1",
    "ORDERFLOW_USER": "anna\tops",
    "ORDERFLOW_CONSOLE_ADDRESS": "not an address",
    "ORDERFLOW_CONSOLE_PORT": "70000",
    "ORDERFLOW_CONSOLE_USERS": '{"ann": {"password_hash": "secret-pw", "roles": ["Sales"]}}',  # a password, not a hash
    "ORDERFLOW_CONSOLE_USERS_FILE": MISSING,
    "ORDERFLOW_CONSOLE_SESSION_SECRET": "secret-pw",  # too short
    "ORDERFLOW_CONSOLE_SESSION_SECRET_FILE": MISSING,
    "ORDERFLOW_CONSOLE_SESSION_MAX_AGE_SECONDS": "30",
    "ORDERFLOW_CONSOLE_TRUSTED_HEADER": "X-User: admin",
    "ORDERFLOW_CONSOLE_PERSONAL_ROLES": "Admin,Sales\tManager",
    "ORDERFLOW_CONSOLE_ACTION_TIMEOUT_SECONDS": "0",
    "ORDERFLOW_CONSOLE_SIGNIN_ATTEMPTS_PER_MINUTE": "0",
}
"""A value each variable cannot take, whatever the command."""

READ_COMMANDS = (["orders"], ["errors"], ["parked"], ["summary"], ["history", "SF-1"], ["diff", "SF-1", "1", "2"],
                 ["export", "--format", "jsonl", "--out", "out"], ["report", "--out", "report.html"],
                 ["projections", "status"])
SECRET_VALUES = ("secret-pw", "not a key", "c2hvcnQ=")


def listed_in_the_docs() -> list[str]:
    return re.findall(r"^\| `(ORDERFLOW_[A-Z_]+)` \|", DOC, re.M)


def clean_environ() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.upper().startswith("ORDERFLOW_")}


def test_every_variable_the_docs_list_has_a_bad_value_here():
    assert listed_in_the_docs() == list(variables()) == list(BAD)


def assert_refused(variable: str, command: str, returncode: int, stderr: str) -> None:
    lines = stderr.splitlines()
    assert returncode == 2 and len(lines) == 1, f"{variable}: exit {returncode}, stderr:\n{stderr}"
    assert lines[0].startswith(f"orderflow {command}: {variable}"), lines[0]
    assert "Traceback" not in stderr and not any(secret in stderr for secret in SECRET_VALUES), lines[0]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_a_read_command_refuses_every_variable_s_bad_value_with_one_line_and_exit_2(command, monkeypatch, capsys,
                                                                                     tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith("ORDERFLOW_"):
            monkeypatch.delenv(name)
    for variable, value in BAD.items():
        monkeypatch.setenv(variable, value)
        returncode = main(command)
        monkeypatch.delenv(variable)
        assert_refused(variable, command[0], returncode, capsys.readouterr().err)


def test_orderflow_run_refuses_every_bad_value_and_every_unavailable_resource_before_it_connects(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    # Nothing listens on port 9 (discard): a check that let a value through would fail to start, not connect.
    base = {**clean_environ(), "ORDERFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:9", "ORDERFLOW_STARTUP_TIMEOUT_SECONDS": "1"}
    cases = [(variable, {variable: value}) for variable, value in BAD.items()] + [
        ("ORDERFLOW_METRICS_PORT", {"ORDERFLOW_METRICS_PORT": str(taken.getsockname()[1]),
                                    "ORDERFLOW_METRICS_ADDRESS": "127.0.0.1"}),  # a second engine on this host
        ("ORDERFLOW_METRICS_ADDRESS", {"ORDERFLOW_METRICS_PORT": "0", "ORDERFLOW_METRICS_ADDRESS": "no-such-host.invalid"}),
    ]

    def run(case: tuple[str, dict[str, str]]) -> tuple[str, subprocess.CompletedProcess]:
        variable, env = case
        return variable, subprocess.run([sys.executable, "-m", "orderflow.cli", "run"], env={**base, **env},
                                        cwd=tmp_path, capture_output=True, text=True, timeout=120)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            done = list(pool.map(run, cases))
    finally:
        taken.close()
    for variable, finished in done:
        assert_refused(variable, "run", finished.returncode, finished.stderr)
    port_in_use = done[-2][1].stderr
    assert "Address already in use" in port_in_use, port_in_use


def test_a_database_url_from_a_file_is_checked_and_named_by_the_file_variable(tmp_path):
    (tmp_path / "url").write_text("nonsense://user:hunter2@db/x\n")
    with pytest.raises(BadSetting) as raised:
        Settings.from_env({"ORDERFLOW_DATABASE_URL_FILE": str(tmp_path / "url")})
    assert str(raised.value).startswith("ORDERFLOW_DATABASE_URL_FILE: unsupported scheme 'nonsense'")
    assert "hunter2" not in str(raised.value)


def test_a_postgresql_url_with_a_port_that_is_not_a_number_is_refused_without_its_password():
    with pytest.raises(BadSetting) as raised:
        Settings.from_env({"ORDERFLOW_DATABASE_URL": "postgresql://u:hunter2@db:port/x"})
    assert str(raised.value).startswith("ORDERFLOW_DATABASE_URL: ") and "hunter2" not in str(raised.value)


def test_good_values_still_pass(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    settings = Settings.from_env({
        "ORDERFLOW_KAFKA_BOOTSTRAP": "k1:9092,[::1]:9093,10.0.0.5:9094", "ORDERFLOW_CONSUMER_GROUP": "orderflow-eu.1",
        "ORDERFLOW_KAFKA_SECURITY_PROTOCOL": "SSL", "ORDERFLOW_KAFKA_SSL_CAFILE": str(ca),
        "ORDERFLOW_METRICS_ADDRESS": "::", "ORDERFLOW_ORDER_URL_TEMPLATE": "https://x/{web_order_no}?r={{raw}}",
    })
    assert settings.kafka_security.ssl_cafile == str(ca) and settings.metrics_address == "::"
