"""A customer's request to be forgotten, recorded: the forgetting itself is part of the log.

The event names the customer only by the random subject id its key was
stored under (:mod:`orderflow.application.shredding`), never by a name, number or e-mail
address: after the key is deleted nothing links that id to a person.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class Forgetting(Aggregate):
    """One customer forgotten: which subject, how many orders it had, who asked, when."""

    @staticmethod
    def create_id(subject: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"orderflow:forgetting:{subject}")

    @event("CustomerForgotten")
    def __init__(self, subject: str, kind: str, orders: int, requested_by: str, at: datetime) -> None:
        self.subject = subject
        self.kind = kind
        """What kind of customer id it was: account, customer, email or order."""
        self.orders = orders
        self.requested_by = requested_by
        self.at = at
