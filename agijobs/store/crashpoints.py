"""Deterministic kill points for crash drills and crash tests.

`AGIJOBS_CRASH_AT=POINT:N` makes the process SIGKILL itself at the Nth time it reaches POINT
(`AGIJOBS_CRASH_AT_TICK=N` is short for `tick:N`):

    tick                right after the events of tick N are written, before its checkpoint
    append              halfway through the Nth append to events.ndjson: a torn last line
                        (PostgreSQL: half of the Nth append's rows sent, uncommitted)
    checkpoint          after the Nth checkpoint's temporary file is fsynced, before the rename
                        (PostgreSQL: before the Nth checkpoint's transaction commits)
    checkpoint-renamed  after the Nth checkpoint rename, before the directory fsync
                        (PostgreSQL: right after that commit)
    ack                 after the Nth batch of live commands is journaled, before they apply
    recovery            in `runner start`, once the log is cut back to the checkpoint, before
                        the recovered run's first checkpoint (a crash of the recovery itself)

These are process-level fault injections in the storage and runner layers (like
FoundationDB's buggify); the deterministic core never sees them. Disarmed, `reached` is one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from typing import NoReturn

from ..errors import BadInput

POINTS = ("tick", "append", "checkpoint", "checkpoint-renamed", "ack", "recovery")
_armed: dict[str, int] = {}
_seen: dict[str, int] = {}


def arm(spec: str | None) -> None:
    """Arm one kill point from `POINT:N` (None or empty disarms)."""
    _armed.clear()
    _seen.clear()
    if not spec:
        return
    point, _, count = spec.strip().partition(":")
    if point not in POINTS or not count.isdigit() or int(count) < 1:
        raise BadInput(
            f"AGIJOBS_CRASH_AT: expected POINT:N with POINT one of {', '.join(POINTS)} "
            f"and N >= 1 (got {spec!r})",
            "unset it, or set e.g. AGIJOBS_CRASH_AT=append:12",
        )
    _armed[point] = int(count)


def arm_from_environment() -> None:
    tick = os.environ.get("AGIJOBS_CRASH_AT_TICK", "").strip()
    arm(f"tick:{tick}" if tick else os.environ.get("AGIJOBS_CRASH_AT"))


def reached(point: str, at: int | None = None) -> bool:
    """Count one arrival at `point` (or use `at`, e.g. the tick); true when it is armed."""
    wanted = _armed.get(point)
    if wanted is None:
        return False
    if at is None:
        at = _seen[point] = _seen.get(point, 0) + 1
    return at == wanted


def kill() -> NoReturn:
    os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit(137)  # not reached: SIGKILL cannot be caught
