"""settle_the_heap freezes what exists and spaces the collections out, and cycles made
afterwards are still collected."""
from __future__ import annotations

import gc
import weakref

import pytest

from gateway.ops.collector import CollectorSettings, settle_the_heap


@pytest.fixture
def restored_collector():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_startup_objects_are_frozen_and_thresholds_set(restored_collector):
    survivor = _Node()
    frozen = settle_the_heap(CollectorSettings(young=4000, middle=40, old=10))
    assert frozen > 0 and gc.get_freeze_count() > 0
    assert gc.get_threshold() == (4000, 40, 10)
    assert not any(o is survivor for o in gc.get_objects())  # out of every generation


def test_cycles_made_after_settling_are_still_collected(restored_collector):
    settle_the_heap()
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None
