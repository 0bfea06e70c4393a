"""Every read model orderflow keeps, in one list for bootstrap, rebuilds and exports."""

from __future__ import annotations

from orderflow.application import Orders
from orderflow.projections.base import View
from orderflow.projections.error_journal import ErrorJournalView
from orderflow.projections.event_log import EventLogView
from orderflow.projections.parked_messages import ParkedMessagesView
from orderflow.projections.status_history import StatusHistoryView
from orderflow.projections.web_order_versions import WebOrderVersionsView
from orderflow.projections.web_orders import WebOrdersView


def all_views(is_postgres: bool, app: Orders, suffix: str = "") -> list[View]:
    """One instance of every view (``web_orders`` first), writing to tables named with ``suffix``."""
    return [
        WebOrdersView(is_postgres, app, suffix),
        WebOrderVersionsView(is_postgres, app, suffix),
        EventLogView(is_postgres, app, suffix),
        StatusHistoryView(is_postgres, app, suffix),
        ErrorJournalView(is_postgres, suffix),
        ParkedMessagesView(is_postgres, suffix),
    ]
