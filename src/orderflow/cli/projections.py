"""``orderflow projections rebuild|status``: rebuild read models from the event store, or show how far they are."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orderflow.cli.output import add_json_flag, progress, show
from orderflow.cli.reading import open_existing
from orderflow.projections.catalog import all_views
from orderflow.projections.rebuild import rebuild
from orderflow.projections.runner import ProjectionRunner
from orderflow.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``projections rebuild`` and ``projections status`` to the ``orderflow`` command."""
    projections = subparsers.add_parser("projections", help="read models: rebuild them, or show how far they are")
    actions = projections.add_subparsers(dest="action", required=True)
    rebuilding = actions.add_parser("rebuild", help="rebuild read models from the event store and swap them in")
    rebuilding.add_argument("names", nargs="*", metavar="NAME", help="views to rebuild (all if none)")
    rebuilding.set_defaults(func=cmd_projections_rebuild)
    status = actions.add_parser("status", help="each view's position and lag")
    status.set_defaults(func=cmd_projections_status)
    for command in (rebuilding, status):
        add_json_flag(command)


def cmd_projections_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    engine = open_existing(settings)
    try:
        with progress("rebuilding read models") as update:
            positions = rebuild(engine.app, engine.db, args.names or None, progress=update)
    except ValueError as e:
        print(f"orderflow projections rebuild: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    show([{"view": name, "position": position} for name, position in positions.items()], args.json)
    return 0


def cmd_projections_status(settings: Settings, args: argparse.Namespace) -> int:
    engine = open_existing(settings)
    try:
        runner = ProjectionRunner(engine.app, engine.db, all_views(engine.db.is_postgres, engine.app))
        lag = runner.lag()
        rows = [{"view": v.name, "position": runner.position(v), "lag": lag[v.name]} for v in runner.views]
    finally:
        engine.close()
    show(rows, args.json)
    return 0
