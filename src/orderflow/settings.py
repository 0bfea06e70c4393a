"""Configuration, read from the environment in this one place.

Every setting has a default that works on a laptop: an embedded SQLite event
store in ``./var/orderflow.db`` and a Kafka broker on ``localhost:9092``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Topics:
    """Names of the Kafka topics orderflow reads and writes."""

    storefront: str = "orderflow.storefront.v1"
    erp: str = "orderflow.erp.v1"
    storefront_sync: str = "orderflow.storefront-sync.v1"
    notifications: str = "orderflow.notifications.v1"
    dead_letters: str = "orderflow.dead-letters.v1"

    @property
    def inbound(self) -> tuple[str, ...]:
        return (self.storefront, self.erp)

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.inbound, self.storefront_sync, self.notifications, self.dead_letters)


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one orderflow process."""

    database_url: str = "sqlite:///var/orderflow.db"
    kafka_bootstrap: str = "localhost:9092"
    consumer_group: str = "orderflow"
    topics: Topics = field(default_factory=Topics)
    batch_size: int = 500
    session_timeout_ms: int = 10_000
    merge_grace_ms: int = 20
    max_idle_ms: int = 30_000
    park_deadline_seconds: int = 3_600
    order_url_template: str = "https://shop.example/orders/{storefront_reference}"
    schema_dir: Path = REPO_ROOT / "schemas"
    log_format: str = "console"
    backoff_max_seconds: float = 30.0
    send_timeout_seconds: float = 30.0
    startup_timeout_seconds: float = 120.0
    max_failures: int = 10
    failure_window_seconds: float = 300.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        d = cls()
        topics = Topics(
            storefront=env.get("ORDERFLOW_TOPIC_STOREFRONT", d.topics.storefront),
            erp=env.get("ORDERFLOW_TOPIC_ERP", d.topics.erp),
            storefront_sync=env.get("ORDERFLOW_TOPIC_STOREFRONT_SYNC", d.topics.storefront_sync),
            notifications=env.get("ORDERFLOW_TOPIC_NOTIFICATIONS", d.topics.notifications),
            dead_letters=env.get("ORDERFLOW_TOPIC_DEAD_LETTERS", d.topics.dead_letters),
        )
        return cls(
            database_url=env.get("ORDERFLOW_DATABASE_URL", d.database_url),
            kafka_bootstrap=env.get("ORDERFLOW_KAFKA_BOOTSTRAP", d.kafka_bootstrap),
            consumer_group=env.get("ORDERFLOW_CONSUMER_GROUP", d.consumer_group),
            topics=topics,
            batch_size=int(env.get("ORDERFLOW_BATCH_SIZE", d.batch_size)),
            session_timeout_ms=int(env.get("ORDERFLOW_SESSION_TIMEOUT_MS", d.session_timeout_ms)),
            merge_grace_ms=int(env.get("ORDERFLOW_MERGE_GRACE_MS", d.merge_grace_ms)),
            max_idle_ms=int(env.get("ORDERFLOW_MAX_IDLE_MS", d.max_idle_ms)),
            park_deadline_seconds=int(env.get("ORDERFLOW_PARK_DEADLINE_SECONDS", d.park_deadline_seconds)),
            order_url_template=env.get("ORDERFLOW_ORDER_URL_TEMPLATE", d.order_url_template),
            schema_dir=Path(env.get("ORDERFLOW_SCHEMA_DIR", d.schema_dir)),
            log_format=env.get("ORDERFLOW_LOG_FORMAT", d.log_format),
            backoff_max_seconds=float(env.get("ORDERFLOW_BACKOFF_MAX_SECONDS", d.backoff_max_seconds)),
            send_timeout_seconds=float(env.get("ORDERFLOW_SEND_TIMEOUT_SECONDS", d.send_timeout_seconds)),
            startup_timeout_seconds=float(env.get("ORDERFLOW_STARTUP_TIMEOUT_SECONDS", d.startup_timeout_seconds)),
            max_failures=int(env.get("ORDERFLOW_MAX_FAILURES", d.max_failures)),
            failure_window_seconds=float(env.get("ORDERFLOW_FAILURE_WINDOW_SECONDS", d.failure_window_seconds)),
        )


def eventsourcing_env(database_url: str) -> dict[str, str]:
    """Translate a database URL into the ``eventsourcing`` library's environment.

    ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` select the
    embedded store (``sqlite:///:memory:`` is one in-memory database shared by the
    process); ``memory:`` keeps events in plain Python objects, for tests; ``postgresql://user:pw@host:port/db``
    selects PostgreSQL.
    """
    url = urlsplit(database_url)
    common = {"SINGLE_ROW_TRACKING": "t"}
    if url.scheme == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if url.scheme == "sqlite":
        path = unquote(url.path[1:]) if url.path.startswith("/") else unquote(url.path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            path = str(Path(path).resolve())
        else:
            path = "file::memory:?mode=memory&cache=shared"
        return {
            **common, "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
            "PROCESS_RECORDER_TOPIC": "orderflow.positions:SQLitePositionsRecorder",
        }
    if url.scheme in ("postgresql", "postgres"):
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "PROCESS_RECORDER_TOPIC": "orderflow.positions:PostgresPositionsRecorder",
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": url.hostname or "localhost",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            # Try a pooled connection before handing it out: after a server restart the pool holds closed ones.
            "POSTGRES_PRE_PING": "y",
            # How long a caller waits for a pooled connection while the server is unreachable.
            "POSTGRES_CONNECT_TIMEOUT": "10",
        }
    raise ValueError(f"unsupported ORDERFLOW_DATABASE_URL scheme {url.scheme!r}: use sqlite:///, postgresql:// or memory:")
