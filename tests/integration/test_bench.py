"""``make bench`` at its smallest size, so that the harness cannot rot: every row produced, never a timing asserted."""

from __future__ import annotations

from bench.harness import Services
from bench.run import SIZES, run_bench

ROWS = {"1", "2", "3", "4", "4b", "4c", "5a", "5b", "6a", "6b", "7a", "7b", "8", "8/4", "9", "10a", "10b", "10c", "11a",
        "11b"}


def test_the_small_benchmark_produces_every_row_with_a_positive_figure(postgres_server, kafka_broker, tmp_path):
    bench = run_bench(Services(postgres_server, kafka_broker, tmp_path / "bench"), SIZES["small"], say=lambda _: None)

    assert {row.key for row in bench.rows} == ROWS
    missing = [f"{row.key} {row.label}: {row.note}" for row in bench.rows if not (row.value and row.value > 0)]
    assert not missing, "rows without a figure:\n" + "\n".join(missing)
