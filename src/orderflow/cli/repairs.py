"""``orderflow errors``: the error journal grouped by cause, and putting right what failed (redrive, discard, reopen);
``orderflow parked release|reject``: the same for messages waiting for their order.

A thin layer over :mod:`orderflow.application.repair`, which the web console calls too.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from orderflow.application import repair
from orderflow.cli.output import add_json_flag, show
from orderflow.cli.reading import caught_up, open_existing
from orderflow.contract.envelope import parse_time
from orderflow.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``errors`` (and ``errors redrive|discard|reopen|actions``) to the ``orderflow`` command."""
    errors = subparsers.add_parser("errors", help="the error journal grouped by cause; redrive, discard, reopen")
    _filters(errors)
    errors.add_argument("--entries", action="store_true", help="list the entries, not their groups")
    errors.add_argument("--limit", type=int, default=1000, help="at most this many entries (with --entries)")
    add_json_flag(errors)
    errors.set_defaults(func=cmd_errors)
    actions = errors.add_subparsers(dest="action")

    redrive = actions.add_parser("redrive", help="send entries back through the inbound path (exactly once)")
    redrive.add_argument("entry", nargs="?", help="one entry's id")
    redrive.add_argument("--group", help="every open entry of this group (cause)")
    redrive.add_argument("--order", help="every open entry of this order (storefront reference)")
    redrive.add_argument("--since", type=_time, help="rejected at or after (ISO 8601 with offset)")
    redrive.add_argument("--until", type=_time, help="rejected before (ISO 8601 with offset)")
    redrive.add_argument("--dry-run", action="store_true", help="say what would be sent; change nothing")
    redrive.add_argument("--payload", type=Path, metavar="FILE", help="edit and redrive: the corrected payload (JSON)")
    redrive.set_defaults(func=cmd_redrive)

    discard = actions.add_parser("discard", help="close an entry for good: its record is never applied")
    discard.add_argument("entry", help="the entry's id")
    discard.add_argument("--reason", required=True, help="why (required, recorded)")
    discard.set_defaults(func=cmd_discard)

    reopen = actions.add_parser("reopen", help="open a discarded entry again")
    reopen.add_argument("entry", help="the entry's id")
    reopen.set_defaults(func=cmd_reopen)

    history = actions.add_parser("actions", help="what the back office did: every redrive, discard, reopen")
    history.add_argument("--limit", type=int, default=100)
    add_json_flag(history)
    history.set_defaults(func=cmd_actions)

    parked = subparsers.choices["parked"].add_subparsers(dest="action")  # the listing: orderflow.cli.views
    release = parked.add_parser("release", help="apply a parked message now, if its order exists")
    reject = parked.add_parser("reject", help="close a parked message for good: it is never applied")
    reject.add_argument("--reason", required=True, help="why (required, recorded)")
    for verdict, func in ((release, cmd_release), (reject, cmd_reject)):
        verdict.add_argument("message", nargs="?", help="the parked message's id")
        verdict.add_argument("--order", help="every message parked for this order (storefront reference)")
        verdict.set_defaults(func=func)

    for command in (redrive, discard, reopen, release, reject):
        command.add_argument("--user", help="the acting back-office user (default: ORDERFLOW_USER)")
        add_json_flag(command)


def _filters(parser: Any) -> None:
    parser.add_argument("--group", help="only this group (cause)")
    parser.add_argument("--order", help="only this order (storefront reference)")
    parser.add_argument("--type", dest="message_type", help="only this message type")
    parser.add_argument("--since", type=_time, help="rejected at or after (ISO 8601 with offset)")
    parser.add_argument("--until", type=_time, help="rejected before (ISO 8601 with offset)")
    parser.add_argument("--state", choices=repair.STATES, help="only entries in this state")


def _time(text: str) -> Any:
    try:
        return parse_time(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_errors(settings: Settings, args: argparse.Namespace) -> int:
    filters = repair.Filters(group=args.group, order=args.order, message_type=args.message_type, since=args.since,
                             until=args.until, state=args.state)
    engine = caught_up(settings)
    try:
        if args.entries:
            rows = [asdict(entry) for entry in repair.failed_entries(engine.db, filters, args.limit)]
        else:
            rows = [{**asdict(group), "message_types": ", ".join(group.message_types)}
                    for group in repair.failed_groups(engine.db, filters)]
    finally:
        engine.close()
    show(rows, args.json)
    return 0


def cmd_actions(settings: Settings, args: argparse.Namespace) -> int:
    engine = caught_up(settings)
    try:
        rows = [{**asdict(action), "scope": json.dumps(action.scope), "detail": json.dumps(action.detail)}
                if not args.json else asdict(action) for action in repair.actions(engine.db, args.limit)]
    finally:
        engine.close()
    show(rows, args.json)
    return 0


def cmd_redrive(settings: Settings, args: argparse.Namespace) -> int:
    payload = None
    if args.payload is not None:
        try:
            payload = json.loads(args.payload.read_text())
        except (OSError, ValueError) as error:
            return _refused(f"{args.payload}: cannot be read as JSON ({error})")
        if not isinstance(payload, dict):
            return _refused(f"{args.payload}: a payload is a JSON object")
    _exists(settings)
    try:
        scope = repair.Scope(entry_id=args.entry, group=args.group, order=args.order, since=args.since,
                             until=args.until)
        outcome = repair.redrive(settings, scope, user=_user(settings, args), dry_run=args.dry_run, payload=payload)
    except repair.RepairRefused as error:
        return _refused(str(error))
    rows = [{"entry": s.entry_id, "sent": "would send" if outcome.dry_run else "sent", "order": s.order,
             "message_type": s.message_type, "topic": s.topic, "partition": s.partition} for s in outcome.sent]
    rows += [{"entry": s.entry_id, "sent": "skipped", "why": s.why} for s in outcome.skipped]
    if args.json:
        show(rows, True)
    else:
        show(rows, False, title=f"{'Dry run: ' if outcome.dry_run else ''}{len(outcome.sent)} sent, "
                                f"{len(outcome.skipped)} skipped (action {outcome.action_id or 'none'})")
    return 0


def cmd_discard(settings: Settings, args: argparse.Namespace) -> int:
    return _change(settings, args, lambda user: repair.discard(settings, args.entry, user=user, reason=args.reason))


def cmd_reopen(settings: Settings, args: argparse.Namespace) -> int:
    return _change(settings, args, lambda user: repair.reopen(settings, args.entry, user=user))


def _change(settings: Settings, args: argparse.Namespace, act: Any) -> int:
    _exists(settings)
    try:
        change = act(_user(settings, args))
    except repair.RepairRefused as error:
        return _refused(str(error))
    show([asdict(change)], args.json)
    return 0


def cmd_release(settings: Settings, args: argparse.Namespace) -> int:
    return _verdict(settings, args, lambda wanted, by_order, user: repair.release_parked(
        settings, wanted, user=user, by_order=by_order))


def cmd_reject(settings: Settings, args: argparse.Namespace) -> int:
    return _verdict(settings, args, lambda wanted, by_order, user: repair.reject_parked(
        settings, wanted, user=user, reason=args.reason, by_order=by_order))


def _verdict(settings: Settings, args: argparse.Namespace, act: Any) -> int:
    if (args.message is None) == (args.order is None):
        return _refused("give either a parked message's id or --order", "parked")
    _exists(settings)
    try:
        outcome = act(args.order or args.message, args.order is not None, _user(settings, args))
    except repair.RepairRefused as error:
        return _refused(str(error), "parked")
    rows = [{"message": s.entry_id, "sent": "sent", "order": s.order, "message_type": s.message_type,
             "topic": s.topic, "partition": s.partition} for s in outcome.sent]
    rows += [{"message": s.entry_id, "sent": "skipped", "why": s.why} for s in outcome.skipped]
    show(rows, args.json, title=f"{outcome.action}: {len(outcome.sent)} sent, {len(outcome.skipped)} skipped "
                                f"(action {outcome.action_id})")
    return 0


def _user(settings: Settings, args: argparse.Namespace) -> str:
    return args.user or settings.user or ""


def _exists(settings: Settings) -> None:
    open_existing(settings).close()  # an action never creates a database either


def _refused(reason: str, command: str = "errors") -> int:
    print(f"orderflow {command}: {reason}", file=sys.stderr)
    return 1
