"""The outbound topics: storefront sync and notifications, published by following the event store.

See ``docs/outbound.md`` for the topics, the message types and how to consume them.
"""

from orderflow.outbound.messages import (
    DEFAULT_ORDER_URL_TEMPLATE,
    NOTIFICATION,
    WEB_ORDER_SYNCED,
    notification_messages,
    storefront_sync_messages,
)
from orderflow.outbound.publisher import OutboundPublisher, OutboundView, outbound_producer

__all__ = [
    "DEFAULT_ORDER_URL_TEMPLATE",
    "NOTIFICATION",
    "WEB_ORDER_SYNCED",
    "OutboundPublisher",
    "OutboundView",
    "notification_messages",
    "outbound_producer",
    "storefront_sync_messages",
]
