"""The one table of a benchmark run: figures, ratios to the run's own baselines, the issue's targets, the machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Row:
    """One line of the table. ``value`` None means the figure could not be produced (``note`` says why)."""

    key: str
    label: str
    value: float | None
    unit: str
    rate: bool = False  # a throughput: shown also as a ratio to the two baselines
    target: str = ""
    met: bool | None = None
    note: str = ""


def ratio_cells(row: Row, raw: float | None, naive: float | None) -> tuple[str, str]:
    if not row.rate or row.value is None:
        return "", ""
    return (f"{row.value / raw:.3f}×" if raw else "", f"{row.value / naive:.2f}×" if naive else "")


def figure(row: Row) -> str:
    if row.value is None:
        return "not produced"
    if row.unit in ("msg/s", "events/s"):
        return f"{row.value:,.0f} {row.unit}"
    if row.unit == "×":
        return f"{row.value:.2f}×"
    return f"{row.value:,.1f} {row.unit}"


def table(rows: list[Row]) -> str:
    """The rows as one Markdown table, each throughput also relative to baselines 1 and 2 of the same run."""
    raw = next((r.value for r in rows if r.key == "1"), None)
    naive = next((r.value for r in rows if r.key == "2"), None)
    lines = ["| # | measure | figure | ÷ raw (1) | ÷ naive (2) | target (issue 10) | met? | notes |",
             "| --- | --- | ---: | ---: | ---: | --- | --- | --- |"]
    for row in rows:
        to_raw, to_naive = ratio_cells(row, raw, naive)
        met = "" if row.met is None else ("met" if row.met else "**not met**")
        lines.append(f"| {row.key} | {row.label} | {figure(row)} | {to_raw} | {to_naive} | {row.target} | {met} | "
                     f"{row.note} |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """What ran it: cores, CPU model, load, Python, the commit, the command and the date."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    root = Path(__file__).resolve().parents[1]
    commit = _git(root, "rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git(root, "status", "--porcelain", "--untracked-files=no") else ""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cores": str(os.cpu_count()),
        "cpu": model or platform.processor() or "unknown",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "commit": commit + dirty,
    }


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def render(title: str, rows: list[Row], info: dict[str, str], notes: list[str]) -> str:
    """The whole report: machine, table, notes."""
    header = "\n".join(f"- {name}: {value}" for name, value in info.items())
    footer = "\n".join(f"- {note}" for note in notes)
    return f"## {title}\n\n{header}\n\n{table(rows)}\n\n{footer}\n"


def as_json(rows: list[Row], info: dict[str, str]) -> dict:
    return {"machine": info, "rows": [asdict(row) for row in rows]}
