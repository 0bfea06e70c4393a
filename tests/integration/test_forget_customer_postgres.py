"""Forgetting a customer end to end on PostgreSQL: orders placed through the pipeline, forgotten with
``orderflow forget``, read models rebuilt with ``orderflow projections rebuild``; then neither the event
store, nor any read model, nor an export, nor a history replay holds the customer's personal data, and
the order history (numbers, amounts, lines, statuses, times) is all there."""

from __future__ import annotations

import copy
import logging
from datetime import timedelta

import psycopg
import pytest
import structlog
from kafka import TopicPartition

from orderflow.application.ciphers import new_key
from orderflow.application.shredding import FORGOTTEN
from orderflow.bootstrap import bootstrap
from orderflow.cli import main
from orderflow.consumers.pipeline import Pipeline
from orderflow.settings import Settings
from tests.messages import EXAMPLES, T0, envelope
from tests.unit.test_pipeline import CONTRACT, PARTITIONS, TOPICS, as_records


@pytest.fixture(autouse=True)
def restore_logging():
    """``main`` configures logging onto this test's captured stderr: undo that afterwards."""
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


ANNA = {"name": "Annaforget Lindqvist", "email": "annaforget@example.com", "phone": "+46 70 555 01 02",
        "address": "Forgetgatan 7", "ssn": "19800101-5555", "comment": "ring Annaforget after 5"}
PERSONAL = [v for v in ANNA.values()] + ["Annaforget"]


def placed(account: str, who: dict[str, str]) -> dict:
    payload = copy.deepcopy(EXAMPLES["order_placed"])
    payload.update(sell_to_customer_name=who["name"], email=who["email"], phone=who["phone"],
                   customer_comment=who["comment"])
    payload["shipping"] = {**payload["shipping"], "name": who["name"], "address": who["address"]}
    payload["b2c_customer"] = {"web_account_no": account, "name": who["name"], "email": who["email"],
                               "phone": who["phone"], "ssn_reg_no": who["ssn"]}
    payload["actor"] = {**payload["actor"], "user_no": account, "person_name": who["name"]}
    return payload


def traffic() -> list:
    bo = {"name": "Bo Berg", "email": "bo@example.com", "phone": "+46 70 1", "address": "Bogatan 1",
          "ssn": "19700101-1111", "comment": "leave at the door"}
    anna_actor = placed("WA-ANNA", ANNA)["actor"]
    return [
        envelope("order_placed", 0, key="SF-ANNA-1", payload=placed("WA-ANNA", ANNA)),
        envelope("order_placed", 1, key="SF-BO-1", payload=placed("WA-BO", bo)),
        envelope("customer_comment", 2, key="SF-ANNA-1", payload={"actor": anna_actor, "text": ANNA["comment"]}),
        envelope("sales_document_created", 3, key="SF-ANNA-1"),
        envelope("order_placed", 4, key="SF-ANNA-2", payload=placed("WA-ANNA", ANNA)),
    ]


def run_pipeline(app, messages) -> None:
    pipeline = Pipeline(app, CONTRACT, TOPICS, 500, grace=timedelta(0), max_idle=timedelta(hours=1),
                        park_deadline=timedelta(hours=1), clock=lambda: T0)
    log = as_records(messages)
    pipeline.assign([TopicPartition(t, p) for t in TOPICS.inbound for p in range(PARTITIONS)], PARTITIONS, now=0.0)
    rejected = []
    for tp, records in log.items():
        pipeline.add({tp: records}, now=0.0)
    while pipeline.step(lambda tp: True, 0.0, rejected.extend):
        pass
    assert rejected == []


def every_value(database_url: str) -> list[str]:
    """Every value of every table in the database, as text (bytes decoded leniently)."""
    found = []
    with psycopg.connect(database_url) as con:
        tables = [r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value).decode("utf-8", errors="replace")
                    found.append(str(value))
    return found


@pytest.mark.parametrize("cipher", [False, True], ids=["personal-fields-only", "and-at-rest-cipher"])
def test_a_forgotten_customer_leaves_the_order_history_without_personal_data(database_url, monkeypatch, tmp_path,
                                                                              capsys, cipher):
    monkeypatch.setenv("ORDERFLOW_DATABASE_URL", database_url)
    if cipher:
        monkeypatch.setenv("ORDERFLOW_CIPHER_KEY", new_key())
    engine = bootstrap(Settings.from_env())
    run_pipeline(engine.app, traffic())
    engine.projections.catch_up()
    before = engine.db.query("SELECT web_order_no, current_total, workflow_status FROM web_orders ORDER BY 1")
    engine.close()
    assert any(ANNA["name"] in value for value in every_value(database_url))  # live read models hold it until...

    assert main(["forget", "WA-ANNA", "--requested-by", "U-DPO"]) == 0
    assert "2 order(s)" in capsys.readouterr().out
    assert main(["projections", "rebuild"]) == 0
    values = every_value(database_url)
    assert not [v for v in values if any(p in v for p in PERSONAL)], "no table holds Anna's personal data"
    assert any("Bo Berg" in v for v in values), "another customer's data is untouched"

    engine = bootstrap(Settings.from_env())
    try:
        assert engine.db.query("SELECT web_order_no, current_total, workflow_status FROM web_orders ORDER BY 1") == before
        anna = engine.db.query("SELECT sell_to_customer_name FROM web_orders WHERE storefront_reference = 'SF-ANNA-1'")
        assert anna == [(FORGOTTEN,)]
        log = engine.db.query("SELECT event_name, comment, person_name FROM event_log "
                              "WHERE storefront_reference = 'SF-ANNA-1' ORDER BY event_version")
        assert [row[0] for row in log] == ["Placed", "CommentAdded", "LinkedToSalesDocument"]
        assert log[1][1:] == (FORGOTTEN, FORGOTTEN)
    finally:
        engine.close()

    assert main(["history", "SF-ANNA-1", "--json"]) == 0
    history = capsys.readouterr().out
    assert not any(p in history for p in PERSONAL) and FORGOTTEN in history and "ITEM-1000" in history
    assert main(["export", "--format", "jsonl", "--all-events", "--include-personal", "--user", "U-DPO",
                 "--out", str(tmp_path / "export")]) == 0
    capsys.readouterr()
    exported = "".join(p.read_text() for p in (tmp_path / "export").iterdir())
    assert not any(p in exported for p in PERSONAL)
    assert "CustomerForgotten" in exported and "U-DPO" in exported
    assert "Bo Berg" in exported
