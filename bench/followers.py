"""The followers alone: CPU per event of the projections and of the outbound publisher, catching up from 0.

    python -m devservices up --state var/fcsvc                       # once: a PostgreSQL and a Kafka
    python -m bench.followers record --services var/fcsvc/services.env --database fc1000 --orders 1000
    flock /tmp/orderflow-bench.lock python -m bench.followers time --services var/fcsvc/services.env \\
        --database fc1000 [--rounds 3] [--profile var/followers] [--only projections|outbound|both]

(Run as a module: ``bench/profile.py`` would hide the standard ``profile`` module from a script.)
``record`` publishes the simulator's traffic to fresh topics and runs ``orderflow run --stop-when-idle``
on a fresh database: the backlog every later ``time`` reads. ``time`` rewinds the read models (all of
``all_views``) to 0 and catches them up, then does the same for the outbound publisher (to outbound
topics of its own, fresh each round), in this process; ``both`` runs the two followers together in two
threads, as ``orderflow run`` does. It prints wall time, this process's CPU time (user + system) and
events per CPU second. Run it with ``PYTHONPATH=<a copy's src>`` to time another copy of the code on the
same database (the A/B of ``bench/rebuild_ab.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import structlog

import orderflow
from orderflow.application.orders import Orders
from orderflow.db import Database
from orderflow.kafka import make_producer
from orderflow.outbound import OutboundPublisher
from orderflow.projections.catalog import all_views
from orderflow.projections.follow import CACHED_ORDERS
from orderflow.projections.runner import ProjectionRunner
from orderflow.settings import Settings, Topics


def services(path: str) -> tuple[str, str]:
    """The server URL (without a database) and the Kafka bootstrap servers of a ``services.env``."""
    env = dict(line.strip().split("=", 1) for line in open(path) if "=" in line)
    return env["ORDERFLOW_DATABASE_URL"].rsplit("/", 1)[0], env["ORDERFLOW_KAFKA_BOOTSTRAP"]


def settings_for(args: argparse.Namespace, tag: str) -> Settings:
    base, kafka = services(args.services)
    topics = Topics(**{name: f"{value}.{tag}" for name, value in vars(Topics()).items()})
    return replace(Settings(), database_url=f"{base}/{args.database}", kafka_bootstrap=kafka,
                   consumer_group=f"followers-{tag}", topics=topics)


def record(args: argparse.Namespace) -> None:
    import psycopg

    base, _ = services(args.services)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{args.database}"')
    settings = settings_for(args, args.database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    env = {**env, **settings.where(), "ORDERFLOW_LOG_FORMAT": "json"}
    orderflow_cli = [sys.executable, "-m", "orderflow.cli"]
    subprocess.run([*orderflow_cli, "simulate", "--count", str(args.orders), "--seed", str(args.seed), "--rate", "0"],
                   env=env, check=True, capture_output=True)
    subprocess.run([*orderflow_cli, "run", "--stop-when-idle", "3"], env=env, check=True, capture_output=True)
    db = Database(settings.database_url)
    try:
        events = db.query("SELECT max(notification_id) FROM orderflow_events")[0][0]
    finally:
        db.close()
    print(f"recorded {args.database}: {events:,} events")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(args: argparse.Namespace) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    print(f"code: {Path(orderflow.__file__).parent}")
    print("| round | follower | events | wall | CPU | events per CPU s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for n in range(1, args.rounds + 1):
        tag = uuid.uuid4().hex[:8]
        settings = settings_for(args, tag)
        app = Orders(settings.database_url, cache_size=CACHED_ORDERS)
        db = Database(settings.database_url)
        producer = make_producer(settings, **dict(args.producer))
        projections = ProjectionRunner(app, db, all_views(db.is_postgres, app))
        outbound = OutboundPublisher(app, db, producer, settings.topics, batch_size=settings.batch_size)
        followers = {"projections": projections, "outbound": outbound}
        chosen = ["projections", "outbound"] if args.only in ("separately", None) else [args.only]
        try:
            for runner in followers.values():
                runner.rewind(0)
            producer.partitions_for(settings.topics.storefront_sync)  # metadata first: not part of the timing
            producer.partitions_for(settings.topics.notifications)
            if args.only == "both":
                rows = [("both", lambda projections=projections, outbound=outbound: together(projections, outbound))]
            else:
                rows = [(name, followers[name].catch_up) for name in chosen]
            for name, work in rows:
                profile = cProfile.Profile() if args.profile else None
                wall, used = time.perf_counter(), cpu()
                if profile is not None:
                    profile.enable()
                events = work()
                if profile is not None:
                    profile.disable()
                wall, used = time.perf_counter() - wall, cpu() - used
                print(f"| {n} | {name} | {events:,} | {wall:.2f} s | {used:.2f} s | {events / used:,.0f} |", flush=True)
                if profile is not None:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    out = args.profile / f"{name}-{n}.prof"
                    profile.dump_stats(out)
                    if n == args.rounds:
                        pstats.Stats(str(out)).strip_dirs().sort_stats("tottime").print_stats(args.top)
        finally:
            outbound.close()
            db.close()
            app.close()


def together(projections: ProjectionRunner, outbound: OutboundPublisher) -> int:
    """Both followers to the head, in two threads as ``orderflow run`` has them; the events read by both."""
    counts = {}

    def follow(name: str, runner: ProjectionRunner) -> None:
        counts[name] = runner.catch_up()

    threads = [threading.Thread(target=follow, args=item) for item in (("p", projections), ("o", outbound))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts.get("p", 0) + counts.get("o", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--orders", type=int, default=1000)
    rec.add_argument("--seed", type=int, default=11)
    tim = sub.add_parser("time")
    tim.add_argument("--rounds", type=int, default=3)
    tim.add_argument("--only", choices=("projections", "outbound", "both", "separately"), default="separately")
    tim.add_argument("--profile", type=Path)
    tim.add_argument("--top", type=int, default=30)
    tim.add_argument("--producer", action="append", default=[], type=lambda text: (text.split("=")[0], int(text.split("=")[1])),
                     help="NAME=INT: a producer setting over make_producer's (an experiment)")
    for p in (rec, tim):
        p.add_argument("--services", required=True)
        p.add_argument("--database", required=True)
    args = parser.parse_args()
    record(args) if args.command == "record" else measure(args)


if __name__ == "__main__":
    main()
