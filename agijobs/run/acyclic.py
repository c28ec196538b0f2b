"""The cycle collector held back while millions of acyclic objects are made.

A tick loop, a restore of a 100k-job backlog and the audit's walk make millions of objects
that never form cycles (jobs, rows, tuples, event dicts). Python's cycle collector scans
its youngest generation every 700 allocations and rescans survivors as they age: over
such objects that is pure overhead (a fifth to a quarter of a 1M-job run; three quarters
of decoding a 100k-row job table). Inside `rarely_collected`, for loops that may run for
hours, what already exists is frozen (never scanned again) and the youngest generation is
collected every 200,000 allocations: cycles are still collected, just rarely. A bounded
burst (decoding and restoring a backlog) runs `uncollected`: even those collections cost
a 100k-job restore 0.1-0.2 s, and whatever it leaves is collected once it ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def rarely_collected() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@contextlib.contextmanager
def uncollected() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
