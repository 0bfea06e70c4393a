"""orderflow against the consumers a user could write instead, on the same messages, in one table.

    .venv/bin/python bench/run.py [--size small|full] [--seed 11] [--out var/bench]

Starts its own PostgreSQL and Kafka (``devservices``), publishes the
simulator's traffic (``orderflow simulate``'s, seed 11) and measures, in this
order: the raw kafka-python read (baseline 1); a hand-written consumer, one row
and one commit per message (baseline 2); ``orderflow run`` into the event store
and end to end; ``orderflow projections rebuild``; two ``orderflow run``
processes against one; publish→visible latency at 1,000 msg/s; large orders;
and a run over ten times the messages (peak RSS, rebuild on the bigger history); on that history, a full
Parquet export (its peak RSS) and the order book as of a past instant.
Every ``orderflow run`` is a real subprocess on a fresh database, watched from
outside (see ``bench/harness.py``). Prints one Markdown table and writes it,
with a JSON copy, to ``--out``. A benchmark: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog  # noqa: E402

from bench.analyst import measure_exports  # noqa: E402
from bench.baselines import naive_consume, raw_consume  # noqa: E402
from bench.console import measure as measure_console  # noqa: E402
from bench.cpu import KINDS, roots_of  # noqa: E402
from bench.harness import BenchError, RunTimes, Services, Watcher, publish, run_cli, run_engines  # noqa: E402
from bench.large_orders import large_orders  # noqa: E402
from bench.latency import measure_latency  # noqa: E402
from bench.report import Row, as_json, machine, render  # noqa: E402
from devservices.kafka_broker import KafkaBroker  # noqa: E402
from devservices.postgres_server import PostgresServer  # noqa: E402
from orderflow.settings import Settings  # noqa: E402
from orderflow.traffic.simulate import START, publish_orders  # noqa: E402


@dataclass(frozen=True)
class Size:
    orders: int  # the simulator's orders behind rows 1-5, 7a and 8 (about 8.45 messages each)
    big_factor: int  # the big run (rows 4b, 5b, 7b) has this many times the orders
    latency_seconds: float  # how long row 6 streams at 1,000 msg/s
    large_orders: int  # row 9: how many orders of ``large_lines`` lines
    large_lines: int
    stage_budget: float  # seconds any one `orderflow run` stage may take before it is reported unfinished
    big_budget: float  # ... the big run
    drain: float  # seconds row 6 waits, after the last send, for the rest to become visible
    console_orders: int = 100_000  # row 10: rows in the Web Orders list behind the console's pages


SIZES = {
    "small": Size(orders=60, big_factor=3, latency_seconds=2, large_orders=1, large_lines=500,
                  stage_budget=300, big_budget=300, drain=60, console_orders=10_000),
    "full": Size(orders=3500, big_factor=10, latency_seconds=30, large_orders=8, large_lines=500,
                 stage_budget=900, big_budget=1200, drain=300),
}


class Bench:
    """One benchmark run: its services, its size, the rows measured so far."""

    def __init__(self, services: Services, size: Size, seed: int = 11, say: Callable[[str], None] | None = None):
        self.services, self.size, self.seed = services, size, seed
        self.logs = services.workdir
        self.logs.mkdir(parents=True, exist_ok=True)
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.started = time.perf_counter()
        self.raw: float | None = None
        self.naive: float | None = None
        self._say = say or (lambda text: print(text, file=sys.stderr, flush=True))

    def say(self, text: str) -> None:
        self._say(f"[bench {time.perf_counter() - self.started:6.0f} s] {text}")

    def stage(self, name: str, measure: Callable[[], None], *expected: Row) -> None:
        """Run one stage; if it fails, its rows are kept as 'not produced' with the reason, and the run goes on."""
        self.say(name)
        try:
            measure()
        except Exception as error:  # noqa: BLE001 - one failed stage must not lose a long run's other figures
            (self.logs / f"{name.replace(' ', '-')}.error.txt").write_text(traceback.format_exc())
            self.say(f"{name} failed: {error}")
            known = {row.key for row in self.rows}
            for row in expected:
                if row.key not in known:
                    row.note = f"failed: {str(error)[:160]} (see {name.replace(' ', '-')}.error.txt)"
                    self.rows.append(row)

    def run(self) -> list[Row]:
        s = self.size
        base = self.services.settings("base")
        messages = publish_orders(base, count=s.orders, seed=self.seed)
        self.notes.append(f"Rows 1-5a, 7a and 8 consume the same {messages:,} messages: `orderflow simulate --count "
                          f"{s.orders} --seed {self.seed} --rate 0` (the setup and {s.orders:,} order stories).")
        self.stage("baselines", lambda: self.baselines(base, messages),
                   Row("1", "kafka-python reading the records, nothing else (baseline 1)", None, "msg/s", rate=True),
                   Row("2", "kafka-python + psycopg, one row and one commit per message (baseline 2)", None, "msg/s",
                       rate=True))
        one: dict = {}
        self.stage("one process", lambda: self.one_process(base, one), *self.run_rows("4", "3", "7a"),
                   Row("4c", "CPU per message, all processes, end to end (row 4)", None, "µs"))
        self.stage("rebuild", lambda: self.rebuild("5a", one["settings"], one["times"].events, None),
                   Row("5a", "`orderflow projections rebuild`, all read models", None, "events/s", rate=True))
        self.stage("two processes", lambda: self.two_processes(base, one.get("times")),
                   Row("8", "two `orderflow run` in one group, end to end", None, "msg/s", rate=True),
                   Row("8/4", "two processes ÷ one, end to end", None, "×"))
        self.stage("latency", self.latency, Row("6a", "publish→visible in `web_orders` at 1,000 msg/s, p50", None, "ms"),
                   Row("6b", "publish→visible in `web_orders` at 1,000 msg/s, p99", None, "ms"))
        self.stage("large orders", self.large, Row("9", f"large orders ({s.large_lines} lines), end to end", None,
                                                   "msg/s", rate=True))
        big: dict = {}
        self.stage("big run", lambda: self.big(one.get("times"), big), *self.run_rows("4b", None, "7b"))
        self.stage("big rebuild", lambda: self.rebuild("5b", big["settings"], big["times"].events,
                                                       next((r.value for r in self.rows if r.key == "5a"), None)),
                   Row("5b", "`orderflow projections rebuild`, all read models, the big run's history", None,
                       "events/s", rate=True))
        self.stage("analyst", lambda: self.analyst(big["settings"]),
                   Row("10a", "`orderflow export --format parquet --all-events`, the big run's history", None,
                       "events/s"),
                   Row("10b", "peak RSS of that export", None, "MiB"),
                   Row("10c", "the book as of a past instant (`export --as-of`), the big run's orders", None, "s"))
        self.stage("console", self.console,
                   Row("11a", "console: Web Orders list, server time (slowest of five list pages)", None, "ms"),
                   Row("11b", "console: a Web Order page, server time", None, "ms"))
        self.rows.sort(key=lambda row: _order(row.key))
        return self.rows

    # -- stages --------------------------------------------------------------------------------------------

    def baselines(self, base: Settings, messages: int) -> None:
        raw = raw_consume(base, messages)
        self.rows.append(Row("1", "kafka-python reading the records, nothing else (baseline 1)", raw, "msg/s",
                             rate=True, note="median of 3 reads"))
        naive_url = self.services.postgres.create_database(f"bench_{self.services.run_id}_naive")
        naive = naive_consume(base, naive_url, messages)
        self.rows.append(Row("2", "kafka-python + psycopg, one row and one commit per message (baseline 2)", naive,
                             "msg/s", rate=True, note="same PostgreSQL server"))
        self.raw, self.naive = raw, naive

    def run_rows(self, e2e_key: str, store_key: str | None, rss_key: str) -> list[Row]:
        rows = [Row(e2e_key, "`orderflow run` end to end", None, "msg/s", rate=True),
                Row(rss_key, "peak RSS of `orderflow run`", None, "MiB")]
        if store_key:
            rows.append(Row(store_key, "`orderflow run` into the event store", None, "msg/s", rate=True))
        return rows

    def one_process(self, base: Settings, keep: dict) -> None:
        settings = self.services.settings("one", inbound=base.topics)
        roots = roots_of(self.services.postgres, self.services.broker)
        times = run_engines(settings, self.logs, "one", budget=self.size.stage_budget, cpu_roots=roots)
        keep.update(settings=settings, times=times)
        self.rows.append(Row("3", "`orderflow run` into the event store (every position recorded)", times.store_rate,
                             "msg/s", rate=True, note=self._unfinished(times, times.store_seconds)))
        self.rows.append(self._e2e_row("4", "`orderflow run` end to end (read models and outbound topics caught up)",
                                       times))
        cpu = times.cpu or {}
        self.rows.append(Row(
            "4c", "CPU per message, all processes, end to end (row 4)", cpu.get("all"), "µs",
            target="≤ 300 µs (must); ≤ 150 µs (aim)", met=None if not cpu else cpu["all"] <= 300,
            note=("; ".join(f"{kind} {cpu[kind]:,.0f}" for kind in KINDS) + " µs; start-up included; "
                  "this run's processes only (bench/cpu.py)") if cpu else "not measured: row 4 did not finish"))
        self.rows.append(Row("7a", f"peak RSS of `orderflow run` over {times.messages:,} messages", times.peak_rss_mib,
                             "MiB", note="VmHWM of the process and its children, summed"))
        self.notes.append(f"Events stored per inbound message: {times.events / times.messages:.2f} "
                          f"({times.events:,} events for {times.messages:,} messages).")

    def _e2e_row(self, key: str, label: str, times: RunTimes) -> Row:
        row = Row(key, label, times.e2e_rate, "msg/s", rate=True, note=self._unfinished(times, times.e2e_seconds))
        naive, raw = self.naive, self.raw
        if times.e2e_rate and naive and raw:
            row.target = "≥ 2× naive (must); ≥ 5× naive and ≥ 25% of raw (aim)"
            row.met = times.e2e_rate >= 2 * naive
            aim = times.e2e_rate >= 5 * naive and times.e2e_rate >= 0.25 * raw
            row.note = (row.note + "; " if row.note else "") + f"aim {'met' if aim else 'not met'}"
        return row

    @staticmethod
    def _unfinished(times: RunTimes, seconds: float | None) -> str:
        if seconds is not None:
            return f"{times.messages:,} messages in {seconds:,.1f} s"
        return (f"not finished within the {times.budget:,.0f} s budget ({times.recorded:,} of {times.messages:,} "
                f"messages recorded)")

    def rebuild(self, key: str, settings: Settings, events: int, target_rate: float | None) -> None:
        """``orderflow projections rebuild`` of every read model, less the command's start-up time."""
        watcher = Watcher(settings)
        try:
            events = watcher.head()  # what the store holds now that its engines have stopped
        finally:
            watcher.close()
        startup = run_cli(settings, "projections", "status")  # start, bootstrap, a few queries: no rebuilding
        wall = run_cli(settings, "projections", "rebuild")
        seconds = wall - startup if wall - startup > 0.5 * wall else wall
        rate = events / seconds
        row = Row(key, f"`orderflow projections rebuild`, all read models, {events:,} events", rate, "events/s",
                  rate=True, target="≥ 10,000 events/s (must); ≥ 50,000 (aim)", met=rate >= 10_000,
                  note=f"{wall:,.1f} s wall less {startup:,.1f} s start-up (timed with `projections status`)")
        if target_rate is not None:
            row.target += "; linear: within 20% of 5a's rate"
            row.met = rate >= 10_000 and rate >= 0.8 * target_rate
            row.note += f"; {rate / target_rate:.2f}× 5a's rate"
        self.rows.append(row)

    def two_processes(self, base: Settings, one: RunTimes | None) -> None:
        settings = self.services.settings("two", inbound=base.topics)
        times = run_engines(settings, self.logs, "two", processes=2, budget=self.size.stage_budget)
        self.rows.append(Row("8", "two `orderflow run` in one group, end to end", times.e2e_rate, "msg/s", rate=True,
                             note=self._unfinished(times, times.e2e_seconds)))
        if one is None or not one.e2e_rate or not times.e2e_rate:
            raise BenchError("no end-to-end rate of one process (row 4) or two (row 8) to compare")
        ratio = times.e2e_rate / one.e2e_rate
        store = (f"; into the store {times.store_rate / one.store_rate:.2f}×"
                 if times.store_rate and one.store_rate else "")
        self.rows.append(Row("8/4", "two processes ÷ one, end to end", ratio, "×", target="≥ 1.6×", met=ratio >= 1.6,
                             note=f"the second starts once the first says it is running{store}"))

    def latency(self) -> None:
        result = measure_latency(self.services.settings("latency"), self.logs, self.size.latency_seconds,
                                 drain=self.size.drain)
        note = (f"{result.visible:,} of {result.sent:,} messages seen, sent at {result.send_rate:,.0f} msg/s; "
                "polled every 10 ms")
        if result.unseen:
            note += "; never seen: " + ", ".join(f"{n} {kind}" for kind, n in sorted(result.unseen.items()))
        self.rows.append(Row("6a", "publish→visible in `web_orders` at 1,000 msg/s, p50", result.p50_ms, "ms",
                             note=note))
        self.rows.append(Row("6b", "publish→visible in `web_orders` at 1,000 msg/s, p99", result.p99_ms, "ms",
                             target="< 50 ms", met=None if result.p99_ms is None else result.p99_ms < 50))

    def large(self) -> None:
        s = self.size
        settings = self.services.settings("large")
        publish(settings, large_orders(s.large_orders, s.large_lines, self.seed))
        times = run_engines(settings, self.logs, "large", budget=s.stage_budget)
        store = f"; into the store {times.store_rate:,.0f} msg/s" if times.store_rate else ""
        self.rows.append(Row("9", f"large orders: {s.large_orders} × {s.large_lines} lines, placed, refreshed, "
                                  "shipped line by line; end to end", times.e2e_rate, "msg/s", rate=True,
                             note=self._unfinished(times, times.e2e_seconds) + store))

    def console(self) -> None:
        figures = measure_console(self.services.settings("console"), orders=self.size.console_orders)
        pages = ", ".join(f"{name} {ms:.0f}" for name, ms in figures.items() if name.startswith("list,"))
        self.rows.append(Row("11a", f"console: Web Orders list at {figures['orders']:,.0f} orders, server time "
                                    "(slowest of five list pages, median of 20)", figures["list"], "ms",
                             target="< 200 ms", met=figures["list"] < 200, note=f"ms: {pages}"))
        self.rows.append(Row("11b", f"console: a Web Order page at {figures['orders']:,.0f} orders, server time "
                                    "(median of 20)", figures["order page"], "ms",
                             target="< 100 ms", met=figures["order page"] < 100))

    def big(self, one: RunTimes | None, keep: dict) -> None:
        s = self.size
        settings = self.services.settings("big")
        messages = publish_orders(settings, count=s.orders * s.big_factor, seed=self.seed)
        self.say(f"big run: {messages:,} messages published")
        times = run_engines(settings, self.logs, "big", budget=s.big_budget)
        keep.update(settings=settings, times=times)
        self.rows.append(self._e2e_row("4b", f"`orderflow run` end to end, {s.big_factor}× the messages", times))
        row = Row("7b", f"peak RSS of `orderflow run` over {times.recorded:,} messages", times.peak_rss_mib, "MiB",
                  note="VmHWM of the process and its children, summed")
        if one is not None and one.peak_rss_mib:
            growth = times.peak_rss_mib / one.peak_rss_mib
            row.target, row.met = "flat: within 20% of 7a", growth <= 1.2
            row.note += f"; {growth:.2f}× 7a"
        self.rows.append(row)

    def analyst(self, settings: Settings) -> None:
        """A full Parquet export and the book half-way through the history, each in a process of its own."""
        s = self.size
        orders = s.orders * s.big_factor
        half_way = START + timedelta(minutes=7 * orders // 2)  # the simulator's stories start 7 minutes apart
        full, book = measure_exports(settings, self.logs / "analyst", half_way)
        events = full.rows["events"]
        self.rows.append(Row("10a", f"`orderflow export --format parquet --all-events`, {events:,} events and "
                                    "every read model", events / full.seconds, "events/s",
                             note=f"{full.seconds:,.1f} s wall, start-up included"))
        self.rows.append(Row("10b", f"peak RSS of that export ({events:,} events)", full.peak_rss_mib, "MiB",
                             note="VmHWM of the process; bench/analyst.py measures it at 1M events"))
        self.rows.append(Row("10c", f"the book as of a past instant (`export --as-of`), {book.rows['book']:,} of "
                                    f"{orders:,} orders", book.seconds, "s",
                             note=f"{book.peak_rss_mib:,.0f} MiB peak RSS; one pass over the store"))


def _order(key: str) -> tuple:
    digits = "".join(c for c in key.split("/")[0] if c.isdigit())
    return (int(digits), key)


def run_bench(services: Services, size: Size, seed: int = 11, say: Callable[[str], None] | None = None) -> Bench:
    """Measure every row on these services; the returned bench holds the rows and notes."""
    bench = Bench(services, size, seed, say)
    bench.run()
    return bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path("var/bench"), help="where the table, JSON and logs go")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    info = machine()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = args.out / f"{args.size}-{stamp}"
    started = time.perf_counter()
    with PostgresServer() as postgres, KafkaBroker() as broker:
        bench = run_bench(Services(postgres, broker, workdir / "logs"), SIZES[args.size], args.seed)
    info["wall time"] = f"{time.perf_counter() - started:,.0f} s"
    info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report = render(f"orderflow benchmark, size {args.size}", bench.rows, info, bench.notes)
    (workdir / "table.md").write_text(report)
    (workdir / "table.json").write_text(json.dumps(as_json(bench.rows, info), indent=2))
    print(report)
    print(f"(written to {workdir}/table.md)")
    return 0 if all(row.value is not None for row in bench.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
