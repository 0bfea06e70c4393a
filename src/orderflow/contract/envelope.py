"""The envelope every orderflow Kafka message travels in, and its strict reading.

Key: the storefront's order reference (UTF-8), so one order's messages stay in
order on one partition. Headers: ``message_id``, ``message_type``,
``schema_version``, ``content_type`` (``application/msgpack``, the default, or
``application/json``), ``occurred_at`` (ISO 8601 with a UTC offset) and ``producer``.
Value: the payload, a map whose money and quantities are decimal strings.

:func:`decode` is strict, because whatever it lets through reaches logs, the
event store and the read models: each of our headers at most once, never null,
UTF-8, within its size limit; a canonical schema version; a time within
:data:`EARLIEST`..:data:`LATEST`; a key and a value within their limits (checked
before anything is decoded, so a huge record costs no more than its bytes);
a payload of JSON's types only, nested at most :data:`MAX_DEPTH` levels, with
no NUL character (PostgreSQL cannot store one in text) and no integer beyond
64 bits. A refusal is a :class:`BadEnvelope` whose reason names the header,
field or limit and never quotes the offending value.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgpack

MSGPACK = "application/msgpack"
JSON = "application/json"
HEADER_NAMES = ("message_id", "message_type", "schema_version", "content_type", "occurred_at", "producer")
REQUIRED_HEADERS = ("message_id", "message_type", "schema_version", "occurred_at")

MAX_KEY_BYTES = 256
MAX_HEADER_BYTES = 1024
"""Each header's value; the names and values of all headers together: :data:`MAX_HEADERS` of them."""
MAX_HEADERS = 64
MAX_MESSAGE_ID = 128
MAX_VALUE_BYTES = 1024 * 1024
MAX_DEPTH = 16
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
TIME_RANGE = "2000-01-01T00:00:00Z..2099-12-31T23:59:59Z"
MAX_INT = 2**63 - 1

VERSION = re.compile(r"[1-9][0-9]{0,5}", re.ASCII)
MESSAGE_TYPE = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
MESSAGE_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_MESSAGE_ID}}}", re.ASCII)
TIME = re.compile(
    r"(?P<year>[0-9]{4})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?P<fraction>\.[0-9]{1,9})?(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", re.ASCII)
"""A header name or payload key shown in a reason; anything else (an e-mail address, a 1 MB key) is shown as ``*``."""


class BadEnvelope(ValueError):
    """The bytes on the wire are not an orderflow message; the reason says why (never quoting a value)."""


@dataclass(frozen=True)
class Envelope:
    """One message: who it is about (``key``), what it is, when, and its payload."""

    key: str
    message_id: str
    message_type: str
    occurred_at: datetime
    payload: dict[str, Any]
    schema_version: int = 1
    producer: str = "unknown"
    content_type: str = MSGPACK
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self) -> list[tuple[str, bytes]]:
        values = {
            "message_id": self.message_id,
            "message_type": self.message_type,
            "schema_version": str(self.schema_version),
            "content_type": self.content_type,
            "occurred_at": format_time(self.occurred_at),
            "producer": self.producer,
            **self.extra_headers,
        }
        return [(name, value.encode()) for name, value in values.items()]

    def value(self) -> bytes:
        if self.content_type == JSON:
            return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()
        packed: bytes = msgpack.packb(self.payload, use_bin_type=True)  # msgpack ships no types
        return packed


def format_time(at: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: the one time format on the wire."""
    if at.tzinfo is None:
        raise ValueError("times on the wire must be timezone-aware")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`` within :data:`TIME_RANGE`, as UTC; ``ValueError`` naming the rule."""
    match = TIME.fullmatch(text)
    if match is None:
        raise ValueError("must be ISO 8601 with seconds and a UTC offset, e.g. 2026-11-02T09:00:00Z")
    if not 1999 <= int(match["year"]) <= 2100:  # a day's offset either side; astimezone cannot overflow
        raise ValueError(f"must be within {TIME_RANGE}")
    fraction = (match["fraction"] or "")[:7]  # Python keeps microseconds
    plain = text[: match.start("fraction")] if match["fraction"] else text[: match.start("offset")]
    offset = "+00:00" if match["offset"] == "Z" else match["offset"]
    try:
        at = datetime.fromisoformat(f"{plain}{fraction}{offset}").astimezone(UTC)
    except ValueError:
        raise ValueError("is not a valid date and time") from None
    if not EARLIEST <= at <= LATEST:
        raise ValueError(f"must be within {TIME_RANGE}")
    return at


def decode(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes | None]] | None) -> Envelope:
    """Read one Kafka record into an :class:`Envelope`, or raise :class:`BadEnvelope` naming what is wrong."""
    found = _headers(headers or [])
    missing = [name for name in REQUIRED_HEADERS if name not in found]
    if missing:
        raise BadEnvelope(f"missing headers: {', '.join(missing)}")
    text_key = _key(key)
    content_type = found.get("content_type", MSGPACK)
    if content_type not in (MSGPACK, JSON):
        raise BadEnvelope(f"unsupported content_type header: use {MSGPACK} or {JSON}")
    try:
        occurred_at = parse_time(found["occurred_at"])
    except ValueError as error:
        raise BadEnvelope(f"bad occurred_at header: {error}") from None
    if not VERSION.fullmatch(found["schema_version"]):
        raise BadEnvelope("bad schema_version header: must be a whole number written canonically "
                          "(ASCII digits, no sign, space or leading zero: 1, 2, ...)")
    if not MESSAGE_TYPE.fullmatch(found["message_type"]):
        raise BadEnvelope("bad message_type header: must be a snake_case name of at most 64 ASCII characters")
    if not MESSAGE_ID.fullmatch(found["message_id"]):
        raise BadEnvelope(f"bad message_id header: must be 1..{MAX_MESSAGE_ID} visible ASCII characters (no space)")
    payload = _decode_payload(value, content_type)
    extra = {name: text for name, text in found.items() if name not in HEADER_NAMES}
    return Envelope(
        key=text_key,
        message_id=found["message_id"],
        message_type=found["message_type"],
        occurred_at=occurred_at,
        payload=payload,
        schema_version=int(found["schema_version"]),
        producer=found.get("producer", "unknown"),
        content_type=content_type,
        extra_headers=extra,
    )


def _headers(headers: list[tuple[Any, Any]]) -> dict[str, str]:
    """The headers by name: each of ours at most once; every value present, UTF-8 and within its limit."""
    found = _plain_headers(headers)
    return found if found is not None else _checked_headers(headers)


def _plain_headers(headers: list[tuple[Any, Any]]) -> dict[str, str] | None:
    """What :func:`_checked_headers` returns for the usual record, cheaply; None for anything it might refuse
    (then it decides, and names what is wrong)."""
    if len(headers) > MAX_HEADERS:
        return None
    found: dict[str, str] = {}
    for name, raw in headers:
        if type(name) is bytes:
            name = name.decode("utf-8", "replace")
        if (type(name) is not str or len(name) > MAX_HEADER_BYTES or type(raw) is not bytes
                or len(raw) > MAX_HEADER_BYTES):
            return None
        ours = name in HEADER_NAMES
        if ours and name in found:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if (ours and CONTROL.search(text)) or "\x00" in text:
            return None
        found[name] = text
    return found


def _checked_headers(headers: list[tuple[Any, Any]]) -> dict[str, str]:
    if len(headers) > MAX_HEADERS:
        raise BadEnvelope(f"the record has {len(headers)} headers; the limit is {MAX_HEADERS}")
    names = [name.decode("utf-8", "replace") if isinstance(name, bytes) else name for name, _ in headers]
    counts = Counter(name for name in names if name in HEADER_NAMES)
    repeated = [f"header {name} appears {count} times" for name, count in counts.items() if count > 1]
    if repeated:
        raise BadEnvelope("; ".join(repeated))
    found: dict[str, str] = {}
    for name, (_, raw) in zip(names, headers, strict=True):
        shown = f"header {_shown(name)}"
        if not isinstance(name, str) or len(name) > MAX_HEADER_BYTES:
            raise BadEnvelope(f"a header name is not text of at most {MAX_HEADER_BYTES} characters")
        if raw is None:
            raise BadEnvelope(f"{shown} has no value (null)")
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise BadEnvelope(f"{shown} is not bytes")
        if len(raw) > MAX_HEADER_BYTES:
            raise BadEnvelope(f"{shown} is {len(raw)} bytes; the limit is {MAX_HEADER_BYTES} bytes")
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise BadEnvelope(f"{shown} is not UTF-8") from None
        if name in HEADER_NAMES and CONTROL.search(text):
            raise BadEnvelope(f"{shown} contains a control character (U+0000..U+001F or U+007F)")
        if "\x00" in text:
            raise BadEnvelope(f"{shown} contains a NUL character (U+0000)")
        found[name] = text
    return found


def _key(key: bytes | None) -> str:
    if not key:
        raise BadEnvelope("the message has no key (the storefront's order reference)")
    if len(key) > MAX_KEY_BYTES:
        raise BadEnvelope(f"the key is {len(key)} bytes; the limit is {MAX_KEY_BYTES} bytes")
    try:
        text = bytes(key).decode("utf-8")
    except UnicodeDecodeError:
        raise BadEnvelope("the key is not UTF-8") from None
    if CONTROL.search(text):
        raise BadEnvelope("the key contains a control character (U+0000..U+001F or U+007F)")
    if not text.strip():
        raise BadEnvelope("the key is blank")
    return text


def _decode_payload(value: bytes | None, content_type: str) -> dict[str, Any]:
    if value is None:
        raise BadEnvelope("the message has no value")
    if len(value) > MAX_VALUE_BYTES:
        raise BadEnvelope(f"the value is {len(value)} bytes; the limit is {MAX_VALUE_BYTES} bytes (1 MiB)")
    payload = _unpack(value) if content_type == MSGPACK else _parse_json(value)
    if not isinstance(payload, dict):
        raise BadEnvelope(f"the payload must be a map, not {_type_name(payload)}")
    if content_type == JSON and _plain_json(value):
        return payload
    if not _fine(payload, 1):
        _check(payload, "", 1)  # raises, naming where
    return payload


def _unpack(value: bytes) -> Any:
    what = f"undecodable {MSGPACK} payload"
    try:
        return msgpack.unpackb(value, raw=False, strict_map_key=True, max_ext_len=0)
    except msgpack.ExtraData:
        raise BadEnvelope(f"{what}: bytes follow the payload") from None
    except (msgpack.StackError, RecursionError):
        raise BadEnvelope(f"{what}: nested deeper than msgpack can read (the limit is {MAX_DEPTH} levels)") from None
    except UnicodeDecodeError:
        raise BadEnvelope(f"{what}: a string is not UTF-8") from None
    except msgpack.FormatError:
        raise BadEnvelope(f"{what}: not msgpack (a byte no msgpack value starts with)") from None
    except ValueError as error:
        known = {"map key": "a map key is not a string", "max_ext_len": "a msgpack extension (e.g. a timestamp), which JSON cannot carry",
                 "incomplete input": "it ends before it is complete"}
        for text, reason in known.items():
            if text in str(error):
                raise BadEnvelope(f"{what}: {reason}") from None
        raise BadEnvelope(f"{what}: {type(error).__name__}") from None
    except Exception as error:  # noqa: BLE001 - any other failure of the C decoder, by class only
        raise BadEnvelope(f"{what}: {type(error).__name__}") from None


def _parse_json(value: bytes) -> Any:
    what = f"undecodable {JSON} payload"
    try:
        text = bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise BadEnvelope(f"{what}: not UTF-8") from None
    try:
        return json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except _Refused as refused:
        raise BadEnvelope(f"{what}: {refused}") from None
    except RecursionError:
        raise BadEnvelope(f"{what}: nested deeper than JSON can be read (the limit is {MAX_DEPTH} levels)") from None
    except json.JSONDecodeError as error:
        raise BadEnvelope(f"{what}: {error.msg} at character {error.pos}") from None
    except ValueError as error:
        raise BadEnvelope(f"{what}: {type(error).__name__}") from None


class _Refused(Exception):
    """A JSON number orderflow refuses, raised from inside the parser."""


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(number := int(text)) > MAX_INT:
        raise _Refused("a number has more digits than a 64-bit integer; money and quantities are decimal strings")
    return number


def _json_float(text: str) -> float:
    number = float(text) if len(text) <= 40 else math.inf
    if not math.isfinite(number):
        raise _Refused("a number is too large or too long; money and quantities are decimal strings")
    return number


def _json_constant(name: str) -> float:
    raise _Refused(f"{name} is not a JSON number")


def _plain_json(value: bytes) -> bool:
    """True if a payload parsed from the JSON ``value`` needs no :func:`_fine` walk.

    The parser already refuses what JSON text could hold beyond the rules but numbers too big (refused as they
    are parsed). A NUL or a lone surrogate in a string can only come as a ``\\u`` escape (raw control
    characters are invalid JSON, and UTF-8 decoding refuses encoded surrogates); and a text with at most
    :data:`MAX_DEPTH` opening brackets cannot nest deeper than that.
    """
    return b"\\u" not in value and value.count(b"{") + value.count(b"[") <= MAX_DEPTH


def _fine(node: Any, depth: int) -> bool:
    """True if :func:`_check` would accept ``node``: the same rules, without building field paths."""
    kind = type(node)
    if kind is str:
        return "\x00" not in node and not SURROGATE.search(node)
    if kind is dict:
        if depth > MAX_DEPTH:
            return False
        for name, item in node.items():
            if type(name) is not str or "\x00" in name or SURROGATE.search(name) or not _fine(item, depth + 1):
                return False
        return True
    if kind is list:
        return depth <= MAX_DEPTH and all(_fine(item, depth + 1) for item in node)
    if kind is bool or node is None:
        return True
    if kind is int:
        within: bool = abs(node) <= MAX_INT
        return within
    if kind is float:
        return math.isfinite(node)
    return False  # subclasses and other types: the full check decides and names them


def _check(node: Any, path: str, depth: int) -> None:
    """Refuse what a payload may not hold, naming where: depth, key types, NUL, lone surrogates, huge numbers."""
    where = path or "(payload)"
    if depth > MAX_DEPTH and isinstance(node, (dict, list)):
        raise BadEnvelope(f"payload field {where} is nested deeper than {MAX_DEPTH} levels of maps and arrays")
    if isinstance(node, str):
        if "\x00" in node:
            raise BadEnvelope(f"payload field {where} contains a NUL character (U+0000), which text cannot store")
        if SURROGATE.search(node):
            raise BadEnvelope(f"payload field {where} contains a lone surrogate (U+D800..U+DFFF), which is not text")
    elif isinstance(node, dict):
        for name, item in node.items():
            if not isinstance(name, str):
                raise BadEnvelope(f"payload field {where} has a key that is not a string ({_type_name(name)})")
            inner = f"{path}/{_shown(name)}"
            if "\x00" in name or SURROGATE.search(name):
                raise BadEnvelope(f"payload field {inner} has a name with a NUL character or a lone surrogate")
            _check(item, inner, depth + 1)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check(item, f"{path}/{index}", depth + 1)
    elif isinstance(node, bool) or node is None:
        return
    elif isinstance(node, int):
        if abs(node) > MAX_INT:
            raise BadEnvelope(f"payload field {where} is an integer beyond 64 bits")
    elif isinstance(node, float):
        if not math.isfinite(node):
            raise BadEnvelope(f"payload field {where} is not a finite number")
    else:
        raise BadEnvelope(f"payload field {where} is {_type_name(node)}, which JSON cannot carry")


def _shown(name: Any) -> str:
    return name if isinstance(name, str) and SAFE_NAME.fullmatch(name) else "*"


def _type_name(value: Any) -> str:
    return {bytes: "bytes (msgpack bin)", msgpack.ExtType: "a msgpack extension", msgpack.Timestamp: "a msgpack timestamp",
            list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)
