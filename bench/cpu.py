"""The CPU every kind of process of one benchmark spends: its engines, their followers, its Kafka broker, its PostgreSQL.

Read from ``/proc/PID/stat`` (user + system ticks), counting only the processes in the trees of this benchmark
(this process's children, the broker's and the PostgreSQL server's): on a shared machine another developer's
services are not ours. On two cores the sum per message bounds the rate, however the work overlaps. Linux only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
KINDS = ("orderflow run", "followers", "Kafka", "PostgreSQL")


def kind_of(command: str) -> str:
    if "orderflow.followers" in command:
        return "followers"
    if "orderflow.cli run" in command or "orderflow run" in command:
        return "orderflow run"
    if "postgres" in command:
        return "PostgreSQL"
    return "Kafka" if "java" in command else "other"


def cpu_by_process(roots: Iterable[int]) -> dict[int, tuple[str, int]]:
    """pid -> (kind, CPU ticks so far) of ``roots`` and every process descending from them."""
    stats: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), command)
    ours: dict[int, bool] = dict.fromkeys(roots, True)

    def descends(pid: int) -> bool:
        chain = []
        while pid not in ours:
            if pid not in stats:
                break
            chain.append(pid)
            pid = stats[pid][0]
        verdict = ours.get(pid, False)
        for each in chain:
            ours[each] = verdict
        return verdict

    return {pid: (kind_of(command), ticks) for pid, (_, ticks, command) in stats.items() if descends(pid)}


def roots_of(postgres: object, broker: object) -> list[int]:
    """This process (its own ticks count as ``other``) and the two servers' main processes: with their
    descendants, the benchmark's processes."""
    return [os.getpid(), postgres.pid, broker.pid]  # type: ignore[attr-defined]


def spent_per_message(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]],
                      messages: int) -> dict[str, float]:
    """µs of CPU per message of each kind (and ``all``) between two readings."""
    spent = dict.fromkeys((*KINDS, "other"), 0)
    for pid, (kind, ticks) in after.items():
        spent[kind] += ticks - before.get(pid, (kind, 0))[1]
    per = {kind: 1e6 * ticks / TICKS / messages for kind, ticks in spent.items()}
    per["all"] = sum(per[kind] for kind in KINDS)
    return per
