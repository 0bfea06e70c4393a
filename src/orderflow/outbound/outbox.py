"""The outbox: every outbound message encoded once, with the events that cause it, as a read model's rows.

:class:`OutboxView` is a view whose rows are the outbound messages of each web order event (the
storefront-sync and notification messages of :mod:`orderflow.outbound.messages`, built from the event and
the order as it left it), encoded once: topic, key, value and headers as bytes, keyed by the event's
position and the message's place among that event's messages. The engine writes it with the events, in the
inbound transaction (:mod:`orderflow.projections.inline`), so nothing reads, decodes or replays an event to
publish it; the followers' runner writes it only while it lags (events recorded by another writer, such as
the console's actions or ``orderflow forget``). Message ids stay deterministic (uuid5 of the order, the
version and the kind), whichever path built them.

:class:`~orderflow.outbound.publisher.OutboxRelay` sends these rows and deletes them once acknowledged.
"""

from __future__ import annotations

from typing import Any

import msgpack

from orderflow.aggregates.web_order import WebOrder
from orderflow.db import Cursor, Database, Position
from orderflow.outbound.messages import DEFAULT_ORDER_URL_TEMPLATE, notification_messages, storefront_sync_messages
from orderflow.projections.base import View
from orderflow.settings import Topics

OUTBOX = "outbox"
RELAYED = "outbound:relay"
"""The relay's row in ``projection_tracking``: every outbox row up to this position was acknowledged."""
PUBLISHED_BEFORE = ("outbound:storefront_sync", "outbound:notifications")
"""The positions of the publisher that followed the store itself (before the outbox): where an upgraded store's
outbox and relay start, so nothing is sent twice or skipped."""
COLUMNS = ("position", "seq", "order_id", "topic", "key", "value", "headers")


def encode_headers(headers: list[tuple[str, bytes]]) -> bytes:
    return msgpack.packb(headers, use_bin_type=True)


def decode_headers(data: bytes) -> list[tuple[str, bytes]]:
    return [(name, value) for name, value in msgpack.unpackb(data, raw=False)]


class OutboxView(View):
    """The outbound messages of every web order event, encoded, in event order."""

    name = OUTBOX
    tables = (OUTBOX,)
    handles = (WebOrder.Event,)
    follows = (WebOrder.Event,)

    def __init__(self, is_postgres: bool, topics: Topics, order_url_template: str = DEFAULT_ORDER_URL_TEMPLATE):
        super().__init__(is_postgres)
        self.topics = topics
        self.order_url_template = order_url_template
        self._rows: list[tuple[Any, ...]] = []

    def create_tables(self, cursor: Cursor) -> None:
        blob = "BYTEA" if self.is_postgres else "BLOB"
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {OUTBOX} (position BIGINT NOT NULL, seq INTEGER NOT NULL, "
            f"order_id TEXT NOT NULL, topic TEXT NOT NULL, key {blob} NOT NULL, value {blob} NOT NULL, "
            f"headers {blob} NOT NULL, PRIMARY KEY (position, seq))"
        )
        # A store the publisher before the outbox followed: the outbox and the relay start where it stood.
        marks = ", ".join("?" * len(PUBLISHED_BEFORE))
        for name in (OUTBOX, RELAYED):
            cursor.execute(
                "INSERT INTO projection_tracking (name, position) SELECT CAST(? AS TEXT), min(position) "
                f"FROM projection_tracking WHERE name IN ({marks}) HAVING count(*) > 0 ON CONFLICT (name) DO NOTHING",
                (name, *PUBLISHED_BEFORE),
            )
            cursor.execute("INSERT INTO projection_tracking (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
                           (name,))

    def apply(self, event: Any, position: Position, aggregate: Any = None) -> None:
        sync, notifications = self.topics.storefront_sync, self.topics.notifications
        messages = [(sync, e) for e in storefront_sync_messages(event, aggregate)]
        messages += [(notifications, e) for e in notification_messages(event, aggregate, self.order_url_template)]
        order_id = str(event.originator_id)
        for seq, (topic, envelope) in enumerate(messages):
            self._rows.append((position, seq, order_id, topic, envelope.key.encode(), envelope.value(),
                               encode_headers(envelope.headers())))

    def flush(self, cursor: Cursor) -> None:
        self.insert_rows(cursor, OUTBOX, COLUMNS, self._rows, "ON CONFLICT (position, seq) DO NOTHING")
        self._rows = []

    def forget(self) -> None:
        self._rows = []


def drop_unsent(db: Database, subject: str) -> int:
    """Delete the outbox rows not sent yet of a forgotten customer's orders (they carry what was forgotten);
    ``orderflow forget`` calls it. Returns how many were dropped."""
    with db.transaction() as cursor:
        cursor.execute(f"DELETE FROM {OUTBOX} WHERE order_id IN "
                       "(SELECT order_id FROM order_customers WHERE subject = ?) RETURNING position", (subject,))
        return len(cursor.fetchall())
