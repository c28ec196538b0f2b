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

# What a scenario may ask for (agijobs.scenario.base, agijobs.scenario.validation).
MAX_TICKS = 10_000_000
MAX_JOBS_PER_GROUP = 100_000_000
# A price is kept in nano-units (price_per_job × 10^9) as a 64-bit integer.
MAX_PRICE_PER_JOB = 1_000_000_000
