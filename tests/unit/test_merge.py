"""The event-time merge's waiting rule, on its own: what holds a record back, and for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from orderflow.consumers.dead_letters import Source
from orderflow.consumers.merge import EventTimeMerge, Incoming
from orderflow.contract.envelope import Envelope

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SF, ERP = ("storefront", 0), ("erp", 0)


def incoming(partition: tuple[str, int], offset: int, minutes: int, published: float | None = None) -> Incoming:
    """A record; ``published``: its Kafka timestamp, as a time of day in seconds."""
    envelope = Envelope(key="SF-1", message_id=f"{partition[0]}-{offset}", message_type="customer_comment",
                        occurred_at=T0 + timedelta(minutes=minutes), payload={})
    record: Any = Source(partition[0], partition[1], offset, b"SF-1", b"", [])
    if published is not None:
        record = SimpleNamespace(**vars(record), timestamp=int(published * 1000))
    return Incoming.of(record, 0 if partition == SF else 1, envelope, None)


def released(merge: EventTimeMerge, caught_up: set, now: float) -> list[str]:
    return [i.envelope.message_id for i in merge.release(lambda tp: tp in caught_up, now)]


def test_records_are_released_in_event_time_order_across_partitions_and_in_offset_order_within_one():
    merge = EventTimeMerge(grace=0, max_idle=60)
    merge.assign([SF, ERP])
    merge.add(SF, [incoming(SF, 0, 1), incoming(SF, 1, 5)], now=0)
    merge.add(ERP, [incoming(ERP, 0, 3), incoming(ERP, 1, 2)], now=0)
    assert released(merge, {SF, ERP}, now=0) == ["storefront-0", "erp-0", "erp-1", "storefront-1"]


def test_a_record_waits_for_a_partition_behind_its_end_offset_until_the_idle_bound():
    merge = EventTimeMerge(grace=0, max_idle=30)
    merge.assign([SF, ERP])
    merge.add(ERP, [incoming(ERP, 0, 3)], now=0)
    assert released(merge, set(), now=0) == []
    assert released(merge, set(), now=29) == []
    assert released(merge, set(), now=31) == ["erp-0"]


def test_a_record_waits_its_grace_for_a_caught_up_empty_partition_then_goes():
    merge = EventTimeMerge(grace=0.05, max_idle=30)
    merge.assign([SF, ERP])
    merge.add(ERP, [incoming(ERP, 0, 3)], now=10.0)
    assert released(merge, {SF, ERP}, now=10.01) == []
    merge.add(SF, [incoming(SF, 0, 2)], now=10.02)  # published at the same moment, read a little later
    assert released(merge, {SF, ERP}, now=10.03) == ["storefront-0"]
    assert released(merge, {SF, ERP}, now=10.08) == ["erp-0"]


def test_the_grace_counts_from_when_a_record_was_published_never_from_a_time_ahead_of_its_arrival():
    merge = EventTimeMerge(grace=0.05, max_idle=30)
    merge.assign([SF, ERP])
    wall = 1_800_000_000.0  # the time of day when the records are read, at monotonic 10.0
    on_the_way = incoming(ERP, 0, 3, published=wall - 0.03)  # published 30 ms before it was read: 20 ms to go
    merge.add(ERP, [on_the_way], now=10.0, wall=wall)
    assert released(merge, {SF, ERP}, now=10.015) == []
    assert released(merge, {SF, ERP}, now=10.025) == ["erp-0"]
    old = incoming(ERP, 1, 4, published=wall - 60)  # from a backlog: its grace was spent long ago
    merge.add(ERP, [old], now=10.0, wall=wall)
    assert released(merge, {SF, ERP}, now=10.0) == ["erp-1"]
    ahead = incoming(ERP, 2, 5, published=wall + 5)  # a producer's clock ahead: the whole grace, from arrival
    merge.add(ERP, [ahead], now=10.0, wall=wall)
    assert released(merge, {SF, ERP}, now=10.049) == []
    assert released(merge, {SF, ERP}, now=10.051) == ["erp-2"]


def test_a_requeued_message_takes_its_place_among_the_records_still_to_come():
    merge = EventTimeMerge(grace=0, max_idle=30)
    merge.assign([SF, ERP])
    merge.add(SF, [incoming(SF, 5, 4)], now=0)
    merge.requeue(incoming(ERP, 0, 2), now=0)
    assert released(merge, {SF, ERP}, now=0) == ["erp-0", "storefront-5"]
