"""docs/analysts.md works as written: its commands export a store, and its script reads the files with
DuckDB as they are, computes lead times and the book at a past instant, and draws a chart."""

from __future__ import annotations

import re
import shlex
from decimal import Decimal
from pathlib import Path

from structlog.testing import capture_logs

from orderflow.application.orders import Orders
from orderflow.cli import main
from tests.strategies import CLERK, CUSTOMER, at, guest_payload
from tests.unit.test_read_models import realistic_history

DOC = Path(__file__).parents[2] / "docs/analysts.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_analysts_doc_exports_a_store_and_its_script_reads_it_as_written(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path}/shop.db"
    app = Orders(url)
    realistic_history(app)
    app.place_order("SF-G", guest_payload(), CUSTOMER, at(5))  # a guest order, shipped in 4 hours
    app.link_sales_document("SF-G", "Order", "SO-G", CLERK, at(65))
    app.release_sales_document("SF-G", Decimal("35.00"), CLERK, at(125))
    app.post_shipment("SF-G", [{"line_no": 1, "quantity": Decimal(2)}, {"line_no": 2, "quantity": Decimal(3)}],
                      CLERK, at(245), "SH-G")
    app.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORDERFLOW_DATABASE_URL", url)
    [commands] = _blocks("sh")
    with capture_logs():
        for command in commands.splitlines():
            assert main(shlex.split(command)[1:]) == 0, command
    capsys.readouterr()
    [script] = _blocks("python")
    exec(compile(script, str(DOC), "exec"), {"__name__": "analysts_doc"})
    out = capsys.readouterr().out
    assert "lead time Received -> Shipped: [('B2B Customer', 1, 5.0, 5.0), ('B2C - Not Registered', 1, 4.0, 4.0)]" in out
    assert "[('Received', 1, Decimal('35.00')), ('Reservation', 2, Decimal('65.00')), ('refused', 1, None)]" in out
    assert "book at 2024-03-01 11:00:00+00:00 :" in out and "customers: 2" in out
    assert (tmp_path / "lead_times.png").read_bytes().startswith(b"\x89PNG")
