"""Who may use the console: users and roles from configuration, argon2 passwords, sign-in limits, CSRF tokens.

Users come from ``ORDERFLOW_CONSOLE_USERS`` (JSON, see :func:`read_users`); a
password is only ever kept as its argon2 hash (``orderflow console
hash-password`` makes one). With ``ORDERFLOW_CONSOLE_TRUSTED_HEADER`` set, an
authenticating reverse proxy names the user in that header instead, and the
user's roles still come from the configuration. The session (Starlette's
``SessionMiddleware``: a cookie signed with itsdangerous) holds the user id,
the sign-in time, which ends it after ``ORDERFLOW_CONSOLE_SESSION_MAX_AGE_SECONDS``
however active it was, and the CSRF token every unsafe request must carry.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from orderflow.aggregates.order_taking_setup import Permission, Permissions
from orderflow.aggregates.values import Actor

HASHER = PasswordHasher()
_DUMMY_HASH = HASHER.hash(secrets.token_hex(16))
"""Verified against when the user id is unknown, so that a wrong id takes as long as a wrong password."""


class BadUsers(ValueError):
    """``ORDERFLOW_CONSOLE_USERS`` is not the JSON it must be; the text says what is wrong (never a hash)."""


@dataclass(frozen=True)
class User:
    """A console user: id, display name, roles (the order-taking setup's role names) and argon2 hash."""

    user_id: str
    name: str
    roles: tuple[str, ...]
    password_hash: str = ""

    def actor(self) -> Actor:
        """The user as the actor of the messages they publish."""
        return Actor.back_office(self.user_id, self.name, "", *self.roles)

    def may(self, permissions: Permissions, permission: Permission) -> bool:
        """Whether the setup lets one of this user's roles do ``permission`` (decides which buttons show)."""
        return bool(permissions.roles.get(permission, frozenset()).intersection(self.roles))


def read_users(text: str) -> dict[str, User]:
    """``{"id": {"password_hash": "$argon2id$...", "roles": ["Sales"], "name": "Ann Clerk"}, ...}`` as users."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise BadUsers("ORDERFLOW_CONSOLE_USERS is not JSON") from None
    if not isinstance(data, dict):
        raise BadUsers("ORDERFLOW_CONSOLE_USERS must be a JSON object of user id: {password_hash, roles, name}")
    users = {}
    for user_id, entry in data.items():
        roles = entry.get("roles") if isinstance(entry, dict) else None
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise BadUsers(f"ORDERFLOW_CONSOLE_USERS: user {user_id!r} needs roles, a list of role names")
        password_hash = entry.get("password_hash", "")
        if password_hash and not str(password_hash).startswith("$argon2"):
            raise BadUsers(f"ORDERFLOW_CONSOLE_USERS: the password of {user_id!r} must be an argon2 hash "
                           "(orderflow console hash-password), never the password itself")
        users[user_id] = User(user_id, str(entry.get("name") or user_id), tuple(roles), str(password_hash))
    return users


def verify(users: dict[str, User], user_id: str, password: str) -> User | None:
    """The user if ``password`` is theirs, else None (an unknown id costs the same hash check)."""
    user = users.get(user_id)
    try:
        HASHER.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


class SignInLimiter:
    """At most ``per_minute`` failed sign-ins per user id and per client address in any 60 seconds (this process)."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def allowed(self, *keys: str) -> bool:
        now = self.clock()
        for key in keys:
            failures = self._failures[key]
            while failures and now - failures[0] > 60:
                failures.popleft()
            if len(failures) >= self.per_minute:
                return False
        return True

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._failures[key].append(self.clock())


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Whether the token sent with an unsafe request is the session's (compared in constant time)."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
