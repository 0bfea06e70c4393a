"""A/B of ``orderflow projections rebuild``: two copies of ``src`` alternating on existing databases.

    python bench/rebuild_ab.py --services var/rbsvc/services.env --before var/before/src --after var/after/src \\
        --database rb_one --database rb_ten --rounds 2

Each measurement runs ``orderflow projections status`` then ``orderflow projections rebuild`` as
subprocesses (``PYTHONPATH`` = the copy's ``src``) and reports events/s as rows 5a/5b do: events ÷
(rebuild wall − status wall). The order of the two copies alternates from round to round. Prints a
Markdown table, with the rebuild process's CPU (user + system) and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

import psycopg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", required=True, help="services.env written by `python -m devservices up`")
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--database", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env0 = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    services = dict(line.strip().split("=", 1) for line in open(args.services) if "=" in line)
    base = services["ORDERFLOW_DATABASE_URL"].rsplit("/", 1)[0]
    code = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}

    def run(database: str, label: str, *command: str) -> tuple[float, float]:
        env = {**env0, "ORDERFLOW_DATABASE_URL": f"{base}/{database}", "ORDERFLOW_LOG_FORMAT": "json",
               "PYTHONPATH": code[label]}
        r0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([sys.executable, "-m", "orderflow.cli", "projections", *command], env=env, check=True,
                       capture_output=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter() - t, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

    events = {}
    for database in args.database:
        with psycopg.connect(f"{base}/{database}") as conn:
            events[database] = conn.execute("SELECT max(notification_id) FROM orderflow_events").fetchone()[0]
    print("| round | database | events | code | status wall | rebuild wall | net | events/s | rebuild CPU | load |")
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for n in range(1, args.rounds + 1):
        for database in args.database:
            for label in ("before", "after") if n % 2 else ("after", "before"):
                status, _ = run(database, label, "status")
                wall, cpu = run(database, label, "rebuild")
                net = wall - status
                print(f"| {n} | {database} | {events[database]:,} | {label} | {status:.2f} s | {wall:.2f} s | "
                      f"{net:.2f} s | {events[database] / net:,.0f} | {cpu:.2f} s | {os.getloadavg()[0]:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
