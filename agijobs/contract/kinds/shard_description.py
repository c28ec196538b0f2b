from ..build import BOOLEAN, COUNT, STRING, array, described, document, nullable, open_map
from ..events import POLICY
from ..shapes import AS_OF, HEALTH, HISTORY

KIND = "ShardDescription"
DESCRIPTION = (
    "`describe shard`: a shard's configuration, queues, counters and pause, and its history."
)
NOT_KNOWN = "null: not in the fabric's checkpoint"
SCHEMA = document(
    KIND,
    {
        "shard": described(STRING, "the shard's id"),
        "name": described(nullable(STRING), NOT_KNOWN),
        "paused": described(nullable(BOOLEAN), "the shard, or the whole fabric; " + NOT_KNOWN),
        "retired": described(nullable(BOOLEAN), "deregistered; " + NOT_KNOWN),
        "health": described(nullable(HEALTH), "null: read at rest"),
        "budget_ms": described(nullable(COUNT), NOT_KNOWN),
        "max_queue": described(nullable(COUNT), NOT_KNOWN),
        "alert_threshold": described(nullable(COUNT), NOT_KNOWN),
        "spillover": described(array(POLICY), "its spillover policies"),
        "reroute_target": described(nullable(STRING), "the reroute target owners set"),
        "queued": described(nullable(COUNT), NOT_KNOWN),
        "deferred": described(nullable(COUNT), NOT_KNOWN),
        "in_flight": described(nullable(COUNT), NOT_KNOWN),
        "counters": open_map(COUNT, "job counts by name (queued, completed, failed…)"),
        "as_of": AS_OF,
        "history": HISTORY,
    },
)
