"""A sync makes the garbage collector run less often while it runs, and puts its thresholds back
afterwards, also when it fails or when syncs overlap (tasks/git/_gc.py)."""

from __future__ import annotations

import gc
import threading

import pytest

from kestra_git_tasks.tasks.git._gc import GC_YOUNG_THRESHOLD, fewer_collections


def test_the_young_threshold_is_raised_during_a_sync_and_put_back_after() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        during = gc.get_threshold()
    assert during == (max(GC_YOUNG_THRESHOLD, before[0]), *before[1:])
    assert gc.get_threshold() == before
    assert gc.isenabled()


def test_the_thresholds_are_put_back_when_the_sync_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the sync failed")
    assert gc.get_threshold() == before


def test_overlapping_syncs_put_back_the_thresholds_from_before_the_first() -> None:
    before = gc.get_threshold()
    first_in, first_may_leave = threading.Event(), threading.Event()

    def first() -> None:
        with fewer_collections():
            first_in.set()
            first_may_leave.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with fewer_collections():  # starts after the first, ends before it
        pass
    assert gc.get_threshold()[0] >= GC_YOUNG_THRESHOLD  # the first still runs
    first_may_leave.set()
    thread.join(5)
    assert gc.get_threshold() == before


def test_a_higher_threshold_set_by_the_application_is_kept() -> None:
    before = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD * 5, *before[1:])
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD * 5
    finally:
        gc.set_threshold(*before)
