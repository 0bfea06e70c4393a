"""The inbound loop's main-thread CPU per message, without Kafka or a database (issue 10).

    .venv/bin/python bench/pipeline_cpu.py 1000            # orders of simulated traffic
    PROF=tottime .venv/bin/python bench/pipeline_cpu.py 1000   # with a cProfile (or PROF=cumulative)
    APPLY=1 .venv/bin/python bench/pipeline_cpu.py 1000        # also the handlers' share (apply: get, act, save)

Drains the simulator's traffic through the unit tests' pipeline harness into a
memory store; prints microseconds per message, wall clock and the main thread's
CPU (``time.thread_time``, less disturbed by other load; with APPLY=1 the
handlers' share is thread CPU too). The machine is noisy: compare by
alternating runs and take medians.
"""

import sys
from pathlib import Path

# Run as a script, sys.path[0] is bench/, whose profile.py would shadow the stdlib's (cProfile needs it).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import cProfile  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402

import tests.unit.test_pipeline as tp  # noqa: E402
from orderflow import collector  # noqa: E402
from orderflow.application.orders import Orders  # noqa: E402
from orderflow.traffic.simulate import traffic  # noqa: E402
from tests.unit.test_pipeline import Harness, as_records  # noqa: E402

applying = [0.0]
if os.environ.get("APPLY"):
    # Time the domain part alone: the handler the pipeline calls per message (get, act, save).
    import orderflow.consumers.pipeline as pipeline  # noqa: E402

    def timed_apply(app, envelope, _apply=pipeline.apply, _clock=time.thread_time):
        t0 = _clock()
        try:
            _apply(app, envelope)
        finally:
            applying[0] += _clock() - t0

    pipeline.apply = timed_apply

msgs = [e for _, e in traffic(int(sys.argv[1]), seed=11)]
tp.MESSAGES = msgs
h = Harness(Orders("memory:"), as_records(msgs, 4), batch_size=500, partitions=4)
collector.for_the_engine()
prof = cProfile.Profile() if os.environ.get("PROF") else None
t, cpu = time.perf_counter(), time.thread_time()
if prof:
    prof.enable()
h.drain(chunk=500)
while any(not h.caught_up(p) for p in h.read):
    h.drain(chunk=500)
if prof:
    prof.disable()
dt, cpu = time.perf_counter() - t, time.thread_time() - cpu
print(f"{len(msgs)} msgs {1e6*dt/len(msgs):.0f} us/msg (thread CPU {1e6*cpu/len(msgs):.0f}) rejections {len(h.rejections)}"
      + (f" apply {1e6*applying[0]/len(msgs):.1f} us/msg" if os.environ.get("APPLY") else ""))
if prof:
    pstats.Stats(prof).sort_stats(os.environ["PROF"]).print_stats(int(os.environ.get("TOP", 45)))
