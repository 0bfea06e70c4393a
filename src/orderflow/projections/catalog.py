"""Every read model orderflow keeps, in one list for bootstrap, rebuilds and exports."""

from __future__ import annotations

from typing import Any

from orderflow.projections.base import View
from orderflow.projections.error_journal import ErrorJournalView
from orderflow.projections.event_log import EventLogView
from orderflow.projections.parked_messages import ParkedMessagesView
from orderflow.projections.repairs import RepairsView
from orderflow.projections.status_history import StatusHistoryView
from orderflow.projections.web_order_versions import WebOrderVersionsView
from orderflow.projections.web_orders import WebOrdersView


def all_views(is_postgres: bool, app: Any = None, suffix: str = "") -> list[View]:
    """One instance of every view (``web_orders`` first), writing to tables named with ``suffix``.

    ``app`` is not needed any more (the runner follows the orders for all views); callers may still pass it.
    """
    return [
        WebOrdersView(is_postgres, suffix),
        WebOrderVersionsView(is_postgres, suffix),
        EventLogView(is_postgres, suffix),
        StatusHistoryView(is_postgres, suffix),
        ErrorJournalView(is_postgres, suffix),
        ParkedMessagesView(is_postgres, suffix),
        RepairsView(is_postgres, suffix),
    ]
