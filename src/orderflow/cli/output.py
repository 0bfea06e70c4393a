"""What the read commands print: a table for people (rich), JSON lines for scripts and ``jq`` (``--json``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from orderflow.analyst.plain import cell, plain


def add_json_flag(parser: Any) -> None:
    """The one ``--json`` option of every read command."""
    parser.add_argument("--json", action="store_true", help="one JSON object per line (for scripts and jq)")


def show(rows: Iterable[Mapping[str, Any]], as_json: bool, title: str | None = None) -> None:
    """Every read command's rows: JSON lines with ``--json``, else a table."""
    if as_json:
        json_lines(rows)
    else:
        table(list(rows), title)


def json_lines(rows: Iterable[Mapping[str, Any]], out: TextIO | None = None) -> None:
    """One JSON object per row and line: money and quantities as decimal strings, times as ISO 8601."""
    out = out or sys.stdout
    for row in rows:
        out.write(json.dumps(plain(row), ensure_ascii=False) + "\n")


def table(rows: Sequence[Mapping[str, Any]], title: str | None = None, out: TextIO | None = None) -> None:
    """Rows as a table with a header, ``(none)`` if there are none; as wide as the rows when piped."""
    out = out or sys.stdout
    console = Console(file=out, soft_wrap=False, width=None if out.isatty() else 10_000)
    if title is not None:  # not the table's own title: that one wraps at the table's width
        console.print(title, style="bold", highlight=False, markup=False)
    if not rows:
        console.print("(none)", highlight=False, markup=False)
        return
    grid = Table(show_edge=False, header_style="bold")
    columns = list(rows[0])
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(cell(plain(row.get(c))) for c in columns))
    console.print(grid, highlight=False, markup=False)


@contextmanager
def progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields ``update(done, total)``."""
    bar = Progress(TextColumn(what), BarColumn(), TaskProgressColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(file=sys.stderr), transient=False)
    task = bar.add_task(what, total=None)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)
