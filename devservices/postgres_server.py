"""A throwaway PostgreSQL server: ``initdb`` and ``pg_ctl`` in a scratch directory, on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import structlog
from psycopg import sql

from devservices import system

log = structlog.get_logger()

PG_USER = "nobody"  # initdb and pg_ctl refuse to run as root

_PG_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
"""

class PostgresServer:
    """A private PostgreSQL server (trust auth, user ``postgres``) in a scratch directory."""

    def __init__(self) -> None:
        self.port: int | None = None
        self.scratch_dir: Path | None = None

    @property
    def url(self) -> str:
        """URL of the server's ``postgres`` database."""
        return self.database_url("postgres")

    @property
    def pid(self) -> int:
        """Process id of the postmaster."""
        return int((self.scratch_dir / "data" / "postmaster.pid").read_text().split()[0])

    def database_url(self, name: str) -> str:
        """URL of database ``name`` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> PostgresServer:
        """Initialise a fresh cluster and start the server; return ``self``."""
        started = time.monotonic()
        self.scratch_dir = Path(tempfile.mkdtemp(prefix="orderflow-pg-"))
        self.port = system.free_ports(1)[0]
        try:
            _give_to_pg_user(self.scratch_dir)
            self._initdb()
            system.run(_pg_command("pg_ctl", "-D", self.scratch_dir / "data", "-l", self.scratch_dir / "postgres.log",
                             "-w", "-t", "30", "start"), cwd=self.scratch_dir, start_new_session=True)
        except Exception as exc:
            tail = system.tail(self.scratch_dir / "postgres.log")
            self.stop()
            raise RuntimeError(f"PostgreSQL failed to start: {exc}\n{tail}") from exc
        log.info("postgres.started", url=self.url, seconds=round(time.monotonic() - started, 2))
        return self

    def _initdb(self) -> None:
        data = self.scratch_dir / "data"
        system.run(_pg_command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                         "--locale=C", "--no-sync"), cwd=self.scratch_dir)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(_PG_SETTINGS.format(port=self.port, socket_dir=self.scratch_dir))

    def stop(self) -> None:
        """Stop the server and delete its scratch directory."""
        if self.scratch_dir is not None:
            stop_postgres(self.scratch_dir)
            log.info("postgres.stopped", port=self.port)
            self.scratch_dir = None

    def restart(self, mode: str = "fast") -> None:
        """Restart the server in place (``pg_ctl restart -m fast``): every session is cut, the data stays."""
        data = self.scratch_dir / "data"
        system.run(_pg_command("pg_ctl", "-D", data, "-l", self.scratch_dir / "postgres.log", "-m", mode, "-w", "-t", "30",
                         "restart"), cwd=self.scratch_dir, start_new_session=True)
        log.info("postgres.restarted", port=self.port, mode=mode)

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _pg_bindir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: tuple(int(n) for n in p.parent.name.split(".") if n.isdigit()), reverse=True)
    if versions:
        return versions[0]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise FileNotFoundError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin or on PATH")
    return Path(initdb).parent


def _pg_command(program: str, *args: object) -> list[str]:
    """Command line running a PostgreSQL server program, as ``PG_USER`` when we are root."""
    command = [str(_pg_bindir() / program), *map(str, args)]
    return ["runuser", "-u", PG_USER, "--", *command] if os.geteuid() == 0 else command


def _give_to_pg_user(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(PG_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


def stop_postgres(scratch_dir: Path) -> None:
    """Stop the server whose cluster lives in ``scratch_dir/data`` and delete ``scratch_dir``."""
    data = scratch_dir / "data"
    if (data / "postmaster.pid").exists():
        result = subprocess.run(_pg_command("pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop"),
                                capture_output=True, text=True, cwd=scratch_dir)
        if result.returncode:
            log.warning("postgres.stop_failed", data_dir=str(data), output=result.stdout + result.stderr)
    shutil.rmtree(scratch_dir, ignore_errors=True)
