from ..build import (
    BOOLEAN,
    COUNT,
    INTEGER,
    NUMBER,
    SHA256,
    STRING,
    TEXT_LIST,
    array,
    described,
    document,
    nullable,
    obj,
    one_of,
    open_map,
)
from ..events import GOVERNANCE, INPUT
from ..shapes import AUTHORITY_OPEN, HEALTH, PAUSE, SUMMARY

KIND = "Status"
DESCRIPTION = "`status`: the run's state, shards, nodes, checkpoint, chain head and authority."
STATE = one_of(
    "running",
    "running, paused",
    "paused",
    "stopped",
    "stopped at max_ticks",
    "finished",
    "crashed",
)
SHARD = obj(
    {
        "id": STRING,
        "name": nullable(STRING),
        "queued": COUNT,
        "deferred": COUNT,
        "in_flight": COUNT,
        "completed": COUNT,
        "failed": COUNT,
        "cancelled": COUNT,
        "cost": described(NUMBER, "USDC"),
        "retired": described(BOOLEAN, "deregistered"),
        "budget_ms": COUNT,
        "max_queue": COUNT,
        "health": HEALTH,
        "paused": described(BOOLEAN, "the shard, or the whole fabric"),
        "pause": described(PAUSE, "the shard's own pause (the fabric's is the document's)"),
        "first_target": described(nullable(STRING), "the reroute target owners set"),
    }
)
NODE = obj(
    {
        "id": STRING,
        "shard": STRING,
        "status": one_of("up", "down"),
        "over_budget": BOOLEAN,
        "latency_ms": COUNT,
        "running": COUNT,
        "slots": COUNT,
        "price_per_job": described(NUMBER, "USDC"),
        "metadata": open_map({}, "the operator's own metadata, as configured"),
        "schedulable": described(
            one_of("cordoned", "draining"), "only when cordoned (absent: schedulable)"
        ),
        "drain_tick": described(
            COUNT, "only when draining: its running jobs are requeued at this tick's end"
        ),
        "reported_down_by": described(
            one_of("executor"), "only when the executor reported the node down"
        ),
    },
    optional=("schedulable", "drain_tick", "reported_down_by"),
)
SESSION = described(
    obj(
        {
            "event": one_of(
                "started",
                "stopped",
                "resumed",
                "crash-detected",
                "recovered",
                "command",
                "governance.payload",
            ),
            "at": described(STRING, "wall-clock time, UTC"),
            "pid": INTEGER,
            "run_id": STRING,
            "scenario": STRING,
            "archived_previous": nullable(STRING),
            "tick": COUNT,
            "status": STRING,
            "reason": STRING,
            "previous_pid": nullable(INTEGER),
            "checkpoint_seq": COUNT,
            "dropped_events": COUNT,
            "torn_bytes": COUNT,
            "command": STRING,
            "actor": STRING,
            "seq": COUNT,
            "payload": described({}, "what the bridge's govern answered"),
        },
        optional=(
            "run_id",
            "scenario",
            "archived_previous",
            "tick",
            "status",
            "reason",
            "previous_pid",
            "checkpoint_seq",
            "dropped_events",
            "torn_bytes",
            "command",
            "actor",
            "seq",
            "payload",
        ),
    ),
    "a record of sessions.ndjson (process lifecycle, outside the event chain); which "
    "fields it has depends on its event",
)
AUTHORITY_SIGNED = obj(
    {
        "mode": {"const": "signed"},
        "authenticated": {"const": True},
        **GOVERNANCE["properties"],
        "proposals": array(
            obj(
                {
                    "id": STRING,
                    "command": INPUT,
                    "needed": COUNT,
                    "expires_tick": COUNT,
                    "signers": TEXT_LIST,
                }
            )
        ),
    }
)
ACKNOWLEDGED = obj(
    {
        "command": described(STRING, "the owner command"),
        "tick": described(COUNT, "the tick it took effect at, acknowledged"),
        "actor": STRING,
        "reason": STRING,
    }
)
SCHEMA = {
    "oneOf": [
        document(KIND, {"storage": STRING, "state": {"const": "no run"}}),
        document(
            KIND,
            {
                "storage": STRING,
                "state": STATE,
                "pid": described(nullable(INTEGER), "the live runner's"),
                "host": described(nullable(STRING), "the live runner's"),
                "run_id": nullable(STRING),
                "name": STRING,
                "tick": COUNT,
                "paused": BOOLEAN,
                "pause": described(PAUSE, "the fabric's pause (pause-all)"),
                "shards": array(SHARD),
                "nodes": array(NODE),
                "checkpoint": obj({"tick": COUNT, "seq": COUNT}),
                "head": described(SHA256, "the chain head at the checkpoint"),
                "events": COUNT,
                "last_event_tick": COUNT,
                "sessions": described(array(SESSION), "the last five"),
                "acknowledged": described(
                    array(ACKNOWLEDGED),
                    "with no runner live: commands a runner acknowledged after its last "
                    "checkpoint (in force; `runner start` applies each again at its tick)",
                ),
                "summary": described(nullable(SUMMARY), "summary.json, once a run stopped"),
                "authority": {"oneOf": [AUTHORITY_OPEN, AUTHORITY_SIGNED]},
            },
        ),
    ]
}
