"""Configuration, read from the environment in this one place.

Every setting has a default that works on a laptop: an embedded SQLite event
store in ``./var/orderflow.db`` and a Kafka broker on ``localhost:9092``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


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
class KafkaSecurity:
    """How every Kafka client the engine builds connects: TLS and SASL (see docs/security.md).

    Secrets come from the environment or from files (``..._FILE``) and are never printed (``repr`` hides them).
    """

    protocol: str = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    sasl_mechanism: str | None = None
    """PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."""
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = field(default=None, repr=False)
    ssl_check_hostname: bool = True

    def client_config(self) -> dict[str, object]:
        """The kafka-python keyword arguments for producers, consumers and admin clients."""
        protocol = self.protocol.upper()
        if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError("ORDERFLOW_KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
        config: dict[str, object] = {"security_protocol": protocol}
        if protocol.startswith("SASL"):
            mechanism = (self.sasl_mechanism or "").upper()
            if mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
                raise ValueError("ORDERFLOW_KAFKA_SASL_MECHANISM must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
            if not self.sasl_username or self.sasl_password is None:
                raise ValueError("SASL needs ORDERFLOW_KAFKA_SASL_USERNAME and ORDERFLOW_KAFKA_SASL_PASSWORD (or _FILE)")
            config |= {"sasl_mechanism": mechanism, "sasl_plain_username": self.sasl_username,
                       "sasl_plain_password": self.sasl_password}
        if protocol.endswith("SSL"):
            config["ssl_check_hostname"] = self.ssl_check_hostname
            for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_password"):
                if getattr(self, name):
                    config[name] = getattr(self, name)
        return config


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one orderflow process."""

    database_url: str = field(default="sqlite:///var/orderflow.db", repr=False)
    """Holds the database password: never printed as is (:func:`redact_url`)."""
    kafka_bootstrap: str = "localhost:9092"
    consumer_group: str = "orderflow"
    topics: Topics = field(default_factory=Topics)
    batch_size: int = 500
    session_timeout_ms: int = 10_000
    merge_grace_ms: int = 20
    max_idle_ms: int = 30_000
    park_deadline_seconds: int = 3_600
    order_url_template: str = "https://shop.example/orders/{storefront_reference}"
    schema_dir: Path = Path(str(files("orderflow.schemas")))
    """The JSON Schemas: the package's own (``orderflow.schemas``) unless ``ORDERFLOW_SCHEMA_DIR`` names others."""
    log_format: str = "console"
    cipher_keys: tuple[str, ...] = field(default=(), repr=False)
    """Event encryption keys, newest first: encrypt with the first, decrypt with any (empty: no encryption)."""
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)

    def kafka_config(self) -> dict[str, object]:
        """Bootstrap servers, TLS and SASL: what every Kafka client the engine builds is given."""
        return {"bootstrap_servers": self.kafka_bootstrap, **self.kafka_security.client_config()}
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
            database_url=secret(env, "ORDERFLOW_DATABASE_URL") or d.database_url,
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
            cipher_keys=tuple(
                key.strip()
                for key in [secret(env, "ORDERFLOW_CIPHER_KEY") or "", *(secret(env, "ORDERFLOW_CIPHER_OLD_KEYS") or "").split(",")]
                if key.strip()
            ),
            kafka_security=KafkaSecurity(
                protocol=env.get("ORDERFLOW_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
                sasl_mechanism=env.get("ORDERFLOW_KAFKA_SASL_MECHANISM"),
                sasl_username=secret(env, "ORDERFLOW_KAFKA_SASL_USERNAME"),
                sasl_password=secret(env, "ORDERFLOW_KAFKA_SASL_PASSWORD"),
                ssl_cafile=env.get("ORDERFLOW_KAFKA_SSL_CAFILE"),
                ssl_certfile=env.get("ORDERFLOW_KAFKA_SSL_CERTFILE"),
                ssl_keyfile=env.get("ORDERFLOW_KAFKA_SSL_KEYFILE"),
                ssl_password=secret(env, "ORDERFLOW_KAFKA_SSL_PASSWORD"),
                ssl_check_hostname=env.get("ORDERFLOW_KAFKA_SSL_CHECK_HOSTNAME", "true").lower() not in ("0", "false", "no"),
            ),
            backoff_max_seconds=float(env.get("ORDERFLOW_BACKOFF_MAX_SECONDS", d.backoff_max_seconds)),
            send_timeout_seconds=float(env.get("ORDERFLOW_SEND_TIMEOUT_SECONDS", d.send_timeout_seconds)),
            startup_timeout_seconds=float(env.get("ORDERFLOW_STARTUP_TIMEOUT_SECONDS", d.startup_timeout_seconds)),
            max_failures=int(env.get("ORDERFLOW_MAX_FAILURES", d.max_failures)),
            failure_window_seconds=float(env.get("ORDERFLOW_FAILURE_WINDOW_SECONDS", d.failure_window_seconds)),
        )


def secret(env, name: str) -> str | None:
    """``name`` from the environment, else the contents of the file ``name_FILE`` names (trailing newline dropped)."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().rstrip("\r\n")
    return None


def redact_url(url: str) -> str:
    """``url`` with its user and password replaced by ``***``: the form a URL is shown in, logs and errors included."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def redact_secrets(text: str, settings: Settings) -> str:
    """``text`` with every secret of ``settings`` (database password, SASL and TLS passwords, cipher keys) as ``***``."""
    text = text.replace(settings.database_url, redact_url(settings.database_url))
    url = urlsplit(settings.database_url)
    secrets = [url.password, unquote(url.password or ""), settings.kafka_security.sasl_password,
               settings.kafka_security.ssl_password, *settings.cipher_keys]
    for value in sorted({v for v in secrets if v and len(v) >= 3}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


LIBPQ_SSL = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
             "sslcrl": "PGSSLCRL"}


def libpq_ssl_env(database_url: str) -> dict[str, str]:
    """The TLS parameters of a ``postgresql://...?sslmode=verify-full&sslrootcert=...`` URL as libpq variables.

    The read models connect with the URL itself; the event store (the library
    connects with separate parameters) picks them up from these variables.
    """
    url = urlsplit(database_url)
    if url.scheme not in ("postgresql", "postgres"):
        return {}
    return {LIBPQ_SSL[name]: value for name, value in parse_qsl(url.query) if name in LIBPQ_SSL}


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
            "PROCESS_RECORDER_TOPIC": "orderflow.application.positions:SQLitePositionsRecorder",
        }
    if url.scheme in ("postgresql", "postgres"):
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "PROCESS_RECORDER_TOPIC": "orderflow.application.positions:PostgresPositionsRecorder",
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
