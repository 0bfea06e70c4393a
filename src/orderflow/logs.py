"""Structured logging: one line per event, as JSON or as readable key=value.

Every line, ours and the libraries' (kafka-python logs through the standard
library), passes :func:`mask_personal` before it is rendered: the value of a
key that names a personal field (``email``, ``person_name``, ... as the
schemas declare them, :mod:`orderflow.personal`) is replaced by ``<personal>``,
and so is anything shaped like an e-mail address in any value, the message
and the traceback included.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from orderflow.personal import MASK, personal_fields, redact_text

KEEP = frozenset({"timestamp", "level", "logger", "log_level"})


def mask_personal(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: no personal value reaches a log line."""
    names = personal_fields().names
    for key, value in event_dict.items():
        if key in KEEP:
            continue
        event_dict[key] = MASK if key in names and value not in (None, "") else _masked(value, names, 0)
    return event_dict


def _masked(value: Any, names: frozenset[str], depth: int) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 8:
        return value
    if isinstance(value, dict):
        return {k: MASK if k in names and v not in (None, "") else _masked(v, names, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v, names, depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return redact_text(bytes(value).decode("utf-8", errors="replace"))
    return value


PRIVACY = [structlog.processors.format_exc_info, mask_personal]
"""The processors that keep personal data out of a log line: tracebacks are text first, then masked."""


def configure(log_format: str = "console", level: int = logging.INFO) -> None:
    """Route all logs (ours and the libraries') through structlog to stderr, personal values masked."""
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, *PRIVACY, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *PRIVACY, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
