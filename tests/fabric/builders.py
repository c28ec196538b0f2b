"""Hand-built scenarios for the owner-command tests at engine level (test_commands*.py) and
the trigger tests: a small fabric to follow by hand, schedule entries, a run that checks
conservation after every tick, queries over its events, and `assert_refused`, which says
what a refusal is: a schedule entry the state refuses becomes one `owner.rejected` event
with the exact error, an entry in `engine.schedule_rejections`, and a state byte-identical
to the same run without that entry."""

from __future__ import annotations

import copy
from typing import Any

from agijobs.fabric.commands import canonical_name
from agijobs.fabric.engine import Engine
from agijobs.ledger.canonical import dumps
from agijobs.scenario.models import Scenario

from ..helpers import engine_of, make_scenario
from .invariants import assert_invariants

Event = tuple[int, str, dict[str, Any]]


def node(node_id: str, shard: str, **changes: Any) -> dict[str, Any]:
    spec = {
        "id": node_id,
        "shard": shard,
        "slots": 1,
        "skills": ["x"],
        "latency_ms": 10,
        "heartbeat_ticks": 1,
    }
    return {**spec, **changes}


def shard(shard_id: str, **changes: Any) -> dict[str, Any]:
    return {"id": shard_id, "latency_budget_ms": 100, "max_queue": 10, **changes}


# Two shards of one single-slot node each: every assignment is easy to follow by hand.
FABRIC: dict[str, Any] = {
    "owner": {"name": "Owner"},
    "shards": [shard("earth"), shard("luna")],
    "nodes": [node("earth.a", "earth"), node("luna.a", "luna")],
}


def fabric(
    shards: list[dict[str, Any]] | None = None, nodes: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    out = copy.deepcopy(FABRIC)
    if shards is not None:
        out["shards"] = shards
    if nodes is not None:
        out["nodes"] = nodes
    return out


def group(
    prefix: str = "j",
    target: str = "earth",
    count: int = 3,
    duration: int = 3,
    start: int = 1,
    skills: tuple[str, ...] = ("x",),
) -> dict[str, Any]:
    """`count` jobs for `target` at tick `start`, valued 10, 11, 12, ..."""
    return {
        "prefix": prefix,
        "shard": target,
        "skills": list(skills),
        "count": count,
        "duration": duration,
        "value": 10,
        "value_step": 1,
        "arrive": {"start": start},
    }


def cmd(tick: int, command: str, **args: Any) -> dict[str, Any]:
    """A flat schedule entry; `from` is a keyword, so pass it as `**{"from": ...}`."""
    return {"tick": tick, "command": command, "reason": "test", **args}


def deregister(tick: int, shard_id: str, target: str | None = None) -> dict[str, Any]:
    """A shard.deregister entry: jobs spill over to `target`, or are cancelled without one."""
    redistribution = (
        {"mode": "cancel"} if target is None else {"mode": "spillover", "target": target}
    )
    return cmd(tick, "shard.deregister", shard=shard_id, redistribution=redistribution)


def trigger(when: dict[str, Any], command: str, **args: Any) -> dict[str, Any]:
    return {"when": when, "command": command, "reason": "trigger", **args}


def burst(count: int = 8) -> list[dict[str, Any]]:
    """`count` jobs at tick 1 on earth's single slot: its queue shrinks by one per 3 ticks."""
    return [group(count=count, duration=3)]


# The refusal every command gets when its reason is blank.
REASON_REQUIRED = "a reason is required — pass --reason 'why this is done'"

# A schedule entry: earth retired at tick 1, its jobs spilling over to luna.
DEREGISTER_EARTH = deregister(1, "earth", "luna")

# The small fabric with a second node on earth: one to take away while the other works.
TWO_EARTH_NODES = fabric(
    nodes=[node("earth.a", "earth"), node("earth.b", "earth"), node("luna.a", "luna")]
)


def scenario(
    schedule: list[dict[str, Any]] | None = None,
    workload: list[dict[str, Any]] | None = None,
    faults: list[dict[str, Any]] | None = None,
    fabric_spec: dict[str, Any] | None = None,
) -> Scenario:
    return make_scenario(
        fabric=fabric_spec if fabric_spec is not None else FABRIC,
        workload=workload if workload is not None else [group()],
        faults=faults or [],
        schedule=schedule or [],
    )


def run(engine: Engine, until: int = 200) -> list[Event]:
    """Run to tick `until` (or the end), checking conservation after every tick."""
    events: list[Event] = []
    while not engine.is_done() and engine.state.tick < until:
        events.extend(step(engine))
    return events


def step(engine: Engine) -> list[Event]:
    """One tick, done or not, with conservation checked after it."""
    raw = engine.run_tick()
    events = [(engine.state.tick, kind, data) for kind, data in raw]
    assert_invariants(engine)
    return events


def kinds_at(events: list[Event], kind: str) -> list[tuple[int, dict[str, Any]]]:
    return [(tick, data) for tick, k, data in events if k == kind]


def jobs_of(events: list[Event], kind: str) -> list[tuple[int, str]]:
    return [(tick, data["job"]) for tick, data in kinds_at(events, kind)]


def effects(events: list[Event], name: str) -> list[dict[str, Any]]:
    return [data["effect"] for _, data in kinds_at(events, f"owner.{name}")]


def at(events: list[Event], tick: int) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, data) for t, kind, data in events if t == tick]


def outcomes(events: list[Event], tick: int) -> list[tuple[str, dict[str, Any]]]:
    """The tick's events, an owner event shown by its effect alone."""
    return [(kind, data.get("effect", data)) for kind, data in at(events, tick)]


def assert_refused(
    schedule: list[dict[str, Any]],
    error: str,
    workload: list[dict[str, Any]] | None = None,
    fabric_spec: dict[str, Any] | None = None,
    faults: list[dict[str, Any]] | None = None,
) -> Engine:
    """The last schedule entry is refused with `error`: one `owner.rejected`, recorded in
    `schedule_rejections`, and the run is byte-for-byte the run without that entry."""
    refused = schedule[-1]
    due = refused["tick"]
    engine = engine_of(scenario(schedule, workload, faults, fabric_spec))
    twin = engine_of(scenario(schedule[:-1], workload, faults, fabric_spec))
    events = [e for _ in range(due) for e in step(engine)]
    expected = [e for _ in range(due) for e in step(twin)]
    rejections = kinds_at(events, "owner.rejected")
    assert [(t, data["error"]) for t, data in rejections] == [(due, error)]
    recorded = rejections[0][1]["input"]
    assert (recorded["command"], recorded["source"]) == (
        canonical_name(refused["command"]),
        "schedule",
    )
    assert [e for e in events if e[1] != "owner.rejected"] == expected
    assert dumps(engine.snapshot()) == dumps(twin.snapshot())
    assert engine.schedule_rejections == [(len(schedule) - 1, due, error)]
    # ... and it stays the same run to the end (the twin may have had its last input sooner).
    rest = run(engine)
    assert rest == [e for _ in range(engine.state.tick - twin.state.tick) for e in step(twin)]
    return engine
