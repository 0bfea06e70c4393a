"""``python -m devservices {up,down} --state DIR`` (from the repository root): detached services for the demo.

``up`` writes ``DIR/services.env`` (``ORDERFLOW_DATABASE_URL``, ``ORDERFLOW_KAFKA_BOOTSTRAP``, the pids and
directories); ``down`` stops what it lists.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
from pathlib import Path

import structlog

import devservices
from devservices import system
from devservices.kafka_broker import KafkaBroker
from devservices.postgres_server import PostgresServer, stop_postgres

log = structlog.get_logger()


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def up(state: Path, kafka_only: bool = False) -> None:
    """Start the services detached (unless already running) and write ``state/services.env``."""
    env_file = state / "services.env"
    if env_file.exists():
        env = _read_env(env_file)
        if all(system.alive(int(pid)) for key, pid in env.items() if key.endswith("_PID")):
            print(env_file.read_text(), end="")
            return
        down(state)
    state.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stop_on_error:
        env = {}
        if not kafka_only:
            postgres = stop_on_error.enter_context(PostgresServer())
            env.update(ORDERFLOW_DATABASE_URL=postgres.create_database("orderflow"),
                       ORDERFLOW_POSTGRES_PID=postgres.pid, ORDERFLOW_POSTGRES_DIR=postgres.scratch_dir)
        kafka = stop_on_error.enter_context(KafkaBroker())
        env.update(ORDERFLOW_KAFKA_BOOTSTRAP=kafka.bootstrap_servers,
                   ORDERFLOW_KAFKA_PID=kafka.pid, ORDERFLOW_KAFKA_DIR=kafka.scratch_dir)
        env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        stop_on_error.pop_all()  # success: leave the services running
    print(env_file.read_text(), end="")


def down(state: Path) -> None:
    """Stop the services recorded in ``state/services.env`` and delete their directories."""
    env_file = state / "services.env"
    if not env_file.exists():
        log.info("devservices.not_running", state=str(state))
        return
    env = _read_env(env_file)
    if "ORDERFLOW_POSTGRES_DIR" in env:
        stop_postgres(Path(env["ORDERFLOW_POSTGRES_DIR"]))
    kafka_pid = int(env["ORDERFLOW_KAFKA_PID"])
    if system.alive(kafka_pid):
        system.terminate_group(kafka_pid, running=lambda: system.alive(kafka_pid))
    shutil.rmtree(env["ORDERFLOW_KAFKA_DIR"], ignore_errors=True)
    env_file.unlink()
    log.info("devservices.stopped", state=str(state))


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m devservices {up,down} --state DIR``."""
    parser = argparse.ArgumentParser(prog="python -m devservices", description=devservices.__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--state", type=Path, required=True, help="directory holding services.env")
    parser.add_argument("--kafka-only", action="store_true", help="up: start the Kafka broker but no PostgreSQL")
    args = parser.parse_args(argv)
    if args.command == "up":
        up(args.state, kafka_only=args.kafka_only)
    else:
        down(args.state)


if __name__ == "__main__":
    main()
