"""Shapes that several documents share: a run's summary (summary.json), its jobs, a shard's
counters, an owner effect as the outputs print it."""

from __future__ import annotations

from .build import (
    BOOLEAN,
    COUNT,
    INTEGER,
    NUMBER,
    SHA256,
    STRING,
    TEXT_LIST,
    described,
    nullable,
    obj,
    one_of,
    open_map,
    render,
)
from .events import EFFECTS, EVENT_TYPES, GOVERNANCE

HEALTH = one_of("healthy", "degraded", "critical")
JOBS = obj(
    {
        "planned": COUNT,
        "submitted": COUNT,
        "completed": COUNT,
        "failed": COUNT,
        "cancelled": COUNT,
        "pending": described(COUNT, "queued or in flight"),
        "value_completed": INTEGER,
    }
)
EXPECT = obj(
    {
        "held": BOOLEAN,
        "failures": described(TEXT_LIST, "each expectation that failed, in words"),
        "skipped": described(TEXT_LIST, "expectations not checked, and why"),
    },
    optional=("skipped",),
)
SHARD_TOTALS = obj(
    {
        "queued": COUNT,
        "in_flight": COUNT,
        "completed": COUNT,
        "failed": COUNT,
        "cancelled": COUNT,
        "spilled_in": COUNT,
        "spilled_out": COUNT,
        "budget_ms": COUNT,
        "health": HEALTH,
        "cost": described(NUMBER, "USDC"),
    }
)
RUN_STATUS = one_of("finished", "stopped", "paused", "interrupted")
# summary.json, as a run leaves it (RunOutcome, and Status's `summary`).
SUMMARY_FIELDS = {
    "name": STRING,
    "inputs_id": SHA256,
    "status": RUN_STATUS,
    "reason": described(STRING, "why the run stopped, e.g. all jobs done, max-ticks"),
    "tick": COUNT,
    "seq": COUNT,
    "head": described(SHA256, "the chain head"),
    "paused": BOOLEAN,
    "jobs": JOBS,
    "spillovers": COUNT,
    "owner_actions": COUNT,
    "outside_commands": described(COUNT, "owner commands from outside the schedule"),
    "cost": described(NUMBER, "USDC"),
    "shards": open_map(SHARD_TOTALS, "per shard id"),
    "events_digest": described(SHA256, "sha256 of events.ndjson"),
    "expect": described(EXPECT, "the scenario's expectations, once the run ended"),
}
SUMMARY = obj(SUMMARY_FIELDS, optional=("expect",))

# An owner command's effect as the outputs print it: changes as {"before", "after"}.
EFFECT = described(
    {"anyOf": [render(effect, named=True) for effect in EFFECTS.values()]},
    "the effect its owner.* event records (`agijobs schema events`), each change as "
    '{"before": …, "after": …}',
)
# A pause in force (`status`): the command that paused, when and by whom; null when not
# paused, or paused by a checkpoint written before agijobs kept it.
PAUSE = described(
    nullable(
        obj(
            {
                "tick": described(COUNT, "the tick the pause took effect"),
                "command": described(STRING, "the owner command that paused, e.g. pause-all"),
                "actor": STRING,
                "reason": STRING,
                "source": one_of("schedule", "live", "at-rest"),
                "issued_at": described(
                    nullable(STRING), "when an operator issued it (UTC, ISO 8601); null: scheduled"
                ),
            }
        )
    ),
    "the pause in force: who paused, since when and why (null: none, or not known)",
)
AUTHORITY_OPEN = obj({"mode": {"const": "open"}, "authenticated": {"const": False}})
KEYS_IN_FORCE = GOVERNANCE

# `describe`: where the current state was read, and the events about the subject.
AS_OF = obj(
    {
        "source": one_of("live runner", "checkpoint"),
        "tick": described(nullable(COUNT), "the tick of what was read"),
    }
)
HISTORY = described(
    {
        "type": "array",
        "items": obj(
            {
                "seq": COUNT,
                "tick": COUNT,
                "type": described(one_of(*EVENT_TYPES), "the event type"),
                "data": described(
                    {"type": "object"}, "the event's data, as logged (`agijobs schema TYPE`)"
                ),
            }
        ),
    },
    "the events of the log about it, in order",
)
