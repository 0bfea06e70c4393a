"""The outbound topics: storefront sync and notifications, encoded into the outbox with the events, sent by a relay.

See ``docs/outbound.md`` for the topics, the message types and how to consume them.
"""

from orderflow.outbound.messages import (
    DEFAULT_ORDER_URL_TEMPLATE,
    NOTIFICATION,
    WEB_ORDER_SYNCED,
    notification_messages,
    storefront_sync_messages,
)
from orderflow.outbound.outbox import OutboxView
from orderflow.outbound.publisher import OutboxRelay, outbound_producer

__all__ = [
    "DEFAULT_ORDER_URL_TEMPLATE",
    "NOTIFICATION",
    "WEB_ORDER_SYNCED",
    "OutboxRelay",
    "OutboxView",
    "notification_messages",
    "outbound_producer",
    "storefront_sync_messages",
]
