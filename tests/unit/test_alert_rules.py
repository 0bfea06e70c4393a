"""The sample alert rules of docs/operations.md are real Prometheus rules, checked and evaluated by promtool."""

from tests.alerts import check_rules, evaluate_rules

LAG = 'orderflow_consumer_lag{partition="0",topic="orderflow.storefront.v1"}'


def stuck(lag: str, batches: str) -> list[dict]:
    """One promtool case: per-minute series of the lag and the batch counter, the stuck alert asked at 20 minutes."""
    return [{"interval": "1m",
             "input_series": [{"series": LAG, "values": lag},
                              {"series": "orderflow_batch_messages_total", "values": batches}],
             "alert_rule_test": [{"eval_time": "20m", "alertname": "OrderflowPartitionStuck", "exp_alerts": [
                 {"exp_labels": {"severity": "critical"},
                  "exp_annotations": {"summary": "orderflow records nothing while 40 records wait"}}]}]}]


def test_the_sample_alert_rules_pass_promtool_check_rules(tmp_path):
    checked = check_rules(tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout


def test_the_stuck_alert_fires_when_records_wait_and_no_batch_is_recorded_for_15_minutes(tmp_path):
    done = evaluate_rules(tmp_path, stuck(lag="40+0x30", batches="120+0x30"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_stuck_alert_stays_silent_while_batches_are_recorded(tmp_path):
    cases = stuck(lag="40+0x30", batches="120+10x30")
    cases[0]["alert_rule_test"][0]["exp_alerts"] = []
    done = evaluate_rules(tmp_path, cases)
    assert done.returncode == 0, done.stdout + done.stderr
    assert evaluate_rules(tmp_path, stuck(lag="40+0x30", batches="120+10x30")).returncode != 0  # the case can fail
