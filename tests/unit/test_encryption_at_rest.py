"""Event payloads are encrypted at rest with a key from the environment, and keys rotate."""

from __future__ import annotations

import sqlite3
from uuid import UUID

import pytest
from eventsourcing.utils import Environment

from orderflow.aggregates.web_order import WebOrder
from orderflow.application.ciphers import RotatingAESCipher, new_key
from orderflow.application.orders import Orders
from orderflow.consumers.handlers import apply
from orderflow.settings import Settings
from tests.messages import KEY, envelope

KEY_A, KEY_B = new_key(), new_key()


def place(app: Orders, key: str = KEY, minutes: int = 0) -> None:
    apply(app, envelope("order_placed", minutes, key=key))


def stored_states(path) -> list[bytes]:
    with sqlite3.connect(path) as con:
        return [row[0] for row in con.execute("SELECT state FROM stored_events")]


def test_without_a_key_events_are_stored_readable_but_for_their_personal_fields(tmp_path):
    app = Orders(f"sqlite:///{tmp_path}/plain.db")
    place(app)
    assert app.mapper.cipher is None
    states = stored_states(tmp_path / "plain.db")
    assert any(b"ITEM-1000" in state for state in states)
    assert not any(b"Storgatan" in state or b"anna.lind@" in state for state in states)  # under the customer's key


def test_with_a_key_no_stored_event_holds_a_readable_payload(tmp_path):
    app = Orders(f"sqlite:///{tmp_path}/enc.db", cipher_keys=(KEY_A,))
    place(app)
    states = stored_states(tmp_path / "enc.db")
    assert states and not any(b"Storgatan" in s or b"ITEM-1000" in s or b"order_date" in s for s in states)
    assert app.get_order(KEY).web_order_no


def test_events_written_under_an_old_key_are_read_after_a_new_key_is_added_and_new_ones_use_the_new_key(tmp_path):
    url = f"sqlite:///{tmp_path}/rotate.db"
    place(Orders(url, cipher_keys=(KEY_A,)), key="SF-A")
    rotated = Orders(url, cipher_keys=(KEY_B, KEY_A))
    place(rotated, key="SF-B", minutes=1)
    assert rotated.get_order("SF-A").web_order_no and rotated.get_order("SF-B").web_order_no
    assert rotated.get_order("SF-A").draft.shipping.address == "Storgatan 4"  # the customer's key, wrapped under A
    only_b = RotatingAESCipher(Environment(env={"CIPHER_KEY": KEY_B}))
    with sqlite3.connect(tmp_path / "rotate.db") as con:
        rows = con.execute("SELECT originator_id, state FROM stored_events").fetchall()
    readable = {UUID(originator) for originator, state in rows if _opens(only_b, state)}
    assert WebOrder.create_id("SF-B") in readable and WebOrder.create_id("SF-A") not in readable


def _opens(cipher: RotatingAESCipher, state: bytes) -> bool:
    try:
        cipher.decrypt(state)
    except ValueError:
        return False
    return True


def test_keys_come_from_the_environment_newest_first_and_are_never_printed(tmp_path):
    old_file = tmp_path / "old-keys"
    old_file.write_text(f"{KEY_A}\n")
    settings = Settings.from_env({"ORDERFLOW_CIPHER_KEY": KEY_B, "ORDERFLOW_CIPHER_OLD_KEYS_FILE": str(old_file)})
    assert settings.cipher_keys == (KEY_B, KEY_A)
    assert KEY_A not in repr(settings) and KEY_B not in repr(settings)


def test_a_key_that_is_not_base64_of_a_valid_size_is_refused_without_quoting_it():
    with pytest.raises(ValueError, match="16, 24 or 32 bytes") as refused:
        Orders("memory:", cipher_keys=("c2hvcnQ=",))
    assert "c2hvcnQ=" not in str(refused.value)
