"""The application commands: get the aggregate, call one method, save.

:class:`OrderCommands` is mixed into :class:`orderflow.application.orders.Orders`,
which provides ``load``, ``save`` and ``next_web_order_no``. Every command
names its order by the storefront's reference and takes the time ``at``
(timezone-aware) and the acting :class:`~orderflow.aggregates.values.Actor`.
A command that breaks a rule raises a :class:`~orderflow.aggregates.errors.WebOrderError`
and saves nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from orderflow.aggregates.errors import DuplicateOrder, InvalidCommand, UnknownOrder
from orderflow.aggregates.order_taking_setup import OrderTakingSetup
from orderflow.aggregates.values import Actor
from orderflow.aggregates.web_order import WebOrder


class OrderCommands:
    """Storefront, ERP and setup commands of the order-processing application."""

    if TYPE_CHECKING:  # what Orders provides

        def load(self, aggregate_id: UUID) -> Any: ...

        def save(self, *objs: Any, **kwargs: Any) -> Any: ...

        def next_web_order_no(self, at: datetime) -> str: ...

    # -- queries ---------------------------------------------------------------------------------

    def get_order(self, storefront_reference: str) -> WebOrder:
        """The web order placed under this storefront reference; ``UnknownOrder`` if none."""
        try:
            return self.load(WebOrder.create_id(storefront_reference))
        except AggregateNotFoundError:
            raise UnknownOrder(storefront_reference) from None

    def get_setup(self) -> OrderTakingSetup:
        """The order-taking setup (all defaults until first configured)."""
        try:
            return self.load(OrderTakingSetup.create_id())
        except AggregateNotFoundError:
            return OrderTakingSetup()

    # -- storefront ------------------------------------------------------------------------------

    def place_order(self, storefront_reference: str, payload: dict[str, Any], actor: Actor, at: datetime) -> UUID:
        """Record the order (placed, or refused with its reasons) under a new Web Order No.; return its id."""
        if not isinstance(storefront_reference, str) or not storefront_reference.strip():
            raise InvalidCommand("a storefront reference is required")
        try:
            self.load(WebOrder.create_id(storefront_reference))  # get_order, without translating the miss
        except AggregateNotFoundError:
            pass
        else:
            raise DuplicateOrder(storefront_reference)
        setup = self.get_setup()
        order = WebOrder.place(storefront_reference, self.next_web_order_no(at), payload, setup, actor, at)
        self.save(order)
        return order.id

    def add_comment(self, storefront_reference: str, text: str, actor: Actor, at: datetime) -> None:
        order = self.get_order(storefront_reference)
        order.add_comment(text, actor, at)
        self.save(order)

    def approve(self, storefront_reference: str, actor: Actor, at: datetime, version: int | None = None) -> None:
        """The customer approves the pending request (for ``version``, if given, which must be current)."""
        order = self.get_order(storefront_reference)
        order.approve(actor, at, version)
        self.save(order)

    def confirm_by_customer(self, storefront_reference: str, actor: Actor, at: datetime) -> None:
        """The customer confirms, or a permitted back-office user confirms on their behalf."""
        order = self.get_order(storefront_reference)
        order.confirm_by_customer(actor, at, self.get_setup().permissions)
        self.save(order)

    def record_payment_event(
        self,
        storefront_reference: str,
        result: str,
        transaction_id: str,
        amount: Decimal,
        actor: Actor,
        at: datetime,
        status_info: str = "",
    ) -> None:
        order = self.get_order(storefront_reference)
        order.record_payment_event(result, transaction_id, amount, actor, at, status_info)
        self.save(order)

    def check_out_prebook_line(self, storefront_reference: str, line_no: int, actor: Actor, at: datetime) -> None:
        order = self.get_order(storefront_reference)
        order.check_out_prebook_line(line_no, actor, at)
        self.save(order)

    # -- ERP / back office ------------------------------------------------------------------------

    def link_sales_document(
        self,
        storefront_reference: str,
        document_type: str,
        document_no: str,
        actor: Actor,
        at: datetime,
        expires_on: date | None = None,
    ) -> None:
        """The ERP created a sales quote (with its expiration date) or order from the web order."""
        order = self.get_order(storefront_reference)
        order.link_sales_document(document_type, document_no, actor, at, expires_on)
        self.save(order)

    def make_order_from_quote(
        self, storefront_reference: str, order_no: str, actor: Actor, at: datetime, shipping: dict[str, Any] | None = None
    ) -> None:
        order = self.get_order(storefront_reference)
        order.make_order_from_quote(order_no, actor, at, shipping)
        self.save(order)

    def release_sales_document(self, storefront_reference: str, total: Decimal, actor: Actor, at: datetime) -> None:
        order = self.get_order(storefront_reference)
        order.release_sales_document(total, actor, at)
        self.save(order)

    def post_shipment(
        self, storefront_reference: str, lines: list[dict[str, Any]], actor: Actor, at: datetime, shipment_no: str = ""
    ) -> None:
        """Ship ``[{"line_no": int, "quantity": Decimal}, ...]`` of the released sales order."""
        order = self.get_order(storefront_reference)
        order.post_shipment(lines, actor, at, shipment_no)
        self.save(order)

    def refresh_from_sales_document(
        self,
        storefront_reference: str,
        lines: list[dict[str, Any]],
        actor: Actor,
        at: datetime,
        request_approval: bool = False,
    ) -> None:
        """A new Modified by Sales Doc. version from the document's lines (wire form of ``OrderDraft`` lines)."""
        order = self.get_order(storefront_reference)
        order.refresh_from_sales_document(lines, actor, at, request_approval)
        self.save(order)

    def request_approval(self, storefront_reference: str, actor: Actor, at: datetime) -> None:
        order = self.get_order(storefront_reference)
        order.request_approval(actor, at)
        self.save(order)

    def set_approval(
        self, storefront_reference: str, state: str, actor: Actor, at: datetime, comment: str = ""
    ) -> None:
        """Set the Customer Approval by hand ("" for blank, Pending, Approved, Rejected)."""
        order = self.get_order(storefront_reference)
        order.set_approval(state, actor, at, self.get_setup().permissions, comment)
        self.save(order)

    def approve_quote_for_conversion(self, storefront_reference: str, actor: Actor, at: datetime) -> None:
        order = self.get_order(storefront_reference)
        order.approve_quote_for_conversion(actor, at, self.get_setup().permissions)
        self.save(order)

    def change_workflow_status(
        self, storefront_reference: str, status: str, actor: Actor, at: datetime, comment: str = ""
    ) -> None:
        order = self.get_order(storefront_reference)
        order.change_workflow_status(status, actor, at, self.get_setup().permissions, comment)
        self.save(order)

    def confirm_by_shop(self, storefront_reference: str, actor: Actor, at: datetime) -> None:
        order = self.get_order(storefront_reference)
        order.confirm_by_shop(actor, at, self.get_setup().permissions)
        self.save(order)

    def mark_realized(self, storefront_reference: str, actor: Actor, at: datetime) -> None:
        order = self.get_order(storefront_reference)
        order.mark_realized(actor, at)
        self.save(order)

    # -- setup ------------------------------------------------------------------------------------

    def configure_order_taking(self, customer_type: str, actor: Actor, at: datetime, **settings: Any) -> None:
        """Set a customer type's order taking: ``intake``, ``checkout_options``, ``quote_conversion``,
        ``quote_promotable_by_default``, ``auto_confirm``, ``customer_confirmation_required``."""
        setup = self.get_setup()
        setup.configure(customer_type, settings, actor, at)
        self.save(setup)

    def require_card_payment(self, customer_no: str, required: bool, actor: Actor, at: datetime) -> None:
        setup = self.get_setup()
        setup.require_card_payment(customer_no, required, actor, at)
        self.save(setup)

    def set_permission(self, permission: str, roles: list[str], actor: Actor, at: datetime) -> None:
        """Let exactly ``roles`` do ``permission`` (Confirm, Change Workflow Status, ...)."""
        setup = self.get_setup()
        setup.set_permission(permission, roles, actor, at)
        self.save(setup)
