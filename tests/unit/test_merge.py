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


def test_a_record_published_long_ago_still_waits_its_grace_once_read():
    """After an outage the records come from a backlog, with old Kafka timestamps, and the end offset the
    consumer knows for the other topic is that of its last fetch: that topic's earlier records may be in the
    next one. The grace counts from the arrival, whatever the timestamp says."""
    merge = EventTimeMerge(grace=0.05, max_idle=30)
    merge.assign([SF, ERP])
    merge.add(ERP, [incoming(ERP, 0, 3, published=1_800_000_000.0 - 600)], now=10.0)
    assert released(merge, {SF, ERP}, now=10.049) == []
    merge.add(SF, [incoming(SF, 0, 2, published=1_800_000_000.0 - 600)], now=10.049)
    assert released(merge, {SF, ERP}, now=10.1) == ["storefront-0", "erp-0"]


def test_a_requeued_message_takes_its_place_among_the_records_still_to_come():
    merge = EventTimeMerge(grace=0, max_idle=30)
    merge.assign([SF, ERP])
    merge.add(SF, [incoming(SF, 5, 4)], now=0)
    merge.requeue(incoming(ERP, 0, 2), now=0)
    assert released(merge, {SF, ERP}, now=0) == ["erp-0", "storefront-5"]
