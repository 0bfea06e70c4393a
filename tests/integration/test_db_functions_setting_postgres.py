"""``POSTGRES_ENABLE_DB_FUNCTIONS`` in the engine's environment changes nothing orderflow records.

With it the library's PostgreSQL recorder inserts events through a database function and never calls the
recorder's own insert, which also writes the consumer's positions, the message receipts and new customers'
keys: those were silently lost. The engine's recorder never takes that path, whatever the environment says
(plain or with the application's prefix).
"""

from __future__ import annotations

import psycopg
import pytest

from orderflow.application.orders import Orders
from orderflow.application.positions import Positions
from tests.strategies import CUSTOMER, at, guest_payload


@pytest.mark.parametrize("variable", ["POSTGRES_ENABLE_DB_FUNCTIONS", "ORDERFLOW_POSTGRES_ENABLE_DB_FUNCTIONS"])
def test_positions_receipts_and_customer_keys_are_written_even_with_db_functions_enabled(
    database_url, monkeypatch, variable
):
    monkeypatch.setenv(variable, "y")
    app = Orders(database_url)
    try:
        with app.batch(Positions.of({"storefront:0": 7, "erp:0": 3})):
            app.place_order("SF-1", guest_payload(), CUSTOMER, at(1))
            app.receipt("m-1", "order_placed", "digest", "storefront:0:7", at(1))
        assert (app.position("storefront:0"), app.position("erp:0")) == (7, 3)
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT message_id FROM message_receipts").fetchall() == [("m-1",)]
            assert conn.execute("SELECT count(*) FROM customer_keys").fetchone()[0] >= 1
        assert app.get_order("SF-1").storefront_reference == "SF-1"
    finally:
        app.close()
