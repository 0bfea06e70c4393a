"""``orderflow forget``: forget a customer (docs/security.md)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from orderflow.application.shredding import UnknownCustomer
from orderflow.cli.reading import open_existing
from orderflow.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``forget`` to the ``orderflow`` command."""
    forget = subparsers.add_parser("forget", help="forget a customer: delete their key; their personal fields read as <forgotten>")
    forget.add_argument("customer", help="web account no., B2B sell-to customer no., e-mail address (guests) or kind:id")
    forget.add_argument("--requested-by", default="cli", help="who asked (recorded in the CustomerForgotten event)")
    forget.set_defaults(func=cmd_forget)


def cmd_forget(settings: Settings, args: argparse.Namespace) -> int:
    """Forget a customer (docs/security.md); then `orderflow projections rebuild` rewrites the read models."""
    engine = open_existing(settings)
    try:
        done = engine.app.forget_customer(args.customer, args.requested_by, datetime.now(UTC))
    except UnknownCustomer as error:
        print(f"orderflow forget: {error}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    for forgetting in done:
        print(f"forgotten: {forgetting.kind} (subject {forgetting.subject}), {forgetting.orders} order(s); "
              "run `orderflow projections rebuild` to rewrite the read models")
    return 0
