"""Whether a run fits in this machine's memory, asked before anything is written.

A run that the kernel kills for memory half-way leaves a crashed storage behind; one that
cannot fit is better refused up front, with the numbers. The estimate is deliberately
simple (docs/scenario-format.md, "Limits"):

    48 MiB + 1 KiB × the jobs alive at once + 128 bytes × the jobs of the run

The jobs alive at once are counted per group as those that arrive within one job's
duration (`per_tick × duration`, or the whole group when it arrives at once, capped at its
`count`), as if every group were at its busiest together. The coefficients fit what
benchmarks/bench.py measures (the 1M-job planetary run peaks at 169 MB, a burst of 100,000
jobs at 156 MB) within about 15%. Queues that grow because nodes are down or the fabric is
paused take more than that, which nothing known before the run can tell: the estimate is
what the run needs at the least, so a run refused would not have fitted.
"""

from __future__ import annotations

import os

from ..errors import BadInput
from ..scenario.plan import Plan

BASE_BYTES = 48 * 1024 * 1024
PER_LIVE_JOB = 1024
PER_JOB = 128


def memory_needed(plan: Plan) -> tuple[int, int, int]:
    """(bytes, jobs, jobs alive at once) the run of `plan` needs at the least."""
    jobs = alive = 0
    for group in plan.scenario.workload:
        jobs += group.count
        alive += min(group.count, group.per_tick * group.duration)
    return BASE_BYTES + PER_LIVE_JOB * alive + PER_JOB * jobs, jobs, alive


def memory_available() -> int | None:
    """Bytes this machine can give a new process without swapping (MemAvailable), or None
    when it does not say."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024  # in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(plan: Plan, label: str) -> None:
    """Refuse (exit 2) a run whose estimate exceeds the memory available."""
    available = memory_available()
    if available is None:
        return
    needed, jobs, alive = memory_needed(plan)
    if needed > available:
        raise BadInput(
            f"{label}: the run needs about {_mib(needed)} of memory ({jobs:,} jobs, "
            f"{alive:,} of them alive at once); this machine has {_mib(available)} available",
            "run fewer jobs (workload -> N -> count), spread their arrivals "
            '(arrive -> per_tick), or free memory (docs/scenario-format.md, "Limits")',
        )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MiB"
