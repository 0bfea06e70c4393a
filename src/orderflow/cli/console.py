"""``orderflow console``: the back office's web console (the ``orderflow[console]`` extra, docs/console.md)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from orderflow.cli.reading import open_existing
from orderflow.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``console`` to the ``orderflow`` command."""
    console = subparsers.add_parser("console", help="serve the back office's web console (ORDERFLOW_CONSOLE_*)")
    console.add_argument("--hash-password", action="store_true",
                         help="read a password (from the terminal, or one line of stdin) and print its argon2 hash "
                              "for ORDERFLOW_CONSOLE_USERS")
    console.set_defaults(func=cmd_console)


def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from orderflow.console.app import build_app
        from orderflow.console.auth import HASHER, BadUsers
    except ImportError as error:
        print(f"orderflow console: needs the console extra (pip install 'orderflow[console]'): {error}", file=sys.stderr)
        return 2
    if args.hash_password:
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("orderflow console: an empty password cannot be hashed", file=sys.stderr)
            return 2
        print(HASHER.hash(password))
        return 0
    from orderflow.console.actions import Actions
    from orderflow.console.reads import ConsoleReader
    from orderflow.kafka import make_producer

    engine = open_existing(settings)
    # A broker that does not answer is said to the user within the action's timeout, not after a minute.
    wait_ms = int(settings.console.action_timeout_seconds * 1000)
    actions = Actions(settings, engine.app, engine.db,
                      lambda: make_producer(settings, max_block_ms=wait_ms, bootstrap_timeout_ms=wait_ms))
    try:
        app = build_app(settings.console, ConsoleReader(engine.app, engine.db), actions)
    except BadUsers as error:
        print(f"orderflow console: {error}", file=sys.stderr)
        engine.close()
        return 2
    c = settings.console
    if not app.state.console.users:
        print("orderflow console: no users: set ORDERFLOW_CONSOLE_USERS (docs/console.md); nobody can sign in",
              file=sys.stderr)
    print(f"orderflow console: http://{c.address}:{c.port}/", file=sys.stderr, flush=True)
    try:
        # No access log of uvicorn's: its lines carry query strings; the console logs its own without them.
        uvicorn.run(app, host=c.address, port=c.port, access_log=False, log_config=None,
                    timeout_graceful_shutdown=2, lifespan="off")
    finally:
        actions.close()
        engine.close()
    return 0
