"""A/B of ``orderflow run``: two (or more) installs of orderflow alternating on the same published messages.

    .venv/bin/python bench/engine_ab.py --orders 3000 --rounds 2 \\
        before=/path/to/before/.venv/bin/python after=.venv/bin/python

Each install is named by a Python interpreter whose environment has orderflow installed (a checkout's
``make venv``). One run of the services: the simulator's messages are published once and both baselines
(the raw read, the naive consumer) are measured once; then every round runs each install's
``python -m orderflow.cli run`` on a fresh database and consumer group, in an order that alternates from
round to round, and prints the rates as rows 3 and 4 of ``make bench`` measure them, with their ratio to
the naive consumer of the same run, and the CPU every kind of process spent per message meanwhile
(``orderflow run``, its followers process, the Kafka broker, PostgreSQL, and their sum; from ``/proc/PID/stat``
when the engine starts and just before it is stopped, this run's processes only: ``bench/cpu.py``): on a
machine of two cores their sum bounds the rate, however the work overlaps. Linux only.
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
from bench.baselines import naive_consume, raw_consume  # noqa: E402
from bench.cpu import KINDS, cpu_by_process, roots_of, spent_per_message  # noqa: E402
from bench.harness import Services, run_engines  # noqa: E402
from devservices.kafka_broker import KafkaBroker  # noqa: E402
from devservices.postgres_server import PostgresServer  # noqa: E402
from orderflow.traffic.simulate import publish_orders  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("installs", nargs="+", metavar="NAME=PYTHON")
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=1, help="`orderflow run` processes per measurement")
    parser.add_argument("--out", type=Path, default=Path("var/bench/ab"))
    args = parser.parse_args(argv)
    installs = dict(item.split("=", 1) for item in args.installs)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    at_stop: dict[str, dict[int, tuple[str, int]]] = {}
    stop = harness.EngineProcess.stop
    roots: list[int] = []

    def stop_after_reading(self: harness.EngineProcess, timeout: float = 60) -> None:
        at_stop.setdefault("cpu", cpu_by_process(roots))  # before the engine and its database sessions end
        stop(self, timeout)

    harness.EngineProcess.stop = stop_after_reading
    out = args.out / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    print(f"load {os.getloadavg()[0]:.2f}", flush=True)
    with PostgresServer() as postgres, KafkaBroker() as broker:
        roots[:] = roots_of(postgres, broker)
        services = Services(postgres, broker, out)
        base = services.settings("base")
        messages = publish_orders(base, count=args.orders, seed=args.seed)
        raw = raw_consume(base, messages)
        naive = naive_consume(base, postgres.create_database(f"bench_{services.run_id}_naive"), messages)
        print(f"{messages:,} messages; raw read {raw:,.0f} msg/s; naive consumer {naive:,.0f} msg/s", flush=True)
        print("| round | install | into the store | end to end | × naive | events | peak RSS | load | "
              + " | ".join(f"CPU: {kind}" for kind in (*KINDS, "all")) + " |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |" + " ---: |" * (len(KINDS) + 1))
        names = list(installs)
        for n in range(1, args.rounds + 1):
            for name in names if n % 2 else names[::-1]:
                settings = services.settings(f"{name}{n}".replace("-", "_").lower(), inbound=base.topics)
                command = [installs[name], "-m", "orderflow.cli", "run"]
                at_stop.clear()
                before = cpu_by_process(roots)
                times = run_engines(settings, out, f"{name}{n}", processes=args.processes, command=command,
                                    budget=900)
                store, e2e = times.store_rate or 0, times.e2e_rate or 0
                spent = spent_per_message(before, at_stop["cpu"], messages)
                cpu = " | ".join(f"{spent[kind]:,.0f} µs" for kind in (*KINDS, "all"))
                print(f"| {n} | {name} | {store:,.0f} | {e2e:,.0f} | {e2e / naive:.2f} | {times.events:,} | "
                      f"{times.peak_rss_mib:.0f} MiB | {os.getloadavg()[0]:.2f} | {cpu} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
