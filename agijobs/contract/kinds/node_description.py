from ..build import (
    BOOLEAN,
    COUNT,
    STRING,
    TEXT_LIST,
    described,
    document,
    nullable,
    one_of,
    open_map,
)
from ..shapes import AS_OF, HISTORY

KIND = "NodeDescription"
DESCRIPTION = "`describe node`: a node's configuration and state now, and its history."
NOT_KNOWN = "null: not in the fabric now (deregistered)"
SCHEMA = document(
    KIND,
    {
        "node": described(STRING, "the node's id"),
        "shard": described(nullable(STRING), NOT_KNOWN),
        "status": one_of("up", "down"),
        "skills": TEXT_LIST,
        "slots": described(nullable(COUNT), NOT_KNOWN),
        "latency_ms": described(nullable(COUNT), "its latency now; " + NOT_KNOWN),
        "base_latency_ms": described(nullable(COUNT), "as configured; " + NOT_KNOWN),
        "over_budget": described(nullable(BOOLEAN), "null: read at rest"),
        "running_jobs": described(nullable(COUNT), "jobs running on it; " + NOT_KNOWN),
        "running": described(
            nullable(TEXT_LIST), "the ids of the jobs it runs (null: a live runner, or not known)"
        ),
        "outages": described(nullable(COUNT), "outages in force; " + NOT_KNOWN),
        "metadata": open_map({}, "the operator's own metadata, as configured"),
        "as_of": AS_OF,
        "history": HISTORY,
    },
)
