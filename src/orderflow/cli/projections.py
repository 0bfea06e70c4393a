"""``orderflow projections rebuild|status``: rebuild read models from the event store, or show how far they are."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orderflow.bootstrap import bootstrap
from orderflow.cli.text import format_table, progress_bar
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
    actions.add_parser("status", help="each view's position and lag").set_defaults(func=cmd_projections_status)


def cmd_projections_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    engine = bootstrap(settings)
    try:
        positions = rebuild(engine.app, engine.db, args.names or None,
                            progress=lambda done, total: print("\r" + progress_bar(done, total), end="", file=sys.stderr))
    except ValueError as e:
        print(f"orderflow projections rebuild: {e}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    print(file=sys.stderr)
    print(format_table([{"view": name, "position": position} for name, position in positions.items()]))
    return 0


def cmd_projections_status(settings: Settings, args: argparse.Namespace) -> int:
    engine = bootstrap(settings)
    try:
        runner = ProjectionRunner(engine.app, engine.db, all_views(engine.db.is_postgres, engine.app))
        lag = runner.lag()
        rows = [{"view": v.name, "position": runner.position(v), "lag": lag[v.name]} for v in runner.views]
    finally:
        engine.close()
    print(format_table(rows))
    return 0
