"""``orderflow simulate`` and ``orderflow publish``: traffic to the inbound topics (:mod:`orderflow.traffic`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import structlog

from orderflow.kafka import ensure_topics
from orderflow.settings import Settings
from orderflow.traffic.publish import BadMessages, publish_file
from orderflow.traffic.simulate import publish_orders

log = structlog.get_logger("orderflow")


def register(subparsers: Any) -> None:
    """Add ``simulate`` and ``publish`` to the ``orderflow`` command."""
    simulate = subparsers.add_parser("simulate", help="publish realistic storefront and ERP traffic: whole order stories")
    simulate.add_argument("--count", type=int, default=10, help="how many orders")
    simulate.add_argument("--seed", type=int, default=1, help="same seed, same traffic")
    simulate.add_argument("--rate", type=float, default=0, help="messages per second (0: as fast as possible)")
    simulate.set_defaults(func=cmd_simulate)

    publish = subparsers.add_parser("publish", help="validate a JSON-lines file of inbound messages, then publish them all")
    publish.add_argument("file", type=Path, metavar="FILE", help="one message per line: key, message_type, payload, ...")
    publish.set_defaults(func=cmd_publish)


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    ensure_topics(settings)
    sent = publish_orders(settings, count=args.count, seed=args.seed, rate=args.rate)
    log.info("simulated traffic published", messages=sent, orders=args.count,
             topics=[settings.topics.storefront, settings.topics.erp])
    return 0


def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    try:
        sent = publish_file(settings, args.file)
    except BadMessages as error:
        print(error)
        return 1
    print(f"published {sent} message(s) from {args.file}")
    return 0
