"""The engine for a read command: an existing database only, caught up with the event store."""

from __future__ import annotations

from pathlib import Path

from orderflow.bootstrap import Engine, bootstrap
from orderflow.settings import Settings, sqlite_file


class NoDatabase(LookupError):
    """A read command was pointed at an embedded database that does not exist."""


def open_existing(settings: Settings) -> Engine:
    """The engine on the database the settings name, which must exist: a read command never creates one.

    An embedded (SQLite) file must be there; a PostgreSQL database that does not exist is refused by the server.
    """
    path = sqlite_file(settings.database_url)
    if path not in (None, ":memory:") and not Path(path).is_file():
        raise NoDatabase(f"no database at {path} (ORDERFLOW_DATABASE_URL={settings.database_url}): "
                         "run `orderflow run` there first, or point ORDERFLOW_DATABASE_URL at the engine's database")
    return bootstrap(settings)


def caught_up(settings: Settings) -> Engine:
    """:func:`open_existing`, with every read model caught up with the store."""
    engine = open_existing(settings)
    try:
        engine.projections.catch_up()
    except BaseException:
        engine.close()
        raise
    return engine
