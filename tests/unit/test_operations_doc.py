"""docs/operations.md lists every setting and every metric the code defines."""

from pathlib import Path

from prometheus_client import REGISTRY

from orderflow import metrics
from orderflow.settings import variables

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


def test_every_setting_is_in_the_operations_guide():
    assert [name for name in variables() if f"| `{name}` |" not in DOC] == []


def test_every_metric_is_in_the_operations_guide():
    ours = [m for m in vars(metrics).values() if hasattr(m, "_name") and m._name.startswith("orderflow_")]
    names = {family.name + ("_total" if family.type == "counter" else "")
             for m in ours for family in m.describe()}
    assert names and [name for name in sorted(names) if f"`{name}`" not in DOC] == []
    assert REGISTRY  # the default registry serves them
