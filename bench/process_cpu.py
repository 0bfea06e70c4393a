"""CPU of every process while ``orderflow run`` consumes a backlog: the engine, its followers, Kafka, PostgreSQL.

    .venv/bin/python bench/process_cpu.py --orders 3000 --rounds 2 \\
        before=/path/to/before/.venv/bin/python after=.venv/bin/python

Publishes the simulator's messages once, then runs each install's ``orderflow run`` on them in turn (on a
fresh database and group, as ``bench/engine_ab.py`` does). Every process's CPU time (user + system, from
``/proc/PID/stat``) is read when the engine starts and again just before it is stopped, and summed by kind:
``orderflow run``, its followers process, the Kafka broker (java), PostgreSQL (server and backends), other.
Printed as µs of CPU per message, with the end-to-end rate: on a machine of two cores the sum is what
bounds the rate, however the work overlaps. Linux only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog  # noqa: E402

import bench.harness as harness  # noqa: E402
from bench.harness import Services, run_engines  # noqa: E402
from devservices.kafka_broker import KafkaBroker  # noqa: E402
from devservices.postgres_server import PostgresServer  # noqa: E402
from orderflow.traffic.simulate import publish_orders  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def kind_of(command: str) -> str:
    if "orderflow.followers" in command:
        return "followers"
    if "orderflow.cli run" in command or "orderflow run" in command:
        return "orderflow run"
    if "postgres" in command:
        return "PostgreSQL"
    if "java" in command:
        return "Kafka"
    return "other"


def cpu_by_process() -> dict[int, tuple[str, int]]:
    """pid -> (kind, CPU ticks so far) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (kind_of(command), int(fields[11]) + int(fields[12]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("installs", nargs="+", metavar="NAME=PYTHON")
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("var/bench/process-cpu"))
    args = parser.parse_args(argv)
    installs = dict(item.split("=", 1) for item in args.installs)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    out = args.out / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    at_stop: dict[str, object] = {}
    stop = harness.EngineProcess.stop

    def stop_after_reading(self: harness.EngineProcess, timeout: float = 60) -> None:
        at_stop.setdefault("cpu", cpu_by_process())  # before the engine and its database sessions end
        stop(self, timeout)

    harness.EngineProcess.stop = stop_after_reading
    kinds = ("orderflow run", "followers", "Kafka", "PostgreSQL", "other")
    with PostgresServer() as postgres, KafkaBroker() as broker:
        services = Services(postgres, broker, out)
        base = services.settings("base")
        messages = publish_orders(base, count=args.orders, seed=args.seed)
        print(f"{messages:,} messages; load {os.getloadavg()[0]:.2f}", flush=True)
        print(f"| round | install | end to end | {' | '.join(kinds)} |")
        print(f"| --- | --- | ---: |{' ---: |' * len(kinds)}")
        names = list(installs)
        for n in range(1, args.rounds + 1):
            for name in names if n % 2 else names[::-1]:
                at_stop.clear()
                before = cpu_by_process()
                settings = services.settings(f"{name}{n}".replace("-", "_").lower(), inbound=base.topics)
                times = run_engines(settings, out, f"{name}{n}", command=[installs[name], "-m", "orderflow.cli", "run"],
                                    budget=900)
                spent = dict.fromkeys(kinds, 0)
                for pid, (kind, ticks) in at_stop["cpu"].items():  # type: ignore[union-attr]
                    spent[kind] += ticks - before.get(pid, (kind, 0))[1]
                shares = " | ".join(f"{1e6 * spent[kind] / TICKS / messages:,.0f} µs" for kind in kinds)
                print(f"| {n} | {name} | {times.e2e_rate or 0:,.0f} msg/s | {shares} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
