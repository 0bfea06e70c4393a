"""The ``orderflow`` command: run the engine, look at orders, make traffic."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import psycopg
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaTimeoutError

from orderflow import logs
from orderflow.cli import analyst, engine, privacy, projections, repairs, traffic, views
from orderflow.cli.reading import NoDatabase
from orderflow.kafka import MissingTopics, NotCoPartitioned
from orderflow.ownership import ForeignPositions
from orderflow.settings import BadSetting, Settings, redact_secrets, redact_url

COMMAND_GROUPS = (engine, views, repairs, traffic, privacy, analyst, projections)
"""One module per group of sub-commands, each with ``register(subparsers)``; a command's ``func`` takes settings and args."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orderflow", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(commands)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except BadSetting as error:  # one line naming the variable, no traceback
        print(f"orderflow {args.command}: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format)
    try:
        return args.func(settings, args) or 0
    except KafkaTimeoutError:
        print(f"orderflow {args.command}: no Kafka broker answers at {settings.kafka_bootstrap}; "
              "set ORDERFLOW_KAFKA_BOOTSTRAP (or start a local one with `make services-up`)", file=sys.stderr)
        return 2
    except (BadSetting, NotCoPartitioned, MissingTopics, NoDatabase, ForeignPositions) as error:
        print(f"orderflow {args.command}: {error}", file=sys.stderr)
        return 2
    except (psycopg.Error, PersistenceError) as error:  # never the URL or the password, even if the driver's text holds them
        print(f"orderflow {args.command}: database {redact_url(settings.database_url)}: "
              f"{redact_secrets(str(error), settings)}", file=sys.stderr)
        return 2
