"""The sample alert rules of docs/operations.md, and Prometheus' ``promtool`` to check and evaluate them.

The rules are read from the doc's YAML block, so that what the doc shows is what the tests check.
``promtool`` comes with Debian's ``prometheus`` package (.ci/run installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def rules_yaml() -> str:
    """The YAML block under ``## Sample alerts`` in docs/operations.md."""
    section = DOC.read_text().split("## Sample alerts", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match, "docs/operations.md has no ```yaml block under ## Sample alerts"
    return match.group(1)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``promtool ARGS`` in ``cwd``; fails the test (not skips it) where promtool is missing."""
    path = shutil.which("promtool")
    assert path, "promtool is missing: apt-get install prometheus (as .ci/run does)"
    return subprocess.run([path, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def check_rules(directory: Path) -> subprocess.CompletedProcess:
    """``promtool check rules`` on the doc's rules, written to ``directory``."""
    (directory / RULES).write_text(rules_yaml())
    return promtool("check", "rules", RULES, cwd=directory)


def evaluate_rules(directory: Path, tests: list[dict], interval: str = "1m") -> subprocess.CompletedProcess:
    """``promtool test rules``: the doc's rules against ``tests`` (promtool's unit-test cases; JSON is YAML)."""
    (directory / RULES).write_text(rules_yaml())
    (directory / "tests.yml").write_text(json.dumps(
        {"rule_files": [RULES], "evaluation_interval": interval, "tests": tests}, indent=1))
    return promtool("test", "rules", "tests.yml", cwd=directory)


RULES = "orderflow-rules.yml"
