"""The analyst's sub-commands on a SQLite store: history as of a time, diffs, exports, reports, rebuilds."""

from __future__ import annotations

import argparse
import json
import sys

import pytest
from structlog.testing import capture_logs

from orderflow.application.orders import Orders
from orderflow.cli import analyst, main, projections, repairs, views
from orderflow.contract.envelope import format_time
from orderflow.projections.catalog import all_views
from orderflow.settings import Settings
from tests.strategies import at
from tests.unit.test_read_models import realistic_history


@pytest.fixture
def settings(tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    app = Orders(url)
    realistic_history(app)
    app.close()
    return Settings(database_url=url)


def run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="orderflow")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (analyst, projections, views, repairs):
        group.register(commands)
    args = parser.parse_args(argv)
    with capture_logs():  # the CLI logs to stderr; keep stdout to the command's output
        return args.func(settings, args)


def test_history_shows_the_order_as_it_stood_at_the_instant_asked(settings, capsys):
    assert run(settings, "history", "SF-1", "--as-of", format_time(at(100)), "--json") == 0
    order = json.loads(capsys.readouterr().out)
    assert (order["workflow_status"], order["current_version"], order["approval"]["state"]) == ("Reservation", 2, "Pending")
    assert [e["event_type"] for e in order["event_log"]] == [
        "Order Placed", "Workflow Status Change", "Update from Sales Doc.", "Approval Status Change"
    ]


def test_history_finds_an_order_by_its_web_order_no_and_shows_it_now_without_as_of(settings, capsys):
    assert run(settings, "history", "WO0000000001") == 0
    out = capsys.readouterr().out
    assert "workflow_status: Shipped" in out and "Event log" in out and "Shipment SH-2 posted" in out


def test_history_before_the_order_was_placed_says_so(settings, capsys):
    assert run(settings, "history", "SF-1", "--as-of", "2024-02-01T00:00:00Z") == 2
    assert "did not exist yet" in capsys.readouterr().err


def test_diff_lists_each_changed_field_and_each_removed_line(settings, capsys):
    assert run(settings, "diff", "SF-1", "1", "2", "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["change"], r["no"], r["field"], r["before"], r["after"]) for r in rows] == [
        ("changed", "1000", "quantity", "2", "3"),
        ("changed", "1000", "line_amount", "20.00", "30.00"),
        ("removed", "2000", "", "15.00", None),
    ]


def test_diff_of_an_unknown_version_is_an_error_not_a_traceback(settings, capsys):
    assert run(settings, "diff", "SF-1", "1", "9") == 2
    assert "no version 9" in capsys.readouterr().err


def test_export_as_parquet_without_pyarrow_names_the_extra_to_install_and_writes_nothing(settings, tmp_path, capsys,
                                                                                         monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    assert run(settings, "export", "--format", "parquet", "--out", str(tmp_path / "out")) == 2
    assert "pip install 'orderflow[parquet]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_report_prints_lead_times_and_writes_an_html_page_with_matplotlib_charts(settings, tmp_path, capsys):
    assert run(settings, "report", "--json", "--out", str(tmp_path / "report.html")) == 0
    rows = {row["measure"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert (rows["Received → Reservation"]["count"], rows["Received → Reservation"]["mean_h"]) == (2, 4.58)  # 1 h, 8 h 10 min
    assert (rows["quote linked → order"]["count"], rows["quote linked → order"]["mean_h"]) == (1, 8.0)
    assert (rows["approval requested → approved"]["count"], rows["approval requested → approved"]["mean_h"]) == (1, 1.0)
    assert (rows["Warehouse"]["section"], rows["Warehouse"]["count"], rows["Warehouse"]["mean_h"]) == ("Time in status", 1, 1.0)
    page = (tmp_path / "report.html").read_text()
    # A table per section; box plots of time in status and of lead times, and orders placed over time.
    assert page.count("<table>") == 2 and page.count("<svg") == 3 and "Matplotlib" in page


def test_report_without_matplotlib_names_the_extra_to_install(settings, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    assert run(settings, "report", "--out", str(tmp_path / "report.html")) == 2
    assert "pip install 'orderflow[plots]'" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_projections_rebuild_draws_progress_on_stderr_and_status_shows_no_lag(settings, capsys):
    assert run(settings, "projections", "rebuild") == 0
    captured = capsys.readouterr()
    assert "100%" in captured.err and "event_log" in captured.out
    assert run(settings, "projections", "status", "--json") == 0
    lags = [json.loads(line)["lag"] for line in capsys.readouterr().out.splitlines()]
    assert lags == [0] * len(all_views(False, Orders("memory:")))


@pytest.mark.parametrize("command", [["orders"], ["errors"], ["parked"], ["summary"], ["report"], ["history", "SF-1"],
                                     ["diff", "SF-1", "1", "2"], ["projections", "status"]])
def test_every_read_command_prints_json_lines_with_json(settings, capsys, command):
    assert run(settings, *command, "--json") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines or command[0] in ("errors", "parked"), "this history has no rejected or parked message"
    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_orders_as_json_lines_keep_money_as_decimal_text(settings, capsys):
    assert run(settings, "orders", "--json") == 0
    orders = {o["storefront_reference"]: o for o in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(orders) == {"SF-1", "SF-2", "SF-3"}
    assert (orders["SF-1"]["current_total"], orders["SF-2"]["current_total"]) == ("30.00", "35.00")
    assert orders["SF-3"]["current_total"] is None and orders["SF-3"]["flags"] == "refused"


def test_summary_counts_orders_by_status_and_the_messages_not_applied(settings, capsys):
    assert run(settings, "summary", "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_status = {r["workflow_status"]: r["orders"] for r in rows if "workflow_status" in r}
    assert sum(by_status.values()) == 3 and by_status.get("Shipped", 0) >= 1
    assert run(settings, "errors", "--json") == 0
    rejected = len(capsys.readouterr().out.splitlines())
    assert rejected >= 1, "the history holds a rejection"
    assert {r["messages"]: r["count"] for r in rows if "messages" in r} == {
        "rejected (dead-lettered)": rejected, "parked, still waiting": 0}
    assert run(settings, "summary") == 0
    assert "Orders by workflow status (3 in all)" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["orders"], ["errors"], ["parked"], ["summary"], ["history", "SF-1"],
                                     ["report"], ["export"], ["projections", "status"], ["projections", "rebuild"]])
def test_a_read_command_on_a_missing_database_says_so_and_creates_nothing(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORDERFLOW_DATABASE_URL", "sqlite:///var/nowhere.db")
    assert main([*command]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no database at var/nowhere.db" in err, err
    assert list(tmp_path.iterdir()) == [], "neither the file nor its folder is created"
