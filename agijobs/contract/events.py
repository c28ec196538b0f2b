"""The event log's contract: one line of `events.ndjson` (the envelope) and the `data` of
every event type, with the effect of every owner command.

This is the shared telemetry schema: what dashboards, auditors and a second implementation
read. The bytes of the log are hashed into the chain, so within `agijobs/v1` a recorded
change keeps its positional `[before, after]` form here (`Pair`); the JSON outputs print the
same effects with named sides (`named_effect`).
"""

from __future__ import annotations

from typing import Any

from .build import (
    BOOLEAN,
    COUNT,
    INTEGER,
    NUMBER,
    SHA256,
    STRING,
    TEXT_LIST,
    Changes,
    Pair,
    Schema,
    array,
    described,
    nullable,
    obj,
    one_of,
    open_map,
    pair_fields,
)

JOB = described(STRING, "the job's id, e.g. earth-finance-000001")
SHARD = described(STRING, "a shard's id")
NODE = described(STRING, "a node's id")
CHANGED = described(BOOLEAN, "whether the command changed anything (false: already so)")
IDS = described(TEXT_LIST, "ids, in the fabric's order")

# ------------------------------------------------------------------ an owner command

SIGNATURE = obj(
    {
        "key": described(STRING, "the signer's key name"),
        "fingerprint": STRING,
        "signature": described(STRING, "Ed25519 signature"),
    }
)
AUTH = described(
    {
        "type": "object",
        "properties": {
            "run_id": STRING,
            "nonce": STRING,
            "signatures": array(SIGNATURE),
            "signed_by": TEXT_LIST,
        },
        "additionalProperties": False,
    },
    "on a fabric with owner keys: the command's signatures as issued (run_id, nonce, "
    "signatures), or once authorized, the nonce and the names of the keys that signed",
)
INPUT = obj(
    {
        "command": described(STRING, "the owner command, e.g. set-latency, or batch"),
        "args": described(
            {"type": "object"},
            "the command's arguments as validated (as in a scenario's schedule entry: "
            "`agijobs schema scenario`)",
        ),
        "reason": STRING,
        "actor": STRING,
        "source": one_of("schedule", "live", "at-rest"),
        "issued_at": described(
            nullable(STRING), "when an operator issued it (UTC, ISO 8601); null: scheduled"
        ),
        "id": described(nullable(STRING), "the live command's id in the inbox, else null"),
        "auth": AUTH,
    },
    optional=("auth",),
)
INPUT = described(INPUT, "the command as issued: an input the audit re-applies")

GOVERNANCE = obj(
    {
        "keys": array(
            obj(
                {
                    "name": STRING,
                    "public_key": STRING,
                    "roles": array(one_of("owner", "operator", "runner")),
                }
            )
        ),
        "approvals": open_map(COUNT, "owner signatures needed, per command (and default)"),
        "operator_may": TEXT_LIST,
        "proposal_expiry_ticks": COUNT,
    }
)
POLICY = obj(
    {
        "target": SHARD,
        "threshold": COUNT,
        "max_drain_per_tick": COUNT,
        "required_skills": TEXT_LIST,
    }
)

MOVED_ONE = obj(
    {
        "job": JOB,
        "from": SHARD,
        "to": SHARD,
        "moved": described(COUNT, "1 when moved, 0 when the target cannot serve the job"),
        "left_unservable": COUNT,
        "pulled_from_node": described(nullable(NODE), "the node it was running on"),
        "changed": CHANGED,
        "note": described(STRING, "why it was not moved"),
    },
    optional=("note",),
)
FIRST_TARGET = Pair(nullable(SHARD), "the first spillover target in effect")
REROUTE_TARGET = Pair(nullable(SHARD), "the reroute target set by owners (null: none)")
PAUSED = Pair(BOOLEAN, "paused")
SCHEDULABLE = Pair(
    one_of("schedulable", "cordoned", "draining"),
    "the node's scheduling state (cordoned: no new work; draining: cordoned, its running "
    "jobs requeued at the deadline)",
)
NODE_SCHEDULING = {"node": NODE, "shard": SHARD, "schedulable": SCHEDULABLE, "changed": CHANGED}

# The effect of each owner command, as its `owner.<command>` event records it.
EFFECTS: dict[str, Schema] = {
    "pause-all": obj({"paused": PAUSED, "changed": CHANGED}),
    "resume": obj({"paused": PAUSED, "changed": CHANGED}),
    "reroute": {
        "anyOf": [
            obj(
                {
                    "reroute_target": REROUTE_TARGET,
                    "first_target": FIRST_TARGET,
                    "changed": CHANGED,
                    "moved": described(COUNT, "queued jobs moved now"),
                    "left_unservable": described(COUNT, "jobs the target cannot serve"),
                    "left_full": described(COUNT, "jobs left because the target was full"),
                }
            ),
            obj(
                {
                    "reroute_target": REROUTE_TARGET,
                    "first_target": FIRST_TARGET,
                    "changed": CHANGED,
                }
            ),
            MOVED_ONE,
        ],
        "description": "--to with --backlog; --clear; or --job (one job moved)",
    },
    "set-latency": obj(
        {
            "budget_ms": Pair(COUNT, "the shard's latency budget, ms"),
            "changed": CHANGED,
            "ineligible": described(IDS, "nodes now over budget"),
            "eligible": described(IDS, "nodes now within budget"),
        }
    ),
    "shard.pause": obj({"shard": SHARD, "paused": PAUSED, "changed": CHANGED}),
    "shard.resume": obj({"shard": SHARD, "paused": PAUSED, "changed": CHANGED}),
    "shard.register": obj({"shard": SHARD, "changed": CHANGED}),
    "shard.deregister": obj(
        {
            "shard": SHARD,
            "mode": one_of("spillover", "cancel"),
            "target": described(nullable(SHARD), "the shard that took its jobs"),
            "nodes_removed": IDS,
            "requeued": described(IDS, "jobs taken off its nodes"),
            "jobs_moved": IDS,
            "jobs_cancelled": IDS,
            "policies_removed_from": described(IDS, "shards that no longer spill to it"),
            "changed": CHANGED,
        }
    ),
    "shard.update": obj(
        {
            "shard": SHARD,
            "changes": Changes(
                {
                    "name": Pair(STRING, "display name"),
                    "max_queue": Pair(COUNT, "max_queue"),
                    "alert_threshold": Pair(COUNT, "alert_threshold"),
                    "spillover": Pair(array(POLICY), "spillover policies"),
                    "latency_budget_ms": Pair(COUNT, "latency budget, ms"),
                },
                "the fields that changed",
            ),
            "changed": CHANGED,
            "ineligible": described(IDS, "nodes now over budget"),
            "eligible": described(IDS, "nodes now within budget"),
        }
    ),
    "node.register": obj(
        {"node": NODE, "shard": SHARD, "within_budget": BOOLEAN, "changed": CHANGED}
    ),
    "node.update": obj(
        {
            "node": NODE,
            "changes": Changes(
                {
                    "slots": Pair(COUNT, "slots"),
                    "skills": Pair(TEXT_LIST, "skills, sorted"),
                    "heartbeat_ticks": Pair(COUNT, "heartbeat period, ticks"),
                    "price_per_job": Pair(NUMBER, "price per job, USDC"),
                    "metadata": Pair({"type": "object"}, "the operator's metadata"),
                    "latency_ms": Pair(COUNT, "configured latency, ms"),
                },
                "the fields that changed",
            ),
            "changed": CHANGED,
        }
    ),
    "node.cordon": obj(NODE_SCHEDULING),
    "node.uncordon": obj(NODE_SCHEDULING),
    "node.drain": obj(
        {
            **NODE_SCHEDULING,
            "deadline_tick": Pair(
                nullable(COUNT),
                "the tick at whose end the jobs still running are requeued (null: no drain)",
            ),
            "changed": described(BOOLEAN, "whether the drain's deadline changed"),
        }
    ),
    "node.deregister": obj(
        {
            "node": NODE,
            "shard": SHARD,
            "requeued": described(IDS, "jobs taken off the node"),
            "changed": CHANGED,
        }
    ),
    "job.cancel": obj(
        {
            "job": JOB,
            "shard": SHARD,
            "node": described(nullable(NODE), "the node it was running on"),
            "changed": CHANGED,
        }
    ),
    "job.reroute": MOVED_ONE,
    "job.submit": obj(
        {
            "jobs": described(COUNT, "jobs added (each also recorded as job.submitted)"),
            "value": described(INTEGER, "their total value"),
            "shards": open_map(COUNT, "jobs added, per shard id"),
            "ids": described(IDS, "the jobs' ids, in the order given"),
            "changed": CHANGED,
        }
    ),
    "checkpoint.save": obj({"tick": COUNT, "changed": CHANGED}),
    "checkpoint.configure": obj(
        {"every": Pair(COUNT, "checkpoint every N ticks"), "changed": CHANGED}
    ),
    "reporting.configure": obj({"label": Pair(STRING, "the report label"), "changed": CHANGED}),
    "governance.update": obj(
        {"changed": CHANGED, "before": GOVERNANCE, "after": GOVERNANCE},
    ),
    # Not commands of their own: a signed command waiting for approvals, and an approval.
    "proposal": obj(
        {
            "proposal": described(STRING, "the proposal's id (p-…)"),
            "signed_by": TEXT_LIST,
            "approvals": COUNT,
            "needed": COUNT,
            "expires_tick": COUNT,
        }
    ),
    "approval": obj(
        {
            "proposal": STRING,
            "command": STRING,
            "signed_by": TEXT_LIST,
            "approvals": COUNT,
            "needed": COUNT,
            "threshold_met": BOOLEAN,
        }
    ),
}


def _owner(effect: Schema) -> Schema:
    return obj({"input": INPUT, "effect": effect})


# ------------------------------------------------------------------ every event type

LATENCY = obj({"node": NODE, "shard": SHARD, "latency_ms": COUNT, "budget_ms": COUNT})
DATA: dict[str, tuple[str, Schema]] = {
    "run.started": (
        "seq 1, tick 0: the run's identity",
        obj(
            {
                "name": STRING,
                "seed": INTEGER,
                "inputs_id": described(SHA256, "identity of every input but `expect`"),
                "jobs": described(COUNT, "jobs planned"),
                "shards": IDS,
                "nodes": IDS,
            }
        ),
    ),
    "job.submitted": (
        "a job arrived in its shard's queue",
        obj({"job": JOB, "shard": SHARD, "value": INTEGER}),
    ),
    "job.spilled": (
        "a queued job moved to another shard",
        obj(
            {
                "job": JOB,
                "from": SHARD,
                "to": SHARD,
                "reason": one_of(
                    "threshold", "max-queue", "unservable", "reroute", "deregister", "deregistered"
                ),
            }
        ),
    ),
    "job.deferred": (
        "no eligible node anywhere: the job waits until the topology changes",
        obj({"job": JOB, "shard": SHARD}),
    ),
    "job.assigned": ("a job started on a node", obj({"job": JOB, "node": NODE, "shard": SHARD})),
    "job.requeued": (
        "a running job went back to the front of its queue (its node down or removed)",
        obj({"job": JOB, "node": NODE, "shard": SHARD, "remaining": COUNT}),
    ),
    "job.completed": ("a job finished", obj({"job": JOB, "node": NODE, "shard": SHARD})),
    "job.failed": (
        "a job failed: no capable node, or the executor's reason",
        obj({"job": JOB, "shard": SHARD, "reason": STRING}),
    ),
    "job.cancelled": (
        "a job cancelled by an owner command",
        obj({"job": JOB, "shard": SHARD, "was": one_of("queued", "running", "deregistered")}),
    ),
    "job.rejected": (
        "the executor refused a dispatched job (it is requeued, or fails at max_attempts)",
        obj({"job": JOB, "node": NODE, "shard": SHARD, "attempt": COUNT, "reason": STRING}),
    ),
    "job.retimed": (
        "the executor gave an accepted job another duration",
        obj(
            {
                "job": JOB,
                "duration": Pair(COUNT, "remaining ticks"),
                "by": one_of("executor"),
            }
        ),
    ),
    "node.down": (
        "routers learnt of an outage (third missed heartbeat, or the executor's report)",
        obj(
            {
                "node": NODE,
                "shard": SHARD,
                "requeued": described(COUNT, "jobs requeued"),
                "by": described(one_of("executor"), "absent: missed heartbeats"),
            },
            optional=("by",),
        ),
    ),
    "node.up": (
        "a recovered node heartbeat again (or the executor reported it up)",
        obj(
            {
                "node": NODE,
                "shard": SHARD,
                "by": described(one_of("executor"), "absent: its heartbeat"),
            },
            optional=("by",),
        ),
    ),
    "node.drained": (
        "a drain's deadline came: the jobs still running on the node were requeued",
        obj({"node": NODE, "shard": SHARD, "requeued": described(COUNT, "jobs requeued")}),
    ),
    "executor.nodes": (
        "an external executor's node reports that changed a node's health, in order",
        obj({"reports": array(obj({"node": NODE, "status": one_of("down", "up")}))}),
    ),
    "node.latency.breach": ("a node's latency went over its shard's budget", LATENCY),
    "node.latency.ok": ("a node's latency came back within its shard's budget", LATENCY),
    "fault.outage": ("a scripted outage began", obj({"node": NODE})),
    "fault.outage.end": (
        "a scripted outage ended (`still_out`: another outage of the node goes on)",
        obj({"node": NODE, "still_out": {"const": True}}, optional=("still_out",)),
    ),
    "fault.latency": (
        "a scripted latency fault began",
        obj({"node": NODE, "latency_ms": Pair(COUNT, "the node's latency, ms")}),
    ),
    "fault.latency.end": (
        "a scripted latency fault ended: the configured latency is restored",
        obj({"node": NODE, "latency_ms": Pair(COUNT, "the node's latency, ms")}),
    ),
    "fault.skipped": (
        "a fault for a node that is not in the fabric (deregistered)",
        obj({"node": NODE, "kind": one_of("outage", "latency"), "reason": one_of("no-node")}),
    ),
    "trigger.fired": (
        "a trigger's condition held: its command follows",
        obj(
            {
                "entry": described(COUNT, "the trigger's index in the schedule"),
                "when": STRING,
                "command": STRING,
            }
        ),
    ),
    "owner.rejected": (
        "a command that no longer applies, recorded and not applied",
        obj({"input": INPUT, "error": STRING}),
    ),
    "owner.proposal": (
        "a signed command waiting for more owner approvals",
        _owner(EFFECTS["proposal"]),
    ),
    "owner.approval": ("an approval of a pending proposal", _owner(EFFECTS["approval"])),
    "governance.authorized": (
        "a signed command's signatures verified and met its threshold",
        obj(
            {
                "input": INPUT,
                "signed_by": TEXT_LIST,
                "approvals": COUNT,
                "needed": COUNT,
                "proposal": described(nullable(STRING), "the proposal it completes"),
                "break_glass": described(BOOLEAN, "applied on an operator's signature alone"),
            }
        ),
    ),
    "governance.refused": (
        "a command refused by the owner authority (unsigned, bad signature, role…)",
        obj({"input": INPUT, "reason": described(STRING, "a code"), "error": STRING}),
    ),
    "governance.expired": (
        "a proposal's time ran out",
        obj({"proposal": STRING, "command": STRING, "signed_by": TEXT_LIST, "needed": COUNT}),
    ),
    "executor.receipts": (
        "an external executor's receipts that were not plain acceptances (their digest)",
        obj({"digest": SHA256, "receipts": COUNT, "not_default": COUNT}),
    ),
}
for _command, _effect in EFFECTS.items():
    if _command not in ("proposal", "approval"):
        DATA[f"owner.{_command}"] = (f"the owner command {_command}, applied", _owner(_effect))

EVENT_TYPES = tuple(sorted(DATA))
ENVELOPE = obj(
    {
        "seq": described({"type": "integer", "minimum": 1}, "from 1, one per line"),
        "tick": described(COUNT, "the tick the event happened in (0: before the run)"),
        "type": described(one_of(*EVENT_TYPES), "the event type"),
        "hash": described(
            SHA256, "sha256 of the previous line's hash and this line without `hash`"
        ),
        "data": {"type": "object"},
    }
)

_PAIRS = {
    f"owner.{command}": pair_fields(effect)
    for command, effect in EFFECTS.items()
    if command not in ("proposal", "approval")
}


def named_effect(event_type: str, effect: Any) -> Any:
    """An owner event's effect as the JSON outputs print it: each `[before, after]` pair
    as `{"before", "after"}` (an error text, or an unknown event's effect, unchanged)."""
    pairs, changes = _PAIRS.get(event_type, (frozenset(), frozenset()))
    if not isinstance(effect, dict) or not (pairs or changes):
        return effect
    named = dict(effect)
    for name in pairs & named.keys():
        named[name] = _named_pair(named[name])
    for name in changes & named.keys():
        named[name] = {field: _named_pair(value) for field, value in named[name].items()}
    return named


def _named_pair(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2:
        return {"before": value[0], "after": value[1]}
    return value
