"""What the commands print: plain text tables and a progress bar."""

from __future__ import annotations

from typing import Any

from orderflow.analyst.plain import cell


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a plain text table with a header (``(none)`` if there are none)."""
    if not rows:
        return "(none)"
    columns = list(rows[0])
    texts = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(t[i]) for t in texts)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip() for t in texts]
    return "\n".join(lines)


def progress_bar(done: int, total: int, width: int = 40) -> str:
    """``[#####.....]  50%  500/1000 events``."""
    share = min(1.0, done / total) if total else 1.0
    filled = round(share * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%}  {done}/{total} events"
