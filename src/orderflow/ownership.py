"""One database, one consumer group: the group whose processes record positions in a database is written in it.

The inbound positions in the database, not the group's offsets in Kafka, are
where a consumer resumes. Two consumer groups on one database (a renamed
group, a second deployment) would each be given every partition and apply
the stream twice. So the first ``orderflow run`` on a database writes its
group in ``consumer_group_owner`` (one row), and every start checks it:
another group is refused with :class:`ForeignPositions`, before it joins the
group or reads a record. Handing a database to a renamed group is an
operator's act, once every process of the old group has stopped
(docs/operations.md: one ``UPDATE``).
"""

from __future__ import annotations

from datetime import datetime

from orderflow.db import Database, schema_lock
from orderflow.settings import redact_url

TABLE = "consumer_group_owner"


class ForeignPositions(RuntimeError):
    """The database's positions belong to another consumer group: a configuration error (exit code 2)."""


def claim(db: Database, database_url: str, group: str, now: datetime) -> None:
    """Record ``group`` as the owner of the database's positions if none is, and check it is the owner."""
    with schema_lock(database_url):
        with db.transaction() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), "
                           "consumer_group TEXT NOT NULL, since TEXT NOT NULL)")
    with db.transaction() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (id, consumer_group, since) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
                       (group, now.isoformat()))
        cursor.execute(f"SELECT consumer_group, since FROM {TABLE} WHERE id = 1")
        row = cursor.fetchone()
    assert row is not None  # the row is there: inserted above, or before
    owner, since = row
    if owner != group:
        raise ForeignPositions(
            f"the positions in database {redact_url(database_url)} belong to consumer group {owner!r} (since "
            f"{since}), not to {group!r}: two groups on one database would apply the stream twice. Set "
            f"ORDERFLOW_CONSUMER_GROUP={owner}, or give group {group!r} a database of its own; to rename the group, "
            f"stop every process of {owner!r}, then UPDATE {TABLE} SET consumer_group = '{group}'")
