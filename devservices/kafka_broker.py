"""A throwaway Kafka broker (KRaft, one node) in a scratch directory, on free ports of 127.0.0.1.

The jars come from Maven Central (``tools/kafka/pom.xml``) and are cached in
``$ORDERFLOW_CACHE_DIR`` (default ``~/.cache/orderflow``).
"""

from __future__ import annotations

import base64
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import structlog
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from devservices import system

log = structlog.get_logger()

KAFKA_VERSION = "4.1.1"

_KAFKA_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{ctrl_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{ctrl_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={log_dirs}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=4
auto.create.topics.enable=true
"""

_LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRefs = console
rootLogger.appenderRef.console.ref = STDOUT
"""


class KafkaBroker:
    """A private single-node Kafka broker (KRaft, PLAINTEXT) in a scratch directory.

    With ``sasl_users`` (user -> password) it also listens on ``sasl_bootstrap_servers``, a
    SASL_PLAINTEXT listener taking logins of those users with ``sasl_mechanisms`` (``PLAIN``,
    ``SCRAM-SHA-256``, ``SCRAM-SHA-512``; SCRAM credentials are written at format time,
    ``kafka-storage format --add-scram``). With ``tls`` it also listens on ``ssl_bootstrap_servers``,
    an SSL listener whose certificate (for ``127.0.0.1`` and ``localhost``) is signed by a throwaway
    CA made with ``openssl`` at start: ``ca_file`` is that CA's PEM file, for the clients. With both, it
    also listens on ``sasl_ssl_bootstrap_servers``, a SASL_SSL listener (the same logins over that TLS).
    (For the connection tests; the broker's own traffic stays on the PLAINTEXT listener.)
    """

    def __init__(self, startup_timeout: float = 90.0, sasl_users: dict[str, str] | None = None,
                 sasl_mechanisms: tuple[str, ...] = ("PLAIN",), tls: bool = False) -> None:
        self.startup_timeout = startup_timeout
        self.sasl_users = dict(sasl_users or {})
        self.sasl_mechanisms = tuple(m.upper() for m in sasl_mechanisms)
        unknown = set(self.sasl_mechanisms) - {"PLAIN", *_SCRAM_MECHANISMS}
        if unknown or not self.sasl_mechanisms:
            raise ValueError(f"sasl_mechanisms must be among PLAIN, {', '.join(_SCRAM_MECHANISMS)}")
        self.tls = tls
        self.sasl_port: int | None = None
        self.ssl_port: int | None = None
        self.sasl_ssl_port: int | None = None
        self.ca_file: Path | None = None
        self.port: int | None = None
        self.scratch_dir: Path | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The ``host:port`` to give Kafka clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap_servers(self) -> str:
        """The ``host:port`` of the SASL_PLAINTEXT listener (with ``sasl_users``)."""
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def ssl_bootstrap_servers(self) -> str:
        """The ``host:port`` of the SSL listener (with ``tls``)."""
        return f"127.0.0.1:{self.ssl_port}"

    @property
    def sasl_ssl_bootstrap_servers(self) -> str:
        """The ``host:port`` of the SASL_SSL listener (with ``sasl_users`` and ``tls``)."""
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def pid(self) -> int:
        """Process id of the broker's JVM (also its process group id)."""
        return self._proc.pid

    def start(self) -> KafkaBroker:
        """Format a fresh KRaft log directory, start the broker, wait until it answers; return ``self``."""
        started = time.monotonic()
        libs = kafka_libs()
        self.scratch_dir = Path(tempfile.mkdtemp(prefix="orderflow-kafka-"))
        self.port, ctrl_port = system.free_ports(2)
        config = self.scratch_dir / "server.properties"
        properties = _KAFKA_PROPERTIES.format(port=self.port, ctrl_port=ctrl_port, log_dirs=self.scratch_dir / "logs")
        scram: list[str] = []
        try:
            if self.sasl_users:
                [self.sasl_port] = system.free_ports(1)
                properties = _with_sasl_listener(properties, self.sasl_port, self.sasl_users, self.sasl_mechanisms)
                scram = [arg for mechanism in self.sasl_mechanisms if mechanism in _SCRAM_MECHANISMS
                         for user, password in self.sasl_users.items()
                         for arg in ("--add-scram", f"{mechanism}=[name={user},password={password}]")]
            if self.tls:
                [self.ssl_port] = system.free_ports(1)
                self.ca_file, keystore = _throwaway_certificates(self.scratch_dir / "tls")
                properties = _with_ssl_listener(properties, "SSL", self.ssl_port, keystore, self.ca_file)
                if self.sasl_users:
                    [self.sasl_ssl_port] = system.free_ports(1)
                    properties = _with_ssl_listener(properties, "SASL_SSL", self.sasl_ssl_port, keystore, self.ca_file)
                    properties += "".join(f"{line}\n" for line in _sasl_logins("SASL_SSL", self.sasl_users,
                                                                                 self.sasl_mechanisms))
            config.write_text(properties)
            (self.scratch_dir / "log4j2.properties").write_text(_LOG4J2_PROPERTIES)
            system.run([*self._java(libs), "kafka.tools.StorageTool", "format", "--standalone",
                  "-t", _kafka_cluster_id(), "-c", config, *scram], secrets=self.sasl_users.values())
            self._launch(libs)
        except Exception as exc:
            tail = system.tail(self.scratch_dir / "broker.log")
            self.stop()
            raise RuntimeError(f"Kafka broker failed to start: {exc}\n{tail}") from exc
        log.info("kafka.started", bootstrap_servers=self.bootstrap_servers,
                 seconds=round(time.monotonic() - started, 2))
        return self

    def _launch(self, libs: Path) -> None:
        with (self.scratch_dir / "broker.log").open("ab") as out:
            self._proc = subprocess.Popen(
                [*self._java(libs), "kafka.Kafka", self.scratch_dir / "server.properties"], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, cwd=self.scratch_dir, start_new_session=True)
        self._wait_ready()

    def pause(self) -> None:
        """Stop the broker process (SIGTERM, a clean shutdown) but keep its data and ports: :meth:`resume` it."""
        if self._proc is not None:
            system.terminate_group(self._proc.pid, running=lambda: self._proc.poll() is None)
            log.info("kafka.paused", port=self.port)

    def resume(self) -> None:
        """Start the broker again on the same data and ports, and wait until it answers."""
        self._launch(kafka_libs())
        log.info("kafka.resumed", port=self.port)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the broker, wait ``down_for`` seconds, start it again on the same data and ports."""
        self.pause()
        time.sleep(down_for)
        self.resume()

    def _java(self, libs: Path) -> list[str]:
        java = Path(os.environ["JAVA_HOME"], "bin", "java") if "JAVA_HOME" in os.environ else "java"
        return [str(java), "-Xms256m", "-Xmx1g", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.scratch_dir / 'log4j2.properties'}", "-cp", f"{libs}/*"]

    def _wait_ready(self) -> None:
        def ready() -> bool:
            if self._proc.poll() is not None:
                raise RuntimeError(f"broker exited with code {self._proc.returncode}")
            return system.port_open(self.port) and _kafka_answers(self.bootstrap_servers)

        if not system.wait_until(ready, self.startup_timeout, interval=0.25):
            raise TimeoutError(f"broker not ready after {self.startup_timeout:.0f} s")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and delete its scratch directory."""
        if self._proc is not None:
            system.terminate_group(self._proc.pid, running=lambda: self._proc.poll() is None)
            self._proc = None
        if self.scratch_dir is not None:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
            log.info("kafka.stopped", port=self.port)
            self.scratch_dir = None

    def create_topics(self, names: list[str], partitions: int = 4) -> None:
        """Create topics ``names`` (replication factor 1) and wait until they have leaders."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        try:
            admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1} for name in names},
                                wait_for_metadata=True)
        finally:
            admin.close()

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def _with_listener(properties: str, name: str, port: int, extra: list[str]) -> str:
    """``properties`` plus a listener ``name`` (also its security protocol) on ``port``, and the lines ``extra``."""
    lines = []
    for line in properties.splitlines():
        if line.startswith(("listeners=", "advertised.listeners=")):
            line = f"{line},{name}://127.0.0.1:{port}"
        elif line.startswith("listener.security.protocol.map="):
            line = f"{line},{name}:{name}"
        lines.append(line)
    return "\n".join([*lines, *extra]) + "\n"


def _with_sasl_listener(properties: str, port: int, users: dict[str, str], mechanisms: tuple[str, ...]) -> str:
    """``properties`` plus a SASL_PLAINTEXT listener on ``port`` taking logins of ``users`` with ``mechanisms``.

    PLAIN checks the users listed in its JAAS line; SCRAM checks the credentials stored in the cluster
    metadata (written by ``format --add-scram``).
    """
    extra = [f"sasl.enabled.mechanisms={','.join(mechanisms)}", *_sasl_logins("SASL_PLAINTEXT", users, mechanisms)]
    return _with_listener(properties, "SASL_PLAINTEXT", port, extra)


def _sasl_logins(listener: str, users: dict[str, str], mechanisms: tuple[str, ...]) -> list[str]:
    """The JAAS lines of ``listener`` for ``mechanisms``: PLAIN lists ``users``, SCRAM reads the stored credentials."""
    prefix = f"listener.name.{listener.lower()}"
    lines = []
    if "PLAIN" in mechanisms:
        accounts = " ".join(f'user_{user}="{password}"' for user, password in users.items())
        lines.append(f"{prefix}.plain.sasl.jaas.config="
                     f"org.apache.kafka.common.security.plain.PlainLoginModule required {accounts};")
    for mechanism in mechanisms:
        if mechanism in _SCRAM_MECHANISMS:
            lines.append(f"{prefix}.{mechanism.lower()}.sasl.jaas.config="
                         "org.apache.kafka.common.security.scram.ScramLoginModule required;")
    return lines


def _with_ssl_listener(properties: str, name: str, port: int, keystore: Path, ca_file: Path) -> str:
    """``properties`` plus a TLS listener ``name`` (SSL or SASL_SSL) on ``port`` with the PEM ``keystore`` (key and
    chain); no client certificates asked for."""
    prefix = f"listener.name.{name.lower()}.ssl"
    return _with_listener(properties, name, port, [
        f"{prefix}.keystore.type=PEM",
        f"{prefix}.keystore.location={keystore}",
        f"{prefix}.truststore.type=PEM",
        f"{prefix}.truststore.location={ca_file}",
        f"{prefix}.client.auth=none",
    ])


def _throwaway_certificates(directory: Path) -> tuple[Path, Path]:
    """A new CA and a broker certificate for ``127.0.0.1``/``localhost`` signed by it, made with ``openssl``.

    Returns the CA's certificate (PEM) and the broker's keystore (PEM: unencrypted PKCS#8 key, then its
    certificate and the CA's). Valid for two days; the keys never leave ``directory``.
    """
    directory.mkdir(mode=0o700)
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "broker.key", "broker.csr", "broker.pem"))
    openssl = shutil.which("openssl") or "openssl"
    system.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
          "-subj", "/CN=orderflow throwaway test CA", "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    system.run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
    extensions = directory / "broker.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                          "basicConstraints=CA:FALSE\n")
    system.run([openssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
          "-days", "2", "-sha256", "-extfile", extensions])
    keystore = directory / "broker-keystore.pem"
    keystore.write_text(key.read_text() + cert.read_text() + ca.read_text())
    return ca, keystore


def kafka_libs() -> Path:
    """Return the directory of the Kafka broker jars, fetching them with Maven on first use."""
    cache = Path(os.environ.get("ORDERFLOW_CACHE_DIR") or Path.home() / ".cache" / "orderflow")
    home = cache / f"kafka-{KAFKA_VERSION}"
    home.mkdir(parents=True, exist_ok=True)
    libs, marker = home / "libs", home / "fetched.ok"
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            started = time.monotonic()
            shutil.rmtree(libs, ignore_errors=True)
            system.run(["mvn", "-B", "-q", "-f", _kafka_pom(), "dependency:copy-dependencies",
                  "-DincludeScope=runtime", f"-DoutputDirectory={libs}"])
            marker.write_text(f"kafka {KAFKA_VERSION}\n")
            log.info("kafka.jars_fetched", libs=str(libs), seconds=round(time.monotonic() - started, 2))
    return libs


def _kafka_pom() -> Path:
    default = Path(__file__).resolve().parents[1] / "tools" / "kafka" / "pom.xml"
    return Path(os.environ.get("ORDERFLOW_KAFKA_POM") or default)


def _kafka_cluster_id() -> str:
    """A random cluster id formatted like Kafka's ``Uuid.randomUuid().toString()``."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _kafka_answers(bootstrap_servers: str) -> bool:
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, bootstrap_timeout_ms=3000,
                                 request_timeout_ms=5000)
    except (KafkaError, OSError):
        return False
    try:
        return bool(admin.describe_cluster()["brokers"])
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
