"""Web Order numbers: unique across processes, O(1) per order, sorted as text past WO999999."""

from __future__ import annotations

import random

import pytest
from eventsourcing.persistence import IntegrityError

from orderflow.aggregates.numbering import BLOCK_SIZE, NumberBlock, WebOrderNumbers, format_number
from orderflow.application.orders import Orders
from tests.strategies import CUSTOMER, at, b2b_payload


def place(app: Orders, reference: str, minute: int = 0) -> str:
    app.place_order(reference, b2b_payload(), CUSTOMER, at(minute))
    return reference


def numbers_of(app: Orders, references) -> list[str]:
    return [app.get_order(ref).web_order_no for ref in references]


def stored_topics(app: Orders) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start=1, limit=100_000)]


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/orders.db"


def test_numbers_have_ten_digits_and_sort_as_text_past_wo999999() -> None:
    samples = [1, 9, 10, 999_999, 1_000_000, 1_000_001, 123_456_789, 9_999_999_999]

    assert format_number(1) == "WO0000000001"
    assert sorted(format_number(n) for n in reversed(samples)) == [format_number(n) for n in samples]


def test_a_block_of_numbers_costs_one_stored_event_not_one_per_order() -> None:
    app = Orders("memory:")
    with app.batch():
        refs = [place(app, f"SF-{n}") for n in range(2 * BLOCK_SIZE + 1)]

    assert numbers_of(app, refs) == [format_number(n) for n in range(1, 2 * BLOCK_SIZE + 2)]
    topics = stored_topics(app)
    assert sum(t.endswith("NumberBlock.Reserved") for t in topics) == 3
    assert not any("WebOrderNumbers" in t for t in topics)


def test_issuing_a_number_reads_nothing_until_the_block_is_used_up() -> None:
    app = Orders("memory:")
    place(app, "SF-0")
    reads = []
    real_get = app.repository.get
    app.repository.get = lambda aggregate_id, *a, **kw: reads.append(aggregate_id) or real_get(aggregate_id, *a, **kw)
    refs = [place(app, f"SF-{n}") for n in range(1, BLOCK_SIZE)]

    series_reads = [r for r in reads if r in {NumberBlock.create_id(i) for i in range(5)}]
    assert series_reads == []
    assert numbers_of(app, refs)[-1] == format_number(BLOCK_SIZE)


def test_two_processes_never_issue_the_same_number_and_a_conflict_is_retried(url) -> None:
    first, second = Orders(url), Orders(url)
    try:
        with first.batch():
            a = [place(first, "SF-A1"), place(first, "SF-A2")]
        with pytest.raises(IntegrityError):  # both reserved block 1 at the same time; the second loses
            with second.batch():
                place(second, "SF-B1")
                with first.batch():
                    a.append(place(first, "SF-A3"))
                    a += [place(first, f"SF-A{n}") for n in range(4, BLOCK_SIZE + 2)]
        with second.batch():  # the consumer replays the batch that conflicted
            b = [place(second, "SF-B1"), place(second, "SF-B2")]

        numbers = numbers_of(first, a) + numbers_of(first, b)
        assert len(set(numbers)) == len(numbers) == BLOCK_SIZE + 3
        assert numbers_of(first, b) == [format_number(2 * BLOCK_SIZE + 1), format_number(2 * BLOCK_SIZE + 2)]
    finally:
        first.close()
        second.close()


def test_a_rolled_back_batch_takes_its_reservation_with_it(url) -> None:
    app, other = Orders(url), Orders(url)
    try:
        with pytest.raises(RuntimeError):
            with app.batch():
                place(app, "SF-1")
                raise RuntimeError("the batch fails: nothing is recorded")
        with other.batch():  # the block the failed batch reserved is free: another process takes it
            place(other, "SF-2")
        with app.batch():
            place(app, "SF-3")

        assert numbers_of(app, ["SF-2", "SF-3"]) == [format_number(1), format_number(BLOCK_SIZE + 1)]
    finally:
        app.close()
        other.close()


def test_a_restarted_process_continues_after_the_numbers_it_held_never_reusing_one(url) -> None:
    app = Orders(url)
    place(app, "SF-1")
    app.close()
    restarted = Orders(url)
    try:
        place(restarted, "SF-2")
        assert numbers_of(restarted, ["SF-1", "SF-2"]) == [format_number(1), format_number(BLOCK_SIZE + 1)]
    finally:
        restarted.close()


def test_numbering_continues_after_the_former_single_aggregate_series() -> None:
    app = Orders("memory:")
    former = WebOrderNumbers()
    for n in range(1, 42):
        former._issued(number=n, at=at(0))
    app.save(former)
    place(app, "SF-42")

    assert app.get_order("SF-42").web_order_no == format_number(42)


@pytest.mark.parametrize("seed", range(3))
def test_interleaved_batches_of_three_processes_with_conflicts_and_failures_never_duplicate_a_number(url, seed) -> None:
    rng = random.Random(seed)
    apps = [Orders(url) for _ in range(3)]
    placed: list[str] = []
    try:
        for round_no in range(12):
            # Each process opens a batch and places some orders; the batches end in random order,
            # some fail on purpose, some conflict: only recorded batches count.
            batches = []
            for p, app in enumerate(apps):
                batch = app.batch()
                batch.__enter__()
                refs = [place(app, f"SF-{round_no}-{p}-{n}") for n in range(rng.randint(1, 60))]
                batches.append((app, batch, refs))
            rng.shuffle(batches)
            for _app, batch, refs in batches:
                try:
                    if rng.random() < 0.2:
                        batch.__exit__(RuntimeError, RuntimeError("failed"), None)
                        continue
                    batch.__exit__(None, None, None)
                except IntegrityError:
                    continue
                placed += refs
        numbers = numbers_of(apps[0], placed)
        assert len(placed) > 100
        assert len(set(numbers)) == len(numbers)
    finally:
        for app in apps:
            app.close()
