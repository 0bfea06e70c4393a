"""The collector's settings for long runs: raised thresholds, start-up objects frozen, put back after a rebuild."""

import gc

from orderflow import collector


def test_a_rebuild_runs_with_raised_thresholds_and_puts_the_defaults_back():
    before = gc.get_threshold()
    with collector.thresholds():
        assert gc.get_threshold() == collector.THRESHOLDS != before
    assert gc.get_threshold() == before


def test_the_engine_freezes_what_start_up_built_and_raises_the_thresholds():
    before = gc.get_threshold()
    try:
        collector.for_the_engine()
        assert gc.get_threshold() == collector.THRESHOLDS and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
