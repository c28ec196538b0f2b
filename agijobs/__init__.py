"""agijobs: the operator toolkit for a sharded planetary job fabric.

The library core runs the fabric tick by tick (`agijobs.fabric`), stores a hash-chained
event log and integrity-checked checkpoints (`agijobs.store`), and is driven by
`agijobs.runner`; `agijobs.cli` is a thin command line over it.
"""

from .errors import (
    AgijobsError,
    BadInput,
    Conflict,
    ExpectationFailed,
    IntegrityError,
    NotAcknowledged,
    Refused,
)

__all__ = [
    "AgijobsError",
    "BadInput",
    "Conflict",
    "ExpectationFailed",
    "IntegrityError",
    "NotAcknowledged",
    "Refused",
]
__version__ = "0.1.0"
