"""Configuration, read from the environment in this one place (pydantic-settings: :class:`Environment`).

Every setting has a default that works on a laptop: an embedded SQLite event
store in ``./var/orderflow.db`` and a Kafka broker on ``localhost:9092``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.resources import files
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict


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
class ConsoleSettings:
    """The back-office web console's configuration (``orderflow console``, docs/console.md)."""

    address: str = "127.0.0.1"
    port: int = 8400
    users_json: str = field(default="", repr=False)
    """``{"user id": {"password_hash": "$argon2id$...", "roles": ["Sales"], "name": "..."}}``: who may sign in."""
    session_secret: str = field(default="", repr=False)
    """Signs the session cookie; every console process behind one address needs the same."""
    session_max_age_seconds: int = 8 * 3600
    trusted_header: str = ""
    """A header an authenticating reverse proxy sets to the signed-in user id (empty: sign in with a password)."""
    personal_roles: tuple[str, ...] = ("Admin", "Sales", "Sales Manager", "Cashier")
    """Roles that see personal fields; every other role sees them masked."""
    action_timeout_seconds: float = 5.0
    signin_attempts_per_minute: int = 5


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one orderflow process (read from the environment by :class:`Environment`)."""

    database_url: str = field(default="sqlite:///var/orderflow.db", repr=False)
    """Holds the database password: never printed as is (:func:`redact_url`)."""
    kafka_bootstrap: str = "localhost:9092"
    consumer_group: str = "orderflow"
    topics: Topics = field(default_factory=Topics)
    batch_size: int = 500
    session_timeout_ms: int = 10_000
    merge_grace_ms: int = 20
    max_idle_ms: int = 30_000
    followers_nice: int = 10
    park_deadline_seconds: int = 3_600
    order_url_template: str = "https://shop.example/orders/{storefront_reference}"
    schema_dir: Path = Path(str(files("orderflow.schemas")))
    """The JSON Schemas: the package's own (``orderflow.schemas``) unless ``ORDERFLOW_SCHEMA_DIR`` names others."""
    log_format: str = "console"
    cipher_keys: tuple[str, ...] = field(default=(), repr=False)
    """Event encryption keys, newest first: encrypt with the first, decrypt with any (empty: no encryption)."""
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)

    def where(self) -> dict[str, str]:
        """The ``ORDERFLOW_*`` variables naming this process's database, Kafka, group and topics (for the
        ``orderflow`` commands a test or a benchmark starts on the same services)."""
        t = self.topics
        return {
            f"{PREFIX}DATABASE_URL": self.database_url, f"{PREFIX}KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            f"{PREFIX}CONSUMER_GROUP": self.consumer_group, f"{PREFIX}TOPIC_STOREFRONT": t.storefront,
            f"{PREFIX}TOPIC_ERP": t.erp, f"{PREFIX}TOPIC_STOREFRONT_SYNC": t.storefront_sync,
            f"{PREFIX}TOPIC_NOTIFICATIONS": t.notifications, f"{PREFIX}TOPIC_DEAD_LETTERS": t.dead_letters,
        }

    def kafka_config(self) -> dict[str, object]:
        """Bootstrap servers, TLS and SASL: what every Kafka client the engine builds is given."""
        return {"bootstrap_servers": self.kafka_bootstrap, **self.kafka_security.client_config()}
    backoff_max_seconds: float = 30.0
    send_timeout_seconds: float = 30.0
    startup_timeout_seconds: float = 120.0
    max_failures: int = 10
    failure_window_seconds: float = 300.0
    create_topics: bool = True
    topic_partitions: int = 4
    topic_replication_factor: int = 1
    metrics_port: int | None = None
    metrics_address: str = "0.0.0.0"
    live_timeout_seconds: float = 60.0
    ready_max_lag: int = 1_000
    user: str | None = None
    """Who runs a command: the back-office user a repair acts as, and who an export with personal data is logged for."""
    console: ConsoleSettings = field(default_factory=ConsoleSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the ``ORDERFLOW_*`` variables of ``environ`` (default: the process's) give.

        A value that does not parse raises :class:`BadSetting`, whose text is one line naming the variable.
        """
        return Environment.read(environ).settings()


class BadSetting(ValueError):
    """An ``ORDERFLOW_*`` variable holds a value orderflow cannot use; the text names it and says why, in one line."""


PREFIX = "ORDERFLOW_"
SECRETS = ("database_url", "cipher_key", "cipher_old_keys", "kafka_sasl_username", "kafka_sasl_password",
           "kafka_ssl_password", "console_users", "console_session_secret")
"""Settings that may instead come from a file named by ``ORDERFLOW_<NAME>_FILE`` (trailing newline dropped)."""
_DEFAULT = Settings()
_TOPICS = Topics()
_CONSOLE = ConsoleSettings()
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("orderflow_environ", default=None)


class _Environ(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of ``os.environ`` when one is set."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        return {name if self.case_sensitive else name.lower(): value for name, value in environ.items()
                if value or not self.env_ignore_empty}


TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "memory")


def _topic(value: str) -> str:
    if not TOPIC_NAME.fullmatch(value) or value in (".", ".."):
        raise ValueError("a Kafka topic name is 1 to 249 letters, digits, '.', '_' or '-'")
    return value


def _group(value: str) -> str:
    if len(value) > 249 or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("a consumer group is at most 249 printable characters, no spaces")
    return value


def _user(value: str) -> str:
    if len(value) > 100 or value != value.strip() or not value.isprintable():
        raise ValueError("a user is at most 100 printable characters, without spaces at either end")
    return value


def _header(value: str) -> str:
    if value and not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}", value):
        raise ValueError("must be an HTTP header name (letters, digits and -, no spaces or colon)")
    return value


def _roles(value: str) -> str:
    if any(len(role.strip()) > 50 or not role.strip().isprintable() for role in value.split(",") if role.strip()):
        raise ValueError("must be role names of at most 50 printable characters, separated by commas")
    return value


def check_console_users(text: str) -> None:
    """``ValueError`` (never quoting a hash) unless ``text`` is the console's users JSON (docs/console.md)."""
    try:
        users = json.loads(text)
    except ValueError:
        raise ValueError("not JSON: an object of user id: {password_hash, roles, name}") from None
    if not isinstance(users, dict) or not all(
            isinstance(entry, dict) and isinstance(entry.get("roles"), list)
            and all(isinstance(role, str) for role in entry["roles"])
            and str(entry.get("password_hash", "") or "$argon2").startswith("$argon2") for entry in users.values()):
        raise ValueError("each user needs roles (a list of role names) and, to sign in with a password, "
                         "an argon2 password_hash (orderflow console --hash-password), never the password")


def check_session_secret(secret: str) -> None:
    if len(secret) < 16:
        raise ValueError("a session secret has at least 16 characters")


def _host(value: str) -> bool:
    try:
        ip_address(value.strip("[]"))
    except ValueError:
        return bool(HOST_NAME.fullmatch(value))
    return True


def _bootstrap(value: str) -> str:
    for server in value.split(","):
        host, sep, port = server.strip().rpartition(":")
        if not sep or not _host(host) or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port[,host:port], each port a number from 1 to 65535")
    return value


def _address(value: str) -> str:
    if not _host(value):
        raise ValueError("must be a host name or an IP address")
    return value


def _url_template(value: str) -> str:
    try:
        value.format(storefront_reference="SF-1", web_order_no="WO-1", order_id="0")
    except (KeyError, IndexError, ValueError, AttributeError):
        raise ValueError("may use only {storefront_reference}, {web_order_no} and {order_id} "
                         "(a literal brace doubled: {{ }})") from None
    return value


def _directory(value: Path) -> Path:
    if not value.is_dir():
        raise ValueError("is not a directory")
    return value


def _readable(value: Path | str | None) -> Path | str | None:
    if value is not None:
        try:
            with open(value, "rb"):
                pass
        except OSError as error:
            raise ValueError(f"cannot be read ({error.strerror})") from None
    return value


def check_database_url(url: str) -> None:
    """``ValueError`` (never quoting the URL, which may hold a password) unless orderflow can use ``url``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError(f"not a URL orderflow can use ({error})") from None
    if parts.scheme not in DATABASE_SCHEMES:
        raise ValueError(f"unsupported scheme {parts.scheme!r}: use sqlite:///FILE, "
                         "postgresql://user:password@host:port/db or memory:")
    if parts.scheme == "sqlite" and not sqlite_file(url):
        raise ValueError("a sqlite URL names a file: sqlite:///relative.db or sqlite:////absolute.db")


Topic = Annotated[str, AfterValidator(_topic)]
Readable = Annotated[Path | None, AfterValidator(_readable)]


def _kafka_protocol(value: str) -> str:
    value = value.upper()
    if value not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError("must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    return value


def _sasl_mechanism(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.upper()
    if value not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        raise ValueError("must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    return value


class Environment(BaseSettings):
    """Every ``ORDERFLOW_*`` variable, its type, default and meaning: the one place settings are read.

    The field ``batch_size`` is the variable ``ORDERFLOW_BATCH_SIZE``, and so on
    (docs/operations.md lists them all). Secrets are :class:`SecretStr` and may
    come from a file instead (``ORDERFLOW_DATABASE_URL_FILE``, ...).
    """

    model_config = SettingsConfigDict(env_prefix=PREFIX, case_sensitive=False, env_ignore_empty=True, extra="ignore",
                                      frozen=True)

    database_url: SecretStr | None = Field(None, description=(
        f"The event store and read models (default {_DEFAULT.database_url}): sqlite:///relative.db, "
        "sqlite:////absolute.db, postgresql://user:password@host:port/db (libpq sslmode etc. as query parameters) "
        "or memory: (tests; not for orderflow run, whose followers run in a process of their own)"))
    database_url_file: Readable = Field(None, description="A file holding ORDERFLOW_DATABASE_URL")
    kafka_bootstrap: Annotated[str, AfterValidator(_bootstrap)] = Field(_DEFAULT.kafka_bootstrap, description="Kafka bootstrap servers, host:port[,host:port]")
    consumer_group: Annotated[str, AfterValidator(_group)] = Field(_DEFAULT.consumer_group, description="Consumer group of the `orderflow run` processes")
    topic_storefront: Topic = Field(_TOPICS.storefront, description="Inbound topic of the storefront's messages")
    topic_erp: Topic = Field(_TOPICS.erp, description="Inbound topic of the ERP's messages (co-partitioned with the storefront topic)")
    topic_storefront_sync: Topic = Field(_TOPICS.storefront_sync, description="Outbound topic: each order's current state for the storefront")
    topic_notifications: Topic = Field(_TOPICS.notifications, description="Outbound topic: new order, comment, approval requested, confirmed, status changed")
    topic_dead_letters: Topic = Field(_TOPICS.dead_letters, description="Messages that could not be applied, with `dlq_*` headers saying why")
    create_topics: bool = Field(_DEFAULT.create_topics, description=(
        "Create missing topics at start (true|false); false for clusters whose topics are managed elsewhere: "
        "a missing topic is then an error naming it"))
    topic_partitions: int = Field(_DEFAULT.topic_partitions, ge=1, description=(
        "Partitions of the topics orderflow creates (the inbound pair must always have equal counts)"))
    topic_replication_factor: int = Field(_DEFAULT.topic_replication_factor, ge=1, description=(
        "Replication factor of the topics orderflow creates (3 on a production cluster)"))
    batch_size: int = Field(_DEFAULT.batch_size, ge=1, description=(
        "Records per poll and per database transaction; also the followers' batch"))
    session_timeout_ms: int = Field(_DEFAULT.session_timeout_ms, ge=1, description="How soon the group gives a silent consumer's partitions to the others")
    merge_grace_ms: int = Field(_DEFAULT.merge_grace_ms, ge=0, description=(
        "How long a message waits, once read, for a caught-up partition of the other topic, where one published "
        "at the same moment may still be on its way"))
    max_idle_ms: int = Field(_DEFAULT.max_idle_ms, ge=0, description=(
        "How long a partition behind its end offset that delivers nothing may hold the merge back"))
    followers_nice: int = Field(_DEFAULT.followers_nice, ge=0, le=19, description=(
        "How much lower the followers process's CPU priority is than the inbound loop's (nice increment, 0-19): "
        "on a busy machine the inbound batch, whose commit makes a message visible, gets the CPU first"))
    park_deadline_seconds: int = Field(_DEFAULT.park_deadline_seconds, ge=0, description=(
        "How long (in event time) a message waits for its order before it is rejected as OrderNeverArrived"))
    order_url_template: Annotated[str, AfterValidator(_url_template)] = Field(_DEFAULT.order_url_template, description=(
        "The order link in notifications ({storefront_reference}, {web_order_no}, {order_id})"))
    schema_dir: Annotated[Path, AfterValidator(_directory)] = Field(_DEFAULT.schema_dir, description="The JSON Schemas of the wire contract")
    log_format: Literal["console", "json"] = Field("console", description=(
        "console (readable key=value) or json (one JSON record per line, the libraries' records included)"))
    cipher_key: SecretStr | None = Field(None, description="Key encrypting personal fields at rest (unset: no encryption)")
    cipher_key_file: Readable = Field(None, description="A file holding ORDERFLOW_CIPHER_KEY")
    cipher_old_keys: SecretStr | None = Field(None, description="Earlier keys, comma-separated: still decrypt, never encrypt")
    cipher_old_keys_file: Readable = Field(None, description="A file holding ORDERFLOW_CIPHER_OLD_KEYS")
    kafka_security_protocol: Annotated[str, AfterValidator(_kafka_protocol)] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    kafka_sasl_mechanism: Annotated[str | None, AfterValidator(_sasl_mechanism)] = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL protocol)")
    kafka_sasl_username: SecretStr | None = Field(None, description="SASL user name")
    kafka_sasl_username_file: Readable = Field(None, description="A file holding ORDERFLOW_KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password")
    kafka_sasl_password_file: Readable = Field(None, description="A file holding ORDERFLOW_KAFKA_SASL_PASSWORD")
    kafka_ssl_cafile: Annotated[str | None, AfterValidator(_readable)] = Field(None, description="CA certificates (PEM) to verify the brokers")
    kafka_ssl_certfile: Annotated[str | None, AfterValidator(_readable)] = Field(None, description="Client certificate (PEM), for mutual TLS")
    kafka_ssl_keyfile: Annotated[str | None, AfterValidator(_readable)] = Field(None, description="Client private key (PEM), for mutual TLS")
    kafka_ssl_password: SecretStr | None = Field(None, description="Password of the client private key")
    kafka_ssl_password_file: Readable = Field(None, description="A file holding ORDERFLOW_KAFKA_SSL_PASSWORD")
    kafka_ssl_check_hostname: bool = Field(True, description="Check the broker certificate's host name (true|false)")
    backoff_max_seconds: float = Field(_DEFAULT.backoff_max_seconds, allow_inf_nan=False, gt=0, description=(
        "Longest wait between retries of a failing component"))
    send_timeout_seconds: float = Field(_DEFAULT.send_timeout_seconds, allow_inf_nan=False, gt=0, description=(
        "How long the outbound publisher waits for the broker's acknowledgement"))
    startup_timeout_seconds: float = Field(_DEFAULT.startup_timeout_seconds, allow_inf_nan=False, gt=0, description=(
        "How long `orderflow run` retries an unreachable broker or database at start before it exits"))
    max_failures: int = Field(_DEFAULT.max_failures, ge=1, description=(
        "Failures in a row (with ORDERFLOW_FAILURE_WINDOW_SECONDS) after which the process exits with code 3"))
    failure_window_seconds: float = Field(_DEFAULT.failure_window_seconds, allow_inf_nan=False, ge=0, description=(
        "The shortest streak of failures, in seconds, that makes the process give up"))
    metrics_port: int | None = Field(None, ge=0, le=65535, description=(
        "Port of the HTTP server with /metrics, /health/live and /health/ready (unset: no server)"))
    metrics_address: Annotated[str, AfterValidator(_address)] = Field(_DEFAULT.metrics_address, description="Address that server listens on")
    live_timeout_seconds: float = Field(_DEFAULT.live_timeout_seconds, allow_inf_nan=False, gt=0, description=(
        "/health/live answers 503 when the main loop has not turned for this long"))
    ready_max_lag: int = Field(_DEFAULT.ready_max_lag, ge=0, description=(
        "/health/ready answers 503 while the inbound consumer lag (records not recorded yet, all partitions) is above this"))
    user: Annotated[str | None, AfterValidator(lambda v: v if v is None else _user(v))] = Field(None, description=(
        "Who runs a command (a back-office user no. or name): the user `orderflow errors redrive|discard|reopen` and "
        "`orderflow parked release|reject` act as, and who `orderflow export --include-personal` is logged for; "
        "`--user` overrides it"))
    console_address: Annotated[str, AfterValidator(_address)] = Field(_CONSOLE.address, description="Address the web console (orderflow console) listens on")
    console_port: int = Field(_CONSOLE.port, ge=0, le=65535, description="Port of the web console")
    console_users: SecretStr | None = Field(None, description=(
        'The console\'s users, JSON: {"user id": {"password_hash": "$argon2id$...", "roles": ["Sales"], "name": "..."}} '
        "(hashes from `orderflow console --hash-password`)"))
    console_users_file: Path | None = Field(None, description="A file holding ORDERFLOW_CONSOLE_USERS")
    console_session_secret: SecretStr | None = Field(None, description=(
        "Key signing the console's session cookie (unset: a random one per process, sessions end at restart)"))
    console_session_secret_file: Path | None = Field(None, description="A file holding ORDERFLOW_CONSOLE_SESSION_SECRET")
    console_session_max_age_seconds: int = Field(_CONSOLE.session_max_age_seconds, ge=60, description=(
        "A console session expires this long after sign-in"))
    console_trusted_header: Annotated[str, AfterValidator(_header)] = Field(_CONSOLE.trusted_header, description=(
        "Header set by an authenticating reverse proxy to the user id (e.g. X-Forwarded-User); unset: password sign-in. "
        "Only with a proxy that strips it from clients"))
    console_personal_roles: Annotated[str, AfterValidator(_roles)] = Field(",".join(_CONSOLE.personal_roles), description=(
        "Comma-separated roles that see personal fields in the console; other roles see them masked"))
    console_action_timeout_seconds: float = Field(_CONSOLE.action_timeout_seconds, gt=0, description=(
        "How long the console waits for the engine to apply or refuse an action it published"))
    console_signin_attempts_per_minute: int = Field(_CONSOLE.signin_attempts_per_minute, ge=1, description=(
        "Failed sign-ins allowed per user id and per client address in a minute; more are refused"))

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, _Environ(settings_cls))

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """The variables of ``environ`` (default ``os.environ``); :class:`BadSetting` for the first bad one."""
        token = _ENVIRON.set(environ)
        try:
            return cls()
        except ValidationError as error:
            raise BadSetting(describe(error)) from None
        finally:
            _ENVIRON.reset(token)

    def secret(self, name: str) -> str | None:
        """The secret ``name``, from its variable or else from the file its ``_FILE`` variable names."""
        value = getattr(self, name)
        if value is not None and value.get_secret_value():
            return value.get_secret_value()
        path = getattr(self, f"{name}_file")
        if path is None:
            return None
        try:
            return Path(path).read_text().rstrip("\r\n")
        except OSError as error:
            raise BadSetting(f"{PREFIX}{name.upper()}_FILE={path}: cannot be read ({error.strerror})") from None

    def settings(self) -> Settings:
        """The engine's :class:`Settings`; :class:`BadSetting` for what only makes sense read together
        (a secret from its file, the Kafka security options)."""
        from orderflow.application.ciphers import check_key

        database_url = self.secret("database_url") or _DEFAULT.database_url
        _refuse(self._source("database_url"), check_database_url, database_url)
        keys = []
        for name in ("cipher_key", "cipher_old_keys"):  # the key first, then the earlier ones
            for key in (k.strip() for k in (self.secret(name) or "").split(",")):
                if key:
                    _refuse(self._source(name), check_key, key)
                    keys.append(key)
        settings = self._settings(database_url, tuple(keys))
        self._check_kafka_security(settings.kafka_security)
        return settings

    def _source(self, name: str) -> str:
        """The variable a secret was read from: ``ORDERFLOW_NAME``, or its ``_FILE``."""
        value = getattr(self, name)
        if value is None or not value.get_secret_value():
            if getattr(self, f"{name}_file") is not None:
                return f"{PREFIX}{name.upper()}_FILE"
        return f"{PREFIX}{name.upper()}"

    def _check_kafka_security(self, security: KafkaSecurity) -> None:
        """SASL options without a SASL protocol, TLS options without TLS, or SASL without its mechanism or user:
        a setting that would be ignored or a connection that cannot work is refused at once."""
        protocol = security.protocol
        unused = [name for name in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_username_file",
                                    "kafka_sasl_password", "kafka_sasl_password_file")
                  if not protocol.startswith("SASL") and getattr(self, name) is not None]
        unused += [name for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile",
                                     "kafka_ssl_password", "kafka_ssl_password_file")
                   if not protocol.endswith("SSL") and getattr(self, name) is not None]
        if unused:
            raise BadSetting(f"{PREFIX}{unused[0].upper()} is set, but ORDERFLOW_KAFKA_SECURITY_PROTOCOL={protocol} "
                             "does not use it (SASL options need SASL_PLAINTEXT or SASL_SSL, TLS options SSL or "
                             "SASL_SSL)")
        _refuse("", lambda s: s.client_config(), security)

    def _settings(self, database_url: str, cipher_keys: tuple[str, ...]) -> Settings:
        return Settings(
            database_url=database_url,
            kafka_bootstrap=self.kafka_bootstrap,
            consumer_group=self.consumer_group,
            topics=Topics(storefront=self.topic_storefront, erp=self.topic_erp,
                          storefront_sync=self.topic_storefront_sync, notifications=self.topic_notifications,
                          dead_letters=self.topic_dead_letters),
            batch_size=self.batch_size,
            session_timeout_ms=self.session_timeout_ms,
            merge_grace_ms=self.merge_grace_ms,
            max_idle_ms=self.max_idle_ms,
            followers_nice=self.followers_nice,
            park_deadline_seconds=self.park_deadline_seconds,
            order_url_template=self.order_url_template,
            schema_dir=self.schema_dir,
            log_format=self.log_format,
            cipher_keys=cipher_keys,
            kafka_security=KafkaSecurity(
                protocol=self.kafka_security_protocol,
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_username=self.secret("kafka_sasl_username"),
                sasl_password=self.secret("kafka_sasl_password"),
                ssl_cafile=self.kafka_ssl_cafile,
                ssl_certfile=self.kafka_ssl_certfile,
                ssl_keyfile=self.kafka_ssl_keyfile,
                ssl_password=self.secret("kafka_ssl_password"),
                ssl_check_hostname=self.kafka_ssl_check_hostname,
            ),
            backoff_max_seconds=self.backoff_max_seconds,
            send_timeout_seconds=self.send_timeout_seconds,
            startup_timeout_seconds=self.startup_timeout_seconds,
            max_failures=self.max_failures,
            failure_window_seconds=self.failure_window_seconds,
            create_topics=self.create_topics,
            topic_partitions=self.topic_partitions,
            topic_replication_factor=self.topic_replication_factor,
            metrics_port=self.metrics_port,
            metrics_address=self.metrics_address,
            live_timeout_seconds=self.live_timeout_seconds,
            ready_max_lag=self.ready_max_lag,
            user=self.user,
            console=self._console(),
        )

    def _console(self) -> ConsoleSettings:
        users, secret = self.secret("console_users") or "", self.secret("console_session_secret") or ""
        if users:
            _refuse(self._source("console_users"), check_console_users, users)
        if secret:
            _refuse(self._source("console_session_secret"), check_session_secret, secret)
        return ConsoleSettings(
            address=self.console_address,
            port=self.console_port,
            users_json=users,
            session_secret=secret,
            session_max_age_seconds=self.console_session_max_age_seconds,
            trusted_header=self.console_trusted_header,
            personal_roles=tuple(r.strip() for r in self.console_personal_roles.split(",") if r.strip()),
            action_timeout_seconds=self.console_action_timeout_seconds,
            signin_attempts_per_minute=self.console_signin_attempts_per_minute,
        )


def _refuse(variable: str, check: Callable[[Any], object], value: Any) -> None:
    """:class:`BadSetting` ``variable: why`` if ``check(value)`` raises ``ValueError`` (whose text never holds a secret)."""
    try:
        check(value)
    except ValueError as error:
        raise BadSetting(f"{variable}: {error}" if variable else str(error)) from None


def variables() -> dict[str, str]:
    """Every ``ORDERFLOW_*`` variable and its meaning, in declaration order (for docs and their test)."""
    return {f"{PREFIX}{name.upper()}": field.description or "" for name, field in Environment.model_fields.items()}


def describe(error: ValidationError) -> str:
    """A validation error as one line: the variable, its value (never a secret's) and what is wrong."""
    problems = []
    for problem in error.errors(include_url=False):
        name = str(problem["loc"][0]) if problem["loc"] else ""
        variable = f"{PREFIX}{name.upper()}"
        shown = "" if name in SECRETS or "input" not in problem else f"={str(problem['input'])[:80]!r}"
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{variable}{shown}: {message}")
    return "; ".join(problems).replace("\n", " ")


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


def sqlite_file(database_url: str) -> str | None:
    """The file of a ``sqlite:///`` URL as written (``:memory:`` for the in-memory one), None for other databases."""
    url = urlsplit(database_url)
    if url.scheme != "sqlite":
        return None
    return unquote(url.path[1:]) if url.path.startswith("/") else unquote(url.path)


def in_memory(database_url: str) -> bool:
    """Whether the database lives in this process's memory (``memory:``, ``sqlite:///:memory:``): no other process sees it."""
    return urlsplit(database_url).scheme == "memory" or sqlite_file(database_url) == ":memory:"


def eventsourcing_env(database_url: str) -> dict[str, str]:
    """Translate a database URL into the ``eventsourcing`` library's environment.

    ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` select the
    embedded store (``sqlite:///:memory:`` is one in-memory database shared by the
    process); ``memory:`` keeps events in plain Python objects, for tests; ``postgresql://user:pw@host:port/db``
    selects PostgreSQL.
    """
    check_database_url(database_url)
    url = urlsplit(database_url)
    common = {"SINGLE_ROW_TRACKING": "t"}
    if url.scheme == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if url.scheme == "sqlite":
        path = sqlite_file(database_url)
        assert path is not None  # a sqlite URL always names its file
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            path = str(Path(path).resolve())
        else:
            path = "file::memory:?mode=memory&cache=shared"
        return {
            **common, "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
            # Seconds a write waits for another connection's (the followers process's, a read model's): as db.py.
            "SQLITE_LOCK_TIMEOUT": "30",
            "PROCESS_RECORDER_TOPIC": "orderflow.application.positions:SQLitePositionsRecorder",
        }
    # postgresql:// or postgres://
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
