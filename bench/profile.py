"""Profile of the hottest path: ``orderflow run`` under cProfile, consuming a backlog.

    .venv/bin/python bench/profile.py [--orders 1000] [--seed 11] [--top 25] [--out var/bench/profile]

Starts its own services, publishes the simulator's traffic, runs
``python -m cProfile -m orderflow.cli run`` until every position is recorded
and the read models are caught up, stops it with SIGTERM (cProfile then
writes its file) and prints the top entries by cumulative and by own time.
cProfile follows the main thread only: the consumer loop (decode, validate,
apply, record). The read models and outbound topics follow in threads of
their own and are not in this profile.
"""

from __future__ import annotations

import argparse
import io
import pstats
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog  # noqa: E402

from bench.harness import Services, run_engines  # noqa: E402
from devservices.kafka_broker import KafkaBroker  # noqa: E402
from devservices.postgres_server import PostgresServer  # noqa: E402
from orderflow.traffic.simulate import publish_orders  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path("var/bench/profile"))
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    args.out.mkdir(parents=True, exist_ok=True)
    stats_file = (args.out / "orderflow-run.prof").resolve()
    with PostgresServer() as postgres, KafkaBroker() as broker:
        services = Services(postgres, broker, args.out)
        settings = services.settings("profile")
        messages = publish_orders(settings, count=args.orders, seed=args.seed)
        command = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "orderflow.cli", "run"]
        times = run_engines(settings, args.out, "profile", command=command)
    print(f"{messages:,} messages; under cProfile: {times.store_rate or 0:,.0f} msg/s into the store, "
          f"{times.e2e_rate or 0:,.0f} msg/s end to end; {times.events:,} events")
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(str(stats_file), stream=text).strip_dirs().sort_stats(order).print_stats(args.top)
        print(f"\n### by {order}\n")
        print(text.getvalue().split("\n\n", 1)[-1].strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
