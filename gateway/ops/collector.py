"""The garbage collector's settings for a long-running gateway (process-wide, so
service.py applies them once, when the gateway has started).

Measured on the SMPP bench (bench/profiles/smpp_gc.md): with CPython's defaults a full
(generation 2) collection walked the whole heap, startup included, and took about 40 ms,
the gateway's worst submit latencies; the young collections cost about 7 µs a message.
Freezing what startup built moves it out of every later collection (it lives as long as
the process anyway), and larger young generations are collected less often: messages
live for tens of milliseconds, so most die before a collection sees them. Cycles are
still collected: the thresholds only space the collections out."""
from __future__ import annotations

import gc
from dataclasses import dataclass

__all__ = ["CollectorSettings", "settle_the_heap"]


@dataclass(frozen=True)
class CollectorSettings:
    """gc.set_threshold's three numbers (CPython's defaults are 700, 10, 10)."""

    young: int = 5000
    middle: int = 50
    old: int = 10


def settle_the_heap(settings: CollectorSettings = CollectorSettings()) -> int:
    """Collect once, freeze what survives (startup's objects), set the thresholds.
    Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(settings.young, settings.middle, settings.old)
    return gc.get_freeze_count()
