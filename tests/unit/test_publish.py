"""``orderflow publish``: a file of messages is checked line by line before anything is published."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import pytest

from orderflow.cli.traffic import register
from orderflow.contract.envelope import JSON
from orderflow.contract.schemas import Contract
from orderflow.settings import Settings
from orderflow.traffic.publish import BadMessages, read_messages
from tests.messages import EXAMPLES, KEY

SETTINGS = Settings()
CONTRACT = Contract(SETTINGS.schema_dir)
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def write(tmp_path, *lines):
    path = tmp_path / "messages.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def message(message_type, **extra):
    return {"key": KEY, "message_type": message_type, "payload": EXAMPLES[message_type], **extra}


def read(path):
    return read_messages(path, CONTRACT, SETTINGS.topics, now=lambda: NOW)


def test_each_message_goes_to_the_topic_of_its_type_in_file_order(tmp_path):
    path = write(tmp_path, message("order_placed"), message("sales_document_created"), message("customer_comment"))
    topics = [(topic, envelope.message_type) for topic, envelope in read(path)]
    assert topics == [
        (SETTINGS.topics.storefront, "order_placed"),
        (SETTINGS.topics.erp, "sales_document_created"),
        (SETTINGS.topics.storefront, "customer_comment"),
    ]


def test_optional_fields_are_taken_from_the_line_when_given(tmp_path):
    path = write(tmp_path, message("customer_comment", message_id="m-1", occurred_at="2026-11-03T08:30:00Z", content_type=JSON))
    [(_, envelope)] = read(path)
    assert (envelope.message_id, envelope.occurred_at, envelope.content_type) == (
        "m-1", datetime(2026, 11, 3, 8, 30, tzinfo=UTC), JSON,
    )


def test_missing_optional_fields_get_a_new_message_id_and_the_current_time(tmp_path):
    [(_, first), (_, second)] = read(write(tmp_path, message("customer_comment"), message("customer_comment")))
    assert first.occurred_at == NOW
    assert first.message_id != second.message_id


def test_every_bad_line_is_reported_with_its_number(tmp_path):
    bad_payload = {**EXAMPLES["sales_document_released"], "total": 847.99}
    path = write(
        tmp_path,
        message("order_placed"),
        "{not json",
        {"key": KEY, "message_type": "sales_document_released", "payload": bad_payload},
        {"key": KEY, "message_type": "order_exploded", "payload": {}},
        {"message_type": "customer_comment", "payload": EXAMPLES["customer_comment"]},
    )
    with pytest.raises(BadMessages) as raised:
        read(path)
    problems = raised.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4", "line 5"]
    assert "/total: must be of type string" in problems[1]
    assert "unknown message type 'order_exploded'" in problems[2]
    assert "missing fields ['key']" in problems[3]


def test_blank_lines_are_skipped(tmp_path):
    assert len(read(write(tmp_path, message("order_placed"), "", message("customer_comment")))) == 2


def test_the_cli_gets_a_publish_command_taking_a_file():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["publish", "messages.jsonl"])
    assert (args.command, str(args.file), callable(args.func)) == ("publish", "messages.jsonl", True)


def test_a_file_with_a_bad_line_publishes_nothing(tmp_path):
    from orderflow.traffic.publish import publish_file

    unreachable = Settings(kafka_bootstrap="127.0.0.1:1")  # reaching Kafka would fail differently
    with pytest.raises(BadMessages, match="line 2"):
        publish_file(unreachable, write(tmp_path, message("order_placed"), "[]"))
