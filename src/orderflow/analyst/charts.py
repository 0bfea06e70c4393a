"""The report's charts (matplotlib, the ``[plots]`` extra): time in status as box plots, throughput over time.

Each chart is returned as inline SVG text, so the HTML report stays one self-contained file.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta


class PlotsMissing(RuntimeError):
    """matplotlib is not installed."""

    def __init__(self) -> None:
        super().__init__("the report's charts need matplotlib: pip install 'orderflow[plots]'")


def _pyplot():
    try:
        import matplotlib
    except ImportError as error:
        raise PlotsMissing() from error
    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as pyplot

    return pyplot


def box_plots(durations: dict[str, list[timedelta]], title: str) -> str:
    """One box per measure (hours), measures without data left out; empty text if none has data."""
    measured = {name: [d.total_seconds() / 3600 for d in values] for name, values in durations.items() if values}
    if not measured:
        return ""
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(8, 0.5 * len(measured) + 1.5))
    axes.boxplot(list(measured.values()), orientation="horizontal", tick_labels=list(measured))
    axes.set_xlabel("hours")
    axes.set_title(title)
    return _svg(pyplot, figure)


def throughput(times: Iterable[datetime], title: str, label: str) -> str:
    """How many things happened per hour (per day if they span more than ten days), as a bar chart."""
    times = sorted(times)
    if not times:
        return ""
    pyplot = _pyplot()
    step = timedelta(days=1) if times[-1] - times[0] > timedelta(days=10) else timedelta(hours=1)
    start = times[0].replace(minute=0, second=0, microsecond=0)
    if step == timedelta(days=1):
        start = start.replace(hour=0)
    counts = Counter(start + step * int((t - start) / step) for t in times)
    buckets = sorted(counts)
    figure, axes = pyplot.subplots(figsize=(8, 3))
    axes.bar(buckets, [counts[b] for b in buckets], width=step * 0.9, align="edge")
    axes.set_ylabel(f"{label} per {'day' if step == timedelta(days=1) else 'hour'}")
    axes.set_title(title)
    figure.autofmt_xdate()
    return _svg(pyplot, figure)


def _svg(pyplot, figure) -> str:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    pyplot.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and doctype
