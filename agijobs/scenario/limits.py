"""Every bound an input is held to, in one place (docs/scenario-format.md, "Limits").

The bounds keep any input from taking a process down, and keep what a run adds up within
what the canonical encoding keeps exactly (64-bit integers). No pydantic here: the owner
commands' fast path reads these too.
"""

from __future__ import annotations

INT64_MAX = 2**63 - 1

# Reading a document (agijobs.scenario.documents).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64  # levels of lists and mappings
MAX_NODES = 4_000_000  # values in a YAML document once its aliases are expanded

# A name (an id, a prefix, a skill): these characters, at most this long.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
# The largest latency budget an owner may set, in ms (an hour).
MAX_BUDGET_MS = 3_600_000
MAX_NAME_CHARS = 200

# What a scenario may ask for (agijobs.scenario.base, agijobs.scenario.validation).
MAX_TICKS = 10_000_000
MAX_JOBS_PER_GROUP = 100_000_000
MAX_JOBS = 100_000_000  # across all groups of a workload (and the jobs submitted to a run)
# One `agijobs submit` (`job.submit`): its event lists every job id it adds.
MAX_JOBS_PER_SUBMIT = 100_000
# A price is kept in nano-units (price_per_job × 10^9) as a 64-bit integer.
MAX_PRICE_PER_JOB = 1_000_000_000
# The values of all jobs added up: exact in every JSON reader (JavaScript's integers end
# at 2^53), and far below 64 bits, which the spillover tallies need (they add a job's value
# each time it moves).
MAX_TOTAL_VALUE = 2**53 - 1


def price_problem(price: float, jobs: int) -> str | None:
    """Why a node at `price` per job could overflow the cost of a run of `jobs` jobs (the
    cost is kept in nano-units, a 64-bit integer, and grows with each completion), or
    None when it cannot."""
    if round(price * 1_000_000_000) * jobs <= INT64_MAX:
        return None
    limit = INT64_MAX // max(jobs, 1) / 1_000_000_000
    return (
        f"{price:g} per job for {jobs:,} jobs could cost more than a 64-bit count of "
        f"nano-units keeps (at most {limit:,.3f} per job for this workload)"
    )
