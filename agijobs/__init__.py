"""agijobs: the operator toolkit for a sharded planetary job fabric.

    from agijobs import Fabric

    fabric = Fabric("./storage")
    fabric.run("scenarios/planetary.yaml", fresh=True)
    print(fabric.audit().to_json()["conservation"])

`Fabric` (agijobs.service) is the one entry point: the command line calls it, and so can any
script. Below it: `agijobs.run` runs a fabric against its storage, `agijobs.audit` verifies
one, `agijobs.views` says what a run did, `agijobs.scenario` is the input boundary,
`agijobs.fabric` the deterministic core, `agijobs.store` and `agijobs.ledger` the record.
docs/library.md has the tour.
"""

from .__about__ import __version__
from .errors import (
    AgijobsError,
    BadInput,
    Conflict,
    ExpectationFailed,
    IntegrityError,
    NotAcknowledged,
    Refused,
)
from .service import Fabric, new_key, scenario_schema, show_key

__all__ = [
    "AgijobsError",
    "BadInput",
    "Conflict",
    "ExpectationFailed",
    "Fabric",
    "IntegrityError",
    "NotAcknowledged",
    "Refused",
    "__version__",
    "new_key",
    "scenario_schema",
    "show_key",
]
