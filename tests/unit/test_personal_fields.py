"""Personal fields are declared once, in the schemas, and the log filter knows them."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from orderflow import logs
from orderflow.contract.personal import MASK, personal_fields, redact_text


def test_the_schemas_mark_names_e_mail_addresses_phones_addresses_registration_numbers_and_comments():
    fields = personal_fields()
    for path in ("/email", "/phone", "/sell_to_customer_name", "/sell_to_contact", "/customer_comment",
                 "/b2c_customer/name", "/b2c_customer/email", "/b2c_customer/ssn_reg_no", "/shipping/address",
                 "/shipping/post_code", "/actor/person_name"):
        assert fields.is_personal("order_placed", path), path
    assert fields.is_personal("customer_comment", "/text")
    assert fields.is_personal("approval_set", "/comment")


def test_the_notification_recipients_name_and_e_mail_address_are_personal():
    fields = personal_fields()
    assert fields.is_personal("notification", "/recipient/name") and fields.is_personal("notification", "/recipient/email")
    assert not fields.is_personal("notification", "/recipient/customer_no")


def test_amounts_lines_numbers_and_statuses_are_not_personal():
    fields = personal_fields()
    for path in ("/lines/0/description", "/lines/3/unit_price", "/order_date", "/b2c_customer/web_account_no",
                 "/sell_to_customer_no", "/shipping/country_region_code", "/actor/user_no"):
        assert not fields.is_personal("order_placed", path), path
    assert not fields.is_personal("workflow_status_changed", "/status")


def test_an_e_mail_address_anywhere_in_a_text_is_masked():
    assert redact_text("order anna@example.com not seen; bob@x.org too") == f"order {MASK} not seen; {MASK} too"
    assert redact_text("no address here") == "no address here"


@pytest.fixture
def rendered(monkeypatch):
    """Configure logging as ``orderflow run`` does, into a buffer."""
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    logs.configure("json")
    yield buffer
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def test_a_logged_personal_key_or_e_mail_value_is_masked_in_the_rendered_line(rendered):
    structlog.get_logger("t").warning("placed", order="anna@example.com", person_name="Anna Lind",
                                      payload={"shipping": {"address": "Storgatan 4", "country_region_code": "SE"}})
    line = json.loads(rendered.getvalue().splitlines()[-1])
    assert line["order"] == MASK and line["person_name"] == MASK
    assert line["payload"] == {"shipping": {"address": MASK, "country_region_code": "SE"}}


def test_library_log_records_pass_the_same_mask(rendered):
    logging.getLogger("kafka.conn").warning("connection to %s closed", "anna@example.com")
    try:
        raise KeyError("bob@example.com")
    except KeyError:
        logging.getLogger("kafka.consumer").exception("fetch failed")
    text = rendered.getvalue()
    assert "anna@example.com" not in text and "bob@example.com" not in text
    assert "connection to <personal> closed" in text
