"""Error journal entries are grouped by cause: the reason with its values taken out."""

from __future__ import annotations

import pytest

from orderflow.projections.error_journal import cause


@pytest.mark.parametrize(("reason", "error", "group"), [
    ("the key belongs on partition 1 of 4 (murmur2 of the key, ...) but arrived on partition 3: ...", "Misrouted",
     "misrouted"),
    ("customer_comment belongs on the storefront topic (sf), not on erp", "Misrouted", "misrouted"),
    ("order SF-1 never arrived: the message waited until 2026-11-02T10:00:00Z in event time", "OrderNeverArrived",
     "unknown order past its deadline"),
    ("shipment_posted v1 violates its schema: /lines/0/quantity: must be >= 0.01 (minimum); "
     "/lines/3/quantity: must be >= 0.01 (minimum)", "ContractViolation", "schema: /lines/*/quantity minimum"),
    ("IllegalTransition: Workflow Status cannot go from Shipped to Warehouse", "CannotApply",
     "Workflow Status cannot go from Shipped to Warehouse"),
    ("UnknownOrder: no web order with storefront reference 'SF-0001'", "CannotApply",
     "no web order with storefront reference …"),
    ("OrderRejected: web order WO0000000018 is Rejected; change its workflow status by hand first", "CannotApply",
     "web order <no> is Rejected; change its workflow status by hand first"),
])
def test_a_reasons_group_names_the_rule_and_leaves_out_the_values(reason, error, group):
    assert cause(reason, error) == group


def test_two_reasons_that_differ_only_in_their_values_fall_in_one_group():
    first = "message id m-1 was already used for a different payload (first seen at erp:3@17)"
    second = "message id x-9 was already used for a different payload (first seen at erp:0@4)"
    assert cause(first, "CannotApply") == cause(second, "CannotApply")
