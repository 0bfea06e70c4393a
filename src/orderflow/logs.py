"""Structured logging: one line per event, as JSON or as readable key=value.

Every line, ours and the libraries' (kafka-python logs through the standard
library), passes :func:`mask_personal` before it is rendered: the value of a
key that names a personal field (``email``, ``person_name``, ... as the
schemas declare them, :mod:`orderflow.contract.personal`) is replaced by ``<personal>``,
and so is anything shaped like an e-mail address in any value, the message
and the traceback included.

kafka-python's repeated warnings and errors (a broker outage) are rate-limited:
at most one line per message text every 10 s, the next one saying how many
were dropped (:class:`RepeatLimiter`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from orderflow.contract.personal import MASK, personal_fields, redact_text

KEEP = frozenset({"timestamp", "level", "logger", "log_level"})


def mask_personal(_logger: Any, _method: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
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


class RepeatLimiter(logging.Filter):
    """Let through at most one record per message text every ``interval`` seconds, from the loggers under ``prefix``.

    During a broker outage kafka-python logs the same ERROR or WARNING (``Connect attempt ... returned error``,
    ``Unable to send to wakeup socket``, ...) dozens of times a minute. The first of a kind passes; the same text
    again within ``interval`` seconds is dropped and counted; the next one after the interval passes with
    ``(repeated N times in the last S s)`` appended. Records of other loggers, and below WARNING, always pass.
    """

    def __init__(self, prefix: str = "kafka", interval: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 1000):
        super().__init__()
        self.prefix, self.interval, self.clock, self.max_keys = prefix, interval, clock, max_keys
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # key -> (last passed at, dropped since)
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not (
            record.name == self.prefix or record.name.startswith(self.prefix + ".")
        ):
            return True
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the handler's to report
            return True
        key, now = (record.name, record.levelno, text), self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.interval:
                self._seen[key] = (seen[0], seen[1] + 1)
                return False
            if len(self._seen) >= self.max_keys:  # bounded memory: forget the kinds not seen for a while
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.interval}
                if len(self._seen) >= self.max_keys:
                    self._seen.clear()
            self._seen[key] = (now, 0)
        if seen is not None and seen[1]:
            record.msg, record.args = f"{text} (repeated {seen[1]} times in the last {now - seen[0]:.0f} s)", None
        return True


def _add(fields: dict[str, Any]) -> structlog.typing.Processor:
    """A structlog processor putting ``fields`` on every event dict (without overriding the event's own)."""

    def add(_logger: Any, _method: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
        for key, value in fields.items():
            event_dict.setdefault(key, value)
        return event_dict

    return add


PRIVACY: list[structlog.typing.Processor] = [structlog.processors.format_exc_info, mask_personal]
"""The processors that keep personal data out of a log line: tracebacks are text first, then masked."""


def configure(log_format: str = "console", level: int = logging.INFO, fields: dict[str, Any] | None = None) -> None:
    """Route all logs (ours and the libraries') through one stdlib handler on stderr, personal values masked.

    ``fields`` go on every line, ours and the libraries' (the followers process names
    itself with them: ``process`` and ``pid``).

    structlog's loggers hand their event dicts to the standard library, and the
    root handler's :class:`structlog.stdlib.ProcessorFormatter` renders them and
    any library's records (kafka-python, warnings) alike: one writer, one lock,
    so in JSON mode every line is one JSON record, never two on a line.
    """
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fields:
        shared.append(_add(dict(fields)))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *PRIVACY, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    handler.addFilter(RepeatLimiter("kafka", interval=10.0))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("orderflow").setLevel(level)  # ours at ``level``; the libraries' from WARNING
    logging.captureWarnings(True)  # Python warnings as records too, not bare text
