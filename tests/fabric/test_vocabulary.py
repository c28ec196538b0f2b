"""The owner-command vocabulary at engine level, one rule per test.

Each command is tested for its effect on the state, the exact `owner.*` event it records
(and the follow-up events), and every refusal: a schedule entry the state refuses becomes one
`owner.rejected` event with the exact error, an entry in `engine.schedule_rejections`, and a
state byte-identical to the same run without that entry. Conservation is checked after every
tick of every run.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from agijobs.errors import BadInput
from agijobs.fabric import commands
from agijobs.fabric.commands import CommandInput
from agijobs.fabric.engine import Engine
from agijobs.ledger.canonical import dumps
from agijobs.scenario import Scenario, canonical_name

from ..helpers import make_scenario
from .test_properties import assert_invariants

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
    engine = Engine(scenario(schedule, workload, faults, fabric_spec))
    twin = Engine(scenario(schedule[:-1], workload, faults, fabric_spec))
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


# ------------------------------------------------------------------ every command


REASON_REQUIRED = "a reason is required — pass --reason 'why this is done'"
MINIMAL_ARGS: dict[str, dict[str, Any]] = {
    "pause-all": {},
    "resume": {},
    "reroute": {"from": "earth", "to": "luna"},
    "set-latency": {"shard": "earth", "ms": 50},
    "shard.pause": {"shard": "earth"},
    "shard.resume": {"shard": "earth"},
    "shard.register": {"shard": shard("mars")},
    "shard.deregister": {"shard": "earth", "redistribution": {"mode": "cancel"}},
    "shard.update": {"shard": "earth", "update": {"max_queue": 20}},
    "node.register": {"node": node("earth.b", "earth")},
    "node.update": {"node": "earth.a", "update": {"slots": 2}},
    "node.deregister": {"node": "earth.a"},
    "job.cancel": {"job": "j-000002"},
    "job.reroute": {"job": "j-000002", "to": "luna"},
    "checkpoint.save": {},
    "checkpoint.configure": {"every": 3},
    "reporting.configure": {"label": "drill"},
}


def test_every_command_name_has_a_handler() -> None:
    # governance.update needs a fabric with owner keys: tests/fabric/test_authority.py
    assert set(MINIMAL_ARGS) | {"governance.update"} == set(commands.HANDLERS)


@pytest.mark.parametrize("name", sorted(MINIMAL_ARGS))
def test_a_blank_reason_refuses_any_command_and_changes_nothing(name: str) -> None:
    entry = {**cmd(2, name, **MINIMAL_ARGS[name]), "reason": "   "}
    assert_refused([entry], REASON_REQUIRED)


@pytest.mark.parametrize("name", sorted(MINIMAL_ARGS))
def test_every_command_with_minimal_arguments_applies_as_one_owner_event(name: str) -> None:
    engine = Engine(scenario([cmd(2, name, **MINIMAL_ARGS[name])]))
    events = run(engine, until=2)
    owner = [(t, k) for t, k, _ in events if k.startswith("owner.")]
    assert owner == [(2, f"owner.{name}")]
    assert engine.state.owner_actions == 1
    assert engine.state.outside_commands == 0  # schedule entries are not outside commands
    assert engine.schedule_rejections == []
    run(engine)


# ------------------------------------------------------------- pause-all / resume


def test_pause_all_stops_routing_while_arrivals_queue_and_running_jobs_finish() -> None:
    engine = Engine(
        scenario(
            [cmd(2, "pause-all"), cmd(4, "resume")],
            [group(count=2, duration=2), group("k", count=1, duration=1, start=3)],
        )
    )
    events = run(engine, until=3)
    assert engine.state.paused is True
    assert engine.state.shards["earth"].queued.count == 2  # j-000002 and the new k-000001
    events += run(engine)
    assert effects(events, "pause-all") == [{"paused": [False, True], "changed": True}]
    assert effects(events, "resume") == [{"paused": [True, False], "changed": True}]
    assert engine.state.paused is False
    assert jobs_of(events, "job.submitted")[-1] == (3, "k-000001")
    assert jobs_of(events, "job.assigned") == [(1, "j-000001"), (4, "j-000002"), (6, "k-000001")]
    assert jobs_of(events, "job.completed") == [
        (2, "j-000001"),  # progress goes on while paused
        (5, "j-000002"),
        (6, "k-000001"),
    ]


@pytest.mark.parametrize(
    ("alias", "canonical", "paused"),
    [("system.pause", "pause-all", True), ("system.resume", "resume", False)],
)
def test_reference_alias_is_accepted_and_recorded_under_the_canonical_name(
    alias: str, canonical: str, paused: bool
) -> None:
    schedule = [cmd(1, "pause-all")] if alias == "system.resume" else []
    engine = Engine(scenario([*schedule, cmd(2, alias)]))
    events = run(engine, until=2)
    (data,) = [d for t, d in kinds_at(events, f"owner.{canonical}") if t == 2]
    assert data["input"]["command"] == canonical
    assert data["effect"] == {"paused": [not paused, paused], "changed": True}
    assert engine.state.paused is paused
    assert not any(k.startswith("owner.system") for _, k, _ in events)


def test_resume_when_not_paused_and_pause_when_paused_are_unchanged() -> None:
    engine = Engine(
        scenario([cmd(1, "resume"), cmd(2, "pause-all"), cmd(2, "system.pause"), cmd(3, "resume")])
    )
    events = run(engine)
    assert effects(events, "resume") == [
        {"paused": [False, False], "changed": False},
        {"paused": [True, False], "changed": True},
    ]
    assert effects(events, "pause-all") == [
        {"paused": [False, True], "changed": True},
        {"paused": [True, True], "changed": False},
    ]
    assert engine.state.owner_actions == 4  # an unchanged command is still an owner action


@pytest.mark.parametrize("alias", ["system.pause", "system.resume"])
def test_alias_with_a_blank_reason_is_refused_under_the_canonical_name(alias: str) -> None:
    engine = assert_refused([{**cmd(2, alias), "reason": " "}], REASON_REQUIRED)
    assert engine.state.paused is False


# ------------------------------------------------------- shard.pause / shard.resume


def test_paused_shard_assigns_and_spills_nothing_but_arrivals_queue_and_resume_goes_on() -> None:
    spec = fabric(
        shards=[
            shard("earth", spillover=[{"target": "luna", "threshold": 1, "max_drain_per_tick": 5}]),
            shard("luna"),
        ]
    )
    engine = Engine(
        scenario(
            [cmd(1, "shard.pause", shard="earth"), cmd(4, "shard.resume", shard="earth")],
            [group(duration=1), group("l", "luna", count=1, duration=1)],
            fabric_spec=spec,
        )
    )
    events = run(engine, until=3)
    earth = engine.state.shards["earth"]
    assert earth.paused is True
    assert earth.queued.count == 3  # all three arrived and wait
    assert jobs_of(events, "job.spilled") == []
    assert jobs_of(events, "job.assigned") == [(1, "l-000001")]  # other shards go on
    events += run(engine)
    assert effects(events, "shard.pause") == [
        {"shard": "earth", "paused": [False, True], "changed": True}
    ]
    assert effects(events, "shard.resume") == [
        {"shard": "earth", "paused": [True, False], "changed": True}
    ]
    assert jobs_of(events, "job.spilled") == [(4, "j-000003"), (4, "j-000002")]
    assert jobs_of(events, "job.assigned")[1:3] == [(4, "j-000001"), (4, "j-000003")]
    assert engine.state.totals()["completed"].count == 4


def test_pausing_a_shard_twice_and_resuming_a_running_shard_are_unchanged() -> None:
    engine = Engine(
        scenario(
            [
                cmd(1, "shard.resume", shard="luna"),
                cmd(1, "shard.pause", shard="earth"),
                cmd(2, "shard.pause", shard="earth"),
            ]
        )
    )
    events = run(engine, until=2)
    assert effects(events, "shard.resume") == [
        {"shard": "luna", "paused": [False, False], "changed": False}
    ]
    assert effects(events, "shard.pause") == [
        {"shard": "earth", "paused": [False, True], "changed": True},
        {"shard": "earth", "paused": [True, True], "changed": False},
    ]
    assert engine.state.shards["earth"].paused is True


@pytest.mark.parametrize("name", ["shard.pause", "shard.resume"])
@pytest.mark.parametrize(
    ("setup", "target", "error"),
    [
        ([], "mars", "shard: unknown shard `mars` — known: earth, luna"),
        ([], "eart", "shard: unknown shard `eart` — did you mean `earth`?"),
        (
            [deregister(1, "earth", "luna")],
            "earth",
            "shard: shard `earth` was deregistered — name a registered shard (see status)",
        ),
    ],
)
def test_shard_pause_and_resume_refuse_unknown_and_deregistered_shards(
    name: str, setup: list[dict[str, Any]], target: str, error: str
) -> None:
    assert_refused([*setup, cmd(2, name, shard=target)], error)


# ------------------------------------------------------------------ shard.register


def test_registered_shard_sits_in_id_order_and_takes_threshold_spillover() -> None:
    engine = Engine(
        scenario(
            [
                cmd(1, "shard.register", shard=shard("asia", name="Asia Pacific", max_queue=20)),
                cmd(1, "node.register", node=node("asia.a", "asia")),
                cmd(
                    1,
                    "shard.update",
                    shard="earth",
                    update={
                        "spillover": [{"target": "asia", "threshold": 1, "max_drain_per_tick": 5}]
                    },
                ),
            ],
            [group(duration=2)],
        )
    )
    events = run(engine)
    assert effects(events, "shard.register") == [{"shard": "asia", "changed": True}]
    asia = engine.state.shards["asia"]
    assert list(engine.state.shards) == ["asia", "earth", "luna"]
    assert (asia.name, asia.budget_ms, asia.max_queue, asia.alert_threshold) == (
        "Asia Pacific",
        100,
        20,
        14,  # the default: 70% of max_queue
    )
    spills = [
        (t, d["job"], d["from"], d["to"], d["reason"]) for t, d in kinds_at(events, "job.spilled")
    ]
    assert spills == [
        (1, "j-000003", "earth", "asia", "threshold"),
        (1, "j-000002", "earth", "asia", "threshold"),
    ]
    # asia routes before earth (id order), so its jobs start the tick after they arrive.
    assert [(t, d["job"], d["node"]) for t, d in kinds_at(events, "job.completed")] == [
        (2, "j-000001", "earth.a"),
        (3, "j-000003", "asia.a"),
        (5, "j-000002", "asia.a"),
    ]
    assert (asia.spilled_in.count, asia.completed.count) == (2, 2)


def test_node_registered_into_a_new_shard_serves_the_jobs_waiting_there() -> None:
    engine = Engine(
        scenario(
            [
                cmd(1, "shard.register", shard=shard("mars")),
                deregister(2, "earth", "mars"),
                cmd(4, "node.register", node=node("mars.a", "mars")),
            ],
            [group(count=2, duration=1)],
        )
    )
    events = run(engine)
    assert kinds_at(events, "job.deferred") == [(2, {"job": "j-000002", "shard": "mars"})]
    assert effects(events, "node.register") == [
        {"node": "mars.a", "shard": "mars", "within_budget": True, "changed": True}
    ]
    assert [(t, d["job"], d["node"]) for t, d in kinds_at(events, "job.completed")] == [
        (1, "j-000001", "earth.a"),
        (4, "j-000002", "mars.a"),
    ]


DEREGISTER_EARTH = deregister(1, "earth", "luna")


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [cmd(2, "shard.register", shard=shard("luna"))],
            "shard -> id: shard `luna` already exists — pick a new id (a deregistered shard's "
            "id stays taken: its history is kept)",
        ),
        (
            [DEREGISTER_EARTH, cmd(2, "shard.register", shard=shard("earth"))],
            "shard -> id: shard `earth` already exists — pick a new id (a deregistered shard's "
            "id stays taken: its history is kept)",
        ),
        (
            [
                cmd(
                    2,
                    "shard.register",
                    shard=shard(
                        "mars",
                        spillover=[{"target": "venus", "threshold": 1, "max_drain_per_tick": 1}],
                    ),
                )
            ],
            "spillover -> 0 -> target: unknown shard `venus` — known: earth, luna",
        ),
        (
            [
                cmd(
                    2,
                    "shard.register",
                    shard=shard(
                        "mars",
                        spillover=[
                            {"target": "luna", "threshold": 1, "max_drain_per_tick": 1},
                            {"target": "mars", "threshold": 1, "max_drain_per_tick": 1},
                        ],
                    ),
                )
            ],
            "spillover -> 1 -> target: a shard cannot spill over to itself — name another shard",
        ),
        (
            [
                DEREGISTER_EARTH,
                cmd(
                    2,
                    "shard.register",
                    shard=shard(
                        "mars",
                        spillover=[{"target": "earth", "threshold": 1, "max_drain_per_tick": 1}],
                    ),
                ),
            ],
            "spillover -> 0 -> target: shard `earth` was deregistered — name a registered "
            "shard (see status)",
        ),
    ],
    ids=["duplicate", "deregistered-id", "unknown-target", "self-target", "retired-target"],
)
def test_shard_register_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    engine = assert_refused(schedule, error)
    assert "mars" not in engine.state.shards


# ---------------------------------------------------------------- shard.deregister


def test_deregister_with_spillover_moves_queued_and_running_jobs_keeping_progress() -> None:
    engine = Engine(scenario([deregister(2, "earth", "luna")]))
    events = run(engine)
    assert at(events, 2) == [
        (
            "owner.shard.deregister",
            {
                "input": {
                    "command": "shard.deregister",
                    "args": {
                        "shard": "earth",
                        "redistribution": {"mode": "spillover", "target": "luna"},
                    },
                    "reason": "test",
                    "actor": "Owner",
                    "source": "schedule",
                    "issued_at": None,
                    "id": None,
                },
                "effect": {
                    "shard": "earth",
                    "mode": "spillover",
                    "target": "luna",
                    "nodes_removed": ["earth.a"],
                    "requeued": ["j-000001"],
                    "jobs_moved": ["j-000001", "j-000002", "j-000003"],
                    "jobs_cancelled": [],
                    "policies_removed_from": [],
                    "changed": True,
                },
            },
        ),
        (
            "job.requeued",
            {"job": "j-000001", "node": "earth.a", "shard": "earth", "remaining": 2},
        ),
        ("job.spilled", {"job": "j-000001", "from": "earth", "to": "luna", "reason": "deregister"}),
        ("job.spilled", {"job": "j-000002", "from": "earth", "to": "luna", "reason": "deregister"}),
        ("job.spilled", {"job": "j-000003", "from": "earth", "to": "luna", "reason": "deregister"}),
        ("job.assigned", {"job": "j-000001", "node": "luna.a", "shard": "luna"}),
    ]
    # One tick of work on earth and two on luna: done at the end of tick 3, as if unmoved.
    assert jobs_of(events, "job.completed") == [(3, "j-000001"), (6, "j-000002"), (9, "j-000003")]
    state = engine.state
    earth, luna = state.shards["earth"], state.shards["luna"]
    assert "earth.a" not in state.nodes
    assert (earth.retired, earth.forward_to, earth.nodes, earth.paused) == (True, "luna", [], False)
    assert earth.submitted.to_json() == [3, 33]
    assert earth.spilled_out.to_json() == [3, 33]
    assert luna.spilled_in.to_json() == [3, 33]
    assert luna.completed.to_json() == [3, 33]
    totals = state.totals()
    assert (totals["submitted"].to_json(), totals["completed"].to_json()) == ([3, 33], [3, 33])
    assert list(state.shards) == ["earth", "luna"]  # the retired shard's history is kept


def test_deregister_of_a_paused_shard_moves_its_jobs_and_clears_the_pause() -> None:
    engine = Engine(
        scenario(
            [
                cmd(1, "shard.pause", shard="earth"),
                deregister(3, "earth", "luna"),
            ]
        )
    )
    events = run(engine)
    (effect,) = effects(events, "shard.deregister")
    assert (effect["requeued"], effect["jobs_moved"]) == ([], ["j-000001", "j-000002", "j-000003"])
    assert engine.state.shards["earth"].paused is False
    assert engine.state.shards["luna"].completed.count == 3


def test_deregister_removes_other_shards_policies_and_reroute_targets_to_it() -> None:
    to_earth = [{"target": "earth", "threshold": 5, "max_drain_per_tick": 1}]
    spec = fabric(
        shards=[
            shard("earth"),
            shard(
                "luna",
                spillover=[*to_earth, {"target": "mars", "threshold": 5, "max_drain_per_tick": 1}],
            ),
            shard("mars"),
        ]
    )
    engine = Engine(
        scenario(
            [
                cmd(1, "reroute", **{"from": "mars", "to": "earth"}),
                deregister(2, "earth", "luna"),
            ],
            fabric_spec=spec,
        )
    )
    events = run(engine)
    (effect,) = effects(events, "shard.deregister")
    assert effect["policies_removed_from"] == ["luna", "mars"]
    shards = engine.state.shards
    assert [p.target for p in shards["luna"].policies] == ["mars"]
    assert shards["mars"].reroute_target is None
    assert engine.state.totals()["completed"].count == 3


def test_arrivals_for_a_deregistered_shard_follow_its_redistribution_chain() -> None:
    spec = fabric(
        shards=[shard("earth"), shard("luna"), shard("mars")],
        nodes=[node("earth.a", "earth"), node("luna.a", "luna"), node("mars.a", "mars")],
    )
    engine = Engine(
        scenario(
            [DEREGISTER_EARTH, deregister(2, "luna", "mars")],
            [group(count=2, duration=1, start=3)],
            fabric_spec=spec,
        )
    )
    events = run(engine)
    assert at(events, 3)[:4] == [
        ("job.submitted", {"job": "j-000001", "shard": "earth", "value": 10}),
        (
            "job.spilled",
            {"job": "j-000001", "from": "earth", "to": "mars", "reason": "deregistered"},
        ),
        ("job.submitted", {"job": "j-000002", "shard": "earth", "value": 11}),
        (
            "job.spilled",
            {"job": "j-000002", "from": "earth", "to": "mars", "reason": "deregistered"},
        ),
    ]
    shards = engine.state.shards
    assert shards["earth"].submitted.to_json() == shards["earth"].spilled_out.to_json() == [2, 21]
    assert shards["mars"].completed.to_json() == [2, 21]
    assert shards["luna"].spilled_in.count == 0


def test_deregister_with_cancel_counts_every_job_cancelled_and_never_failed() -> None:
    engine = Engine(scenario([deregister(2, "earth")], [group(), group("k", count=1, start=4)]))
    events = run(engine)
    assert outcomes(events, 2)[0] == (
        "owner.shard.deregister",
        {
            "shard": "earth",
            "mode": "cancel",
            "target": None,
            "nodes_removed": ["earth.a"],
            "requeued": ["j-000001"],
            "jobs_moved": [],
            "jobs_cancelled": ["j-000001", "j-000002", "j-000003"],
            "policies_removed_from": [],
            "changed": True,
        },
    )
    assert at(events, 2)[1:] == [
        (
            "job.requeued",
            {"job": "j-000001", "node": "earth.a", "shard": "earth", "remaining": 2},
        ),
        # The running job was requeued first, so it is cancelled from the queue.
        ("job.cancelled", {"job": "j-000001", "shard": "earth", "was": "queued"}),
        ("job.cancelled", {"job": "j-000002", "shard": "earth", "was": "queued"}),
        ("job.cancelled", {"job": "j-000003", "shard": "earth", "was": "queued"}),
    ]
    assert at(events, 4) == [
        ("job.submitted", {"job": "k-000001", "shard": "earth", "value": 10}),
        ("job.cancelled", {"job": "k-000001", "shard": "earth", "was": "deregistered"}),
    ]
    assert kinds_at(events, "job.failed") == []
    earth = engine.state.shards["earth"]
    assert (earth.retired, earth.forward_to) == (True, None)
    totals = engine.state.totals()
    assert totals["submitted"].to_json() == totals["cancelled"].to_json() == [4, 43]
    assert totals["failed"].to_json() == totals["completed"].to_json() == [0, 0]
    assert engine.is_done()


def test_arrivals_for_a_shard_deregistered_into_a_cancelled_one_are_cancelled() -> None:
    engine = Engine(
        scenario(
            [DEREGISTER_EARTH, deregister(2, "luna")],
            [group(count=1, start=3)],
        )
    )
    events = run(engine)
    assert at(events, 3) == [
        ("job.submitted", {"job": "j-000001", "shard": "earth", "value": 10}),
        ("job.cancelled", {"job": "j-000001", "shard": "earth", "was": "deregistered"}),
    ]
    assert engine.state.shards["earth"].cancelled.to_json() == [1, 10]
    assert engine.is_done()


def test_arrival_for_a_deregistered_shard_that_no_node_can_serve_fails_like_any_other() -> None:
    quantum = [group("q", count=1, duration=1, start=3, skills=("quantum",))]
    engine = Engine(scenario([DEREGISTER_EARTH], quantum))
    events = run(engine, until=50)
    assert kinds_at(events, "job.failed") == [
        (3, {"job": "q-000001", "shard": "earth", "reason": "no-capable-node"})
    ]
    assert engine.is_done()


@pytest.mark.parametrize(
    ("name", "args", "requeued"),
    [
        (
            "shard.deregister",
            {"shard": "earth", "redistribution": {"mode": "spillover", "target": "luna"}},
            ["j-000001", "j-000002"],
        ),
        ("node.deregister", {"node": "earth.b"}, ["j-000002"]),
    ],
)
def test_removal_at_rest_keeps_the_progress_of_the_ticks_already_run(
    name: str, args: dict[str, Any], requeued: list[str]
) -> None:
    engine = Engine(scenario(workload=[group(duration=4)], fabric_spec=TWO_EARTH_NODES))
    run(engine, until=2)  # ticks 1 and 2 of 4 done
    events = engine.apply_at_rest(CommandInput(name, args, "r", "ops", "at-rest"))
    assert_invariants(engine)
    requeues = [(d["job"], d["remaining"]) for k, d in events if k == "job.requeued"]
    assert requeues == [(job, 2) for job in requeued]
    rest = run(engine)
    assigned = {job: t for t, job in jobs_of(rest, "job.assigned")}
    completed = {job: t for t, job in jobs_of(rest, "job.completed")}
    for job in requeued:
        assert completed[job] == assigned[job] + 1  # two ticks of work left


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [deregister(1, "earth"), deregister(2, "earth", "luna")],
            "shard: shard `earth` was deregistered — name a registered shard (see status)",
        ),
        (
            [deregister(2, "earth", "earth")],
            "redistribution -> target: the jobs must go to another shard — name another shard",
        ),
        (
            [deregister(2, "earth", "mars")],
            "redistribution -> target: unknown shard `mars` — known: earth, luna",
        ),
        (
            [deregister(1, "luna"), deregister(2, "earth", "luna")],
            "redistribution -> target: shard `luna` was deregistered — name a registered shard "
            "(see status)",
        ),
        (
            [deregister(2, "erth")],
            "shard: unknown shard `erth` — did you mean `earth`?",
        ),
    ],
    ids=["twice", "into-itself", "unknown-target", "retired-target", "unknown-shard"],
)
def test_shard_deregister_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    assert_refused(schedule, error)


# -------------------------------------------------------------------- shard.update


def test_shard_update_changes_name_max_queue_and_alert_threshold() -> None:
    engine = Engine(
        scenario(
            [
                cmd(
                    1,
                    "shard.update",
                    shard="earth",
                    update={"name": "Earth Prime", "max_queue": 20, "alert_threshold": 15},
                )
            ]
        )
    )
    events = run(engine, until=1)
    assert effects(events, "shard.update") == [
        {
            "shard": "earth",
            "changes": {
                "name": ["earth", "Earth Prime"],
                "max_queue": [10, 20],
                "alert_threshold": [7, 15],
            },
            "changed": True,
            "ineligible": [],
            "eligible": [],
        }
    ]
    earth = engine.state.shards["earth"]
    assert (earth.name, earth.max_queue, earth.alert_threshold) == ("Earth Prime", 20, 15)
    run(engine)


def test_lowering_max_queue_below_the_alert_threshold_lowers_it_to_the_default() -> None:
    engine = Engine(scenario([cmd(1, "shard.update", shard="earth", update={"max_queue": 5})]))
    events = run(engine, until=1)
    (effect,) = effects(events, "shard.update")
    assert effect["changes"] == {"max_queue": [10, 5], "alert_threshold": [7, 3]}
    assert engine.state.shards["earth"].alert_threshold == 3


def test_shard_update_latency_budget_reports_breach_then_ok_and_gates_assignment() -> None:
    spec = fabric(
        nodes=[
            node("earth.a", "earth"),
            node("earth.b", "earth", latency_ms=50),
            node("luna.a", "luna"),
        ]
    )
    engine = Engine(
        scenario(
            [
                cmd(1, "shard.update", shard="earth", update={"latency_budget_ms": 40}),
                cmd(3, "shard.update", shard="earth", update={"latency_budget_ms": 60}),
            ],
            [group(count=2, duration=5)],
            fabric_spec=spec,
        )
    )
    events = run(engine)
    breach = {"node": "earth.b", "shard": "earth", "latency_ms": 50}
    assert outcomes(events, 1)[:2] == [
        (
            "owner.shard.update",
            {
                "shard": "earth",
                "changes": {"latency_budget_ms": [100, 40]},
                "changed": True,
                "ineligible": ["earth.b"],
                "eligible": [],
            },
        ),
        ("node.latency.breach", {**breach, "budget_ms": 40}),
    ]
    assert outcomes(events, 3)[:2] == [
        (
            "owner.shard.update",
            {
                "shard": "earth",
                "changes": {"latency_budget_ms": [40, 60]},
                "changed": True,
                "ineligible": [],
                "eligible": ["earth.b"],
            },
        ),
        ("node.latency.ok", {**breach, "budget_ms": 60}),
    ]
    assert [(t, d["job"], d["node"]) for t, d in kinds_at(events, "job.assigned")] == [
        (1, "j-000001", "earth.a"),
        (3, "j-000002", "earth.b"),
    ]
    assert engine.state.shards["earth"].budget_ms == 60


def test_shard_update_spillover_replaces_the_policies_and_routing_follows() -> None:
    policy = {"target": "luna", "threshold": 0, "max_drain_per_tick": 1}
    engine = Engine(
        scenario([cmd(1, "shard.update", shard="earth", update={"spillover": [policy]})])
    )
    events = run(engine)
    (effect,) = effects(events, "shard.update")
    assert effect["changes"] == {"spillover": [[], [{**policy, "required_skills": []}]]}
    assert [p.to_json() for p in engine.state.shards["earth"].policies] == [
        {**policy, "required_skills": []}
    ]
    spills = [(t, d["job"], d["reason"]) for t, d in kinds_at(events, "job.spilled")]
    assert spills[0] == (1, "j-000003", "threshold")


def test_shard_update_to_the_same_values_is_unchanged() -> None:
    engine = Engine(
        scenario([cmd(1, "shard.update", shard="earth", update={"max_queue": 10, "name": "earth"})])
    )
    events = run(engine, until=1)
    assert effects(events, "shard.update") == [
        {"shard": "earth", "changes": {}, "changed": False, "ineligible": [], "eligible": []}
    ]


@pytest.mark.parametrize(
    ("update", "error"),
    [
        (
            {"name": "renamed", "alert_threshold": 20},
            "update -> alert_threshold: 20 would exceed max_queue (10) — lower alert_threshold "
            "or raise max_queue in the same update",
        ),
        (
            {"name": "renamed", "max_queue": 5, "alert_threshold": 6},
            "update -> alert_threshold: 6 would exceed max_queue (5) — lower alert_threshold "
            "or raise max_queue in the same update",
        ),
        (
            {
                "max_queue": 20,
                "latency_budget_ms": 5,
                "spillover": [{"target": "mars", "threshold": 1, "max_drain_per_tick": 1}],
            },
            "update -> spillover -> 0 -> target: unknown shard `mars` — known: earth, luna",
        ),
        (
            {
                "max_queue": 20,
                "spillover": [{"target": "earth", "threshold": 1, "max_drain_per_tick": 1}],
            },
            "update -> spillover -> 0 -> target: a shard cannot spill over to itself — name "
            "another shard",
        ),
    ],
    ids=["alert-over-max-queue", "alert-over-new-max-queue", "unknown-target", "self-target"],
)
def test_shard_update_refusals_change_nothing(update: dict[str, Any], error: str) -> None:
    engine = assert_refused([cmd(2, "shard.update", shard="earth", update=update)], error)
    earth = engine.state.shards["earth"]
    assert (earth.name, earth.max_queue, earth.budget_ms, earth.policies) == ("earth", 10, 100, [])


def test_shard_update_of_an_unknown_shard_is_refused() -> None:
    assert_refused(
        [cmd(2, "shard.update", shard="lun", update={"max_queue": 5})],
        "shard: unknown shard `lun` — did you mean `luna`?",
    )


# -------------------------------------------------------------------- node.register


def test_registered_node_takes_assignments_in_its_shard() -> None:
    engine = Engine(
        scenario([cmd(2, "node.register", node=node("earth.b", "earth"))], [group(count=2)])
    )
    events = run(engine)
    assert effects(events, "node.register") == [
        {"node": "earth.b", "shard": "earth", "within_budget": True, "changed": True}
    ]
    assert list(engine.state.nodes) == ["earth.a", "earth.b", "luna.a"]
    assert [(t, d["job"], d["node"]) for t, d in kinds_at(events, "job.assigned")] == [
        (1, "j-000001", "earth.a"),
        (2, "j-000002", "earth.b"),
    ]


def test_registered_nodes_are_kept_in_id_order() -> None:
    engine = Engine(
        scenario(
            [
                cmd(1, "node.register", node=node("luna.0", "luna")),
                cmd(1, "node.register", node=node("earth.0", "earth")),
            ]
        )
    )
    run(engine, until=1)
    assert list(engine.state.nodes) == ["earth.0", "earth.a", "luna.0", "luna.a"]
    assert [n.id for n in engine.state.shards["earth"].nodes] == ["earth.0", "earth.a"]


def test_node_registered_over_the_latency_budget_is_reported_and_gets_nothing() -> None:
    engine = Engine(
        scenario(
            [cmd(2, "node.register", node=node("earth.b", "earth", latency_ms=500))],
            [group(count=2)],
        )
    )
    events = run(engine)
    assert effects(events, "node.register") == [
        {"node": "earth.b", "shard": "earth", "within_budget": False, "changed": True}
    ]
    assert {d["node"] for _, d in kinds_at(events, "job.assigned")} == {"earth.a"}


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [cmd(2, "node.register", node=node("luna.a", "earth"))],
            "node -> id: node `luna.a` already exists — pick a new id",
        ),
        (
            [cmd(2, "node.register", node=node("mars.a", "mars"))],
            "node -> shard: unknown shard `mars` — known: earth, luna",
        ),
        (
            [DEREGISTER_EARTH, cmd(2, "node.register", node=node("earth.b", "earth"))],
            "node -> shard: shard `earth` was deregistered — name a registered shard (see status)",
        ),
    ],
    ids=["duplicate", "unknown-shard", "retired-shard"],
)
def test_node_register_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    engine = assert_refused(schedule, error)
    assert engine.state.nodes["luna.a"].shard == "luna"


# ---------------------------------------------------------------------- node.update


def test_node_update_slots_lets_the_node_take_more_jobs() -> None:
    engine = Engine(
        scenario([cmd(2, "node.update", node="earth.a", update={"slots": 3})], [group()])
    )
    events = run(engine)
    assert effects(events, "node.update") == [
        {"node": "earth.a", "changes": {"slots": [1, 3]}, "changed": True}
    ]
    assert jobs_of(events, "job.assigned") == [(1, "j-000001"), (2, "j-000002"), (2, "j-000003")]


def test_node_update_skills_lets_a_waiting_job_run() -> None:
    spec = fabric(nodes=[node("earth.a", "earth"), node("luna.a", "luna", skills=["y"])])
    engine = Engine(
        scenario(
            [cmd(3, "node.update", node="earth.a", update={"skills": ["y", "x"]})],
            [group("y", count=1, duration=1, skills=("y",))],
            fabric_spec=spec,
        )
    )
    events = run(engine)
    assert jobs_of(events, "job.deferred") == [(1, "y-000001")]
    assert effects(events, "node.update") == [
        {"node": "earth.a", "changes": {"skills": [["x"], ["x", "y"]]}, "changed": True}
    ]
    assert engine.state.nodes["earth.a"].skills == frozenset({"x", "y"})
    assert [(t, d["node"]) for t, d in kinds_at(events, "job.assigned")] == [(3, "earth.a")]


def test_node_update_latency_over_budget_breaches_and_back_within_is_ok() -> None:
    engine = Engine(
        scenario(
            [
                cmd(2, "node.update", node="earth.a", update={"latency_ms": 150}),
                cmd(5, "node.update", node="earth.a", update={"latency_ms": 20}),
            ],
            [group(count=2, duration=2)],
        )
    )
    events = run(engine)
    verdict = {"node": "earth.a", "shard": "earth", "budget_ms": 100}
    assert [(k, d) for k, d in outcomes(events, 2) if k.startswith(("owner.", "node."))] == [
        (
            "owner.node.update",
            {"node": "earth.a", "changes": {"latency_ms": [10, 150]}, "changed": True},
        ),
        ("node.latency.breach", {**verdict, "latency_ms": 150}),
    ]
    assert [(k, d) for k, d in at(events, 5) if k.startswith("node.")] == [
        ("node.latency.ok", {**verdict, "latency_ms": 20}),
    ]
    # The running job finishes; the queued one waits for the node to be within budget again.
    assert jobs_of(events, "job.completed")[0] == (2, "j-000001")
    assert jobs_of(events, "job.assigned") == [(1, "j-000001"), (5, "j-000002")]
    assert engine.state.nodes["earth.a"].latency_ms == 20


def test_node_update_heartbeat_changes_when_an_outage_is_noticed() -> None:
    engine = Engine(
        scenario(
            [cmd(1, "node.update", node="earth.a", update={"heartbeat_ticks": 3})],
            [group(count=1, duration=20)],
            faults=[{"tick": 5, "node": "earth.a", "kind": "outage", "until": 30}],
        )
    )
    events = run(engine)
    assert effects(events, "node.update") == [
        {"node": "earth.a", "changes": {"heartbeat_ticks": [1, 3]}, "changed": True}
    ]
    # Last beat before tick 5 is tick 3 (every 3 ticks): misses at 6, 9, 12 (not 5, 6, 7).
    assert [t for t, _ in kinds_at(events, "node.down")] == [12]


def test_node_update_price_is_charged_for_jobs_completed_after_it() -> None:
    engine = Engine(
        scenario(
            [cmd(2, "node.update", node="earth.a", update={"price_per_job": 0.25})],
            [group(duration=1)],
        )
    )
    events = run(engine)
    assert effects(events, "node.update") == [
        {"node": "earth.a", "changes": {"price_per_job": [0.0, 0.25]}, "changed": True}
    ]
    assert jobs_of(events, "job.completed") == [(1, "j-000001"), (2, "j-000002"), (3, "j-000003")]
    assert engine.state.nodes["earth.a"].price_nano == 250_000_000
    assert engine.state.shards["earth"].cost_nano == 500_000_000  # j-000001 was free


def test_node_update_metadata_is_recorded_before_and_after() -> None:
    engine = Engine(
        scenario([cmd(1, "node.update", node="earth.a", update={"metadata": {"rack": "r1"}})])
    )
    events = run(engine, until=1)
    assert effects(events, "node.update") == [
        {"node": "earth.a", "changes": {"metadata": [{}, {"rack": "r1"}]}, "changed": True}
    ]
    assert engine.state.nodes["earth.a"].metadata == {"rack": "r1"}


def test_node_update_to_the_same_values_is_unchanged() -> None:
    update = {"slots": 1, "skills": ["x"], "latency_ms": 10, "heartbeat_ticks": 1, "metadata": {}}
    engine = Engine(
        scenario([cmd(1, "node.update", node="earth.a", update={**update, "price_per_job": 0})])
    )
    events = run(engine, until=1)
    assert effects(events, "node.update") == [{"node": "earth.a", "changes": {}, "changed": False}]


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [cmd(2, "node.update", node="earth.z", update={"slots": 2})],
            "node: unknown node `earth.z` — did you mean `earth.a`?",
        ),
        (
            [
                cmd(1, "node.deregister", node="luna.a"),
                cmd(2, "node.update", node="luna.a", update={"slots": 2}),
            ],
            "node: unknown node `luna.a` — known: earth.a",
        ),
    ],
    ids=["unknown", "deregistered"],
)
def test_node_update_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    assert_refused(schedule, error)


# ------------------------------------------------------------------ node.deregister


TWO_EARTH_NODES = fabric(
    nodes=[node("earth.a", "earth"), node("earth.b", "earth"), node("luna.a", "luna")]
)


def test_node_deregister_requeues_its_running_jobs_to_the_front_keeping_remaining_ticks() -> None:
    engine = Engine(
        scenario(
            [cmd(3, "node.deregister", node="earth.b")],
            [group(duration=4)],
            fabric_spec=TWO_EARTH_NODES,
        )
    )
    events = run(engine, until=2)
    assert [(d["job"], d["node"]) for _, d in kinds_at(events, "job.assigned")] == [
        ("j-000001", "earth.a"),
        ("j-000002", "earth.b"),
    ]
    events += run(engine, until=3)
    assert outcomes(events, 3) == [
        (
            "owner.node.deregister",
            {"node": "earth.b", "shard": "earth", "requeued": ["j-000002"], "changed": True},
        ),
        ("job.requeued", {"job": "j-000002", "node": "earth.b", "shard": "earth", "remaining": 2}),
    ]
    assert "earth.b" not in engine.state.nodes
    assert [n.id for n in engine.state.shards["earth"].nodes] == ["earth.a"]
    queue = sorted(
        (job for q in engine.state.shards["earth"].active.values() for job in q),
        key=lambda job: job.qseq,
    )
    assert [(job.id, job.remaining) for job in queue] == [("j-000002", 2), ("j-000003", 4)]
    events += run(engine)
    # j-000002 is first in line when earth.a frees up, and needs only its two remaining ticks.
    assert jobs_of(events, "job.completed") == [(4, "j-000001"), (6, "j-000002"), (10, "j-000003")]


def test_outage_fault_on_a_deregistered_node_is_skipped() -> None:
    engine = Engine(
        scenario(
            [cmd(2, "node.deregister", node="earth.b")],
            [group(count=1)],
            faults=[{"tick": 4, "node": "earth.b", "kind": "outage", "until": 6}],
            fabric_spec=TWO_EARTH_NODES,
        )
    )
    events = run(engine)
    skipped = {"node": "earth.b", "kind": "outage", "reason": "no-node"}
    assert kinds_at(events, "fault.skipped") == [(4, skipped), (6, skipped)]
    assert kinds_at(events, "fault.outage") == kinds_at(events, "node.down") == []


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [cmd(2, "node.deregister", node="earth.b")],
            "node: unknown node `earth.b` — did you mean `earth.a`?",
        ),
        (
            [cmd(1, "node.deregister", node="luna.a"), cmd(2, "node.deregister", node="luna.a")],
            "node: unknown node `luna.a` — known: earth.a",
        ),
        (
            [cmd(2, "node.deregister", node="nope")],
            "node: unknown node `nope` — known: earth.a, luna.a",
        ),
    ],
    ids=["unknown", "twice", "no-close-match"],
)
def test_node_deregister_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    assert_refused(schedule, error)


# ------------------------------------------------------------------------ job.cancel


def test_cancel_a_queued_job_by_id() -> None:
    engine = Engine(scenario([cmd(2, "job.cancel", job="j-000002")]))
    events = run(engine)
    assert [(k, d) for k, d in at(events, 2) if k != "owner.job.cancel"] == [
        ("job.cancelled", {"job": "j-000002", "shard": "earth", "was": "queued"})
    ]
    assert effects(events, "job.cancel") == [
        {"job": "j-000002", "shard": "earth", "node": None, "changed": True}
    ]
    assert jobs_of(events, "job.completed") == [(3, "j-000001"), (6, "j-000003")]
    earth = engine.state.shards["earth"]
    assert (earth.cancelled.to_json(), earth.completed.to_json()) == ([1, 11], [2, 22])


def test_cancel_a_running_job_by_id_frees_its_slot_at_once() -> None:
    engine = Engine(scenario([cmd(2, "job.cancel", job="j-000001")]))
    events = run(engine)
    assert at(events, 2)[1:] == [
        ("job.cancelled", {"job": "j-000001", "shard": "earth", "was": "running"}),
        ("job.assigned", {"job": "j-000002", "node": "earth.a", "shard": "earth"}),
    ]
    assert effects(events, "job.cancel") == [
        {"job": "j-000001", "shard": "earth", "node": "earth.a", "changed": True}
    ]
    assert "j-000001" not in {j for _, j in jobs_of(events, "job.completed")}
    assert engine.state.shards["earth"].cancelled.to_json() == [1, 10]


@pytest.mark.parametrize(
    ("offset", "in_flight", "job", "was"),
    [
        (0, False, "j-000003", "queued"),  # the newest queued job
        (1, False, "j-000002", "queued"),
        (0, True, "j-000003", "queued"),
        (2, True, "j-000001", "running"),  # the running job is the oldest in the line
    ],
)
def test_cancel_by_tail_locator_counts_from_the_newest_job(
    offset: int, in_flight: bool, job: str, was: str
) -> None:
    locator = {"kind": "tail", "shard": "earth", "offset": offset, "include_in_flight": in_flight}
    engine = Engine(scenario([cmd(2, "job.cancel", locator=locator)]))
    events = run(engine)
    (effect,) = effects(events, "job.cancel")
    assert effect["job"] == job
    assert kinds_at(events, "job.cancelled") == [(2, {"job": job, "shard": "earth", "was": was})]
    assert engine.state.totals()["cancelled"].count == 1


@pytest.mark.parametrize(("offset", "job"), [(0, "j-000003"), (1, "j-000001"), (2, "j-000002")])
def test_tail_locator_counts_a_requeued_job_at_the_front_of_the_line(offset: int, job: str) -> None:
    # earth.b goes at tick 2 and its job is requeued to the front of earth's queue, which is
    # the front of the whole line: ahead of j-000001, still running on earth.a.
    locator = {"kind": "tail", "shard": "earth", "offset": offset, "include_in_flight": True}
    engine = Engine(
        scenario(
            [cmd(2, "node.deregister", node="earth.b"), cmd(2, "job.cancel", locator=locator)],
            [group(duration=4)],
            fabric_spec=TWO_EARTH_NODES,
        )
    )
    events = run(engine)
    assert [e["job"] for e in effects(events, "job.cancel")] == [job]


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [cmd(2, "job.cancel", locator={"kind": "tail", "shard": "earth", "offset": 2})],
            "locator -> offset: 2 is past the end of shard `earth`: it has 2 queued job(s) — "
            "use an offset below 2",
        ),
        (
            [
                cmd(
                    2,
                    "job.cancel",
                    locator={
                        "kind": "tail",
                        "shard": "earth",
                        "offset": 3,
                        "include_in_flight": True,
                    },
                )
            ],
            "locator -> offset: 3 is past the end of shard `earth`: it has 3 queued or running "
            "job(s) — use an offset below 3",
        ),
        (
            [cmd(2, "job.cancel", locator={"kind": "tail", "shard": "luna", "offset": 0})],
            "locator -> offset: 0 is past the end of shard `luna`: it has 0 queued job(s) — "
            "the shard has no job to pick",
        ),
        (
            [cmd(2, "job.cancel", locator={"kind": "tail", "shard": "mars", "offset": 0})],
            "locator -> shard: unknown shard `mars` — known: earth, luna",
        ),
        (
            [
                deregister(1, "luna"),
                cmd(2, "job.cancel", locator={"kind": "tail", "shard": "luna", "offset": 0}),
            ],
            "locator -> shard: shard `luna` was deregistered — name a registered shard "
            "(see status)",
        ),
        (
            [cmd(4, "job.cancel", job="j-000001")],  # completed at the end of tick 3
            "job: no queued or running job `j-000001` — ids look like `earth-finance-000042`; "
            "a completed, failed or cancelled job cannot change",
        ),
        (
            [cmd(2, "job.cancel", job="j-000002"), cmd(3, "job.cancel", job="j-000002")],
            "job: no queued or running job `j-000002` — ids look like `earth-finance-000042`; "
            "a completed, failed or cancelled job cannot change",
        ),
    ],
    ids=[
        "past-queued",
        "past-in-flight",
        "empty-shard",
        "unknown-shard",
        "retired-shard",
        "completed",
        "twice",
    ],
)
def test_job_cancel_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    assert_refused(schedule, error)


# ----------------------------------------------------------------------- job.reroute


def test_reroute_a_queued_job_by_id_to_a_shard_that_can_serve_it() -> None:
    engine = Engine(scenario([cmd(2, "job.reroute", job="j-000003", to="luna")]))
    events = run(engine)
    assert effects(events, "job.reroute") == [
        {
            "job": "j-000003",
            "from": "earth",
            "to": "luna",
            "moved": 1,
            "left_unservable": 0,
            "pulled_from_node": None,
            "changed": True,
        }
    ]
    assert at(events, 2)[1:] == [
        ("job.spilled", {"job": "j-000003", "from": "earth", "to": "luna", "reason": "reroute"}),
        ("job.assigned", {"job": "j-000003", "node": "luna.a", "shard": "luna"}),
    ]
    luna = engine.state.shards["luna"]
    assert (luna.spilled_in.to_json(), luna.completed.to_json()) == ([1, 12], [1, 12])


def test_reroute_a_running_job_pulls_it_off_its_node_keeping_progress() -> None:
    engine = Engine(scenario([cmd(2, "job.reroute", job="j-000001", to="luna")]))
    events = run(engine)
    (effect,) = effects(events, "job.reroute")
    assert (effect["moved"], effect["pulled_from_node"]) == (1, "earth.a")
    assert [(k, d["job"]) for k, d in at(events, 2)[1:]] == [
        ("job.spilled", "j-000001"),
        ("job.assigned", "j-000002"),  # earth routes first (id order): the freed slot
        ("job.assigned", "j-000001"),
    ]
    # One tick worked on earth.a, two on luna.a: done at the end of tick 3, as if unmoved.
    assert next((t, d["job"], d["node"]) for t, d in kinds_at(events, "job.completed")) == (
        3,
        "j-000001",
        "luna.a",
    )
    assert engine.state.shards["earth"].in_flight.count == 0


def test_reroute_by_tail_locator() -> None:
    locator = {"kind": "tail", "shard": "earth", "offset": 1}
    engine = Engine(scenario([cmd(2, "job.reroute", locator=locator, to="luna")]))
    events = run(engine)
    assert [e["job"] for e in effects(events, "job.reroute")] == ["j-000002"]
    assert engine.state.shards["luna"].completed.to_json() == [1, 11]


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        (cmd(3, "job.reroute", job="y-000001", to="luna"), "job.spilled"),
        (cmd(3, "job.cancel", job="y-000001"), "job.cancelled"),
        (
            cmd(3, "job.cancel", locator={"kind": "tail", "shard": "earth", "offset": 0}),
            "job.cancelled",
        ),
    ],
    ids=["reroute", "cancel", "cancel-by-locator"],
)
def test_a_deferred_job_can_be_rerouted_or_cancelled(entry: dict[str, Any], kind: str) -> None:
    spec = fabric(nodes=[node("earth.a", "earth"), node("luna.a", "luna", skills=["y"])])
    engine = Engine(
        scenario([entry], [group("y", count=1, duration=1, skills=("y",))], fabric_spec=spec)
    )
    events = run(engine)
    assert jobs_of(events, "job.deferred") == [(1, "y-000001")]
    assert jobs_of(events, kind) == [(3, "y-000001")]
    assert engine.state.shards["earth"].deferred_count == 0
    assert engine.is_done()


@pytest.mark.parametrize("job", ["j-000001", "j-000003"], ids=["running", "queued"])
def test_reroute_to_a_shard_that_cannot_serve_leaves_the_job_in_place(job: str) -> None:
    spec = fabric(nodes=[node("earth.a", "earth"), node("luna.a", "luna", skills=["y"])])
    engine = Engine(scenario([cmd(2, "job.reroute", job=job, to="luna")], fabric_spec=spec))
    twin = Engine(scenario(fabric_spec=spec))
    events = run(engine)
    expected = run(twin)
    assert effects(events, "job.reroute") == [
        {
            "job": job,
            "from": "earth",
            "to": "luna",
            "moved": 0,
            "left_unservable": 1,
            "pulled_from_node": None,
            "changed": False,
            "note": "no eligible node in `luna` has skills ['x']",
        }
    ]
    assert [e for e in events if not e[1].startswith("owner.")] == expected
    assert engine.state.owner_actions == 1


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [cmd(2, "job.reroute", job="j-000002", to="earth")],
            "to: job `j-000002` is already in shard `earth` — name another shard",
        ),
        (
            [cmd(2, "job.reroute", job="j-000002", to="mars")],
            "to: unknown shard `mars` — known: earth, luna",
        ),
        (
            [
                deregister(1, "luna"),
                cmd(2, "job.reroute", job="j-000002", to="luna"),
            ],
            "to: shard `luna` was deregistered — name a registered shard (see status)",
        ),
        (
            [cmd(2, "job.reroute", job="j-000009", to="luna")],
            "job: no queued or running job `j-000009` — ids look like `earth-finance-000042`; "
            "a completed, failed or cancelled job cannot change",
        ),
        (
            [
                cmd(
                    2,
                    "job.reroute",
                    locator={"kind": "tail", "shard": "earth", "offset": 5},
                    to="luna",
                )
            ],
            "locator -> offset: 5 is past the end of shard `earth`: it has 2 queued job(s) — "
            "use an offset below 2",
        ),
    ],
    ids=["same-shard", "unknown-target", "retired-target", "unknown-job", "past-the-end"],
)
def test_job_reroute_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    assert_refused(schedule, error)


# ------------------------------------------------------- checkpoint and reporting


def test_checkpoint_save_requests_a_checkpoint_at_its_tick() -> None:
    engine = Engine(scenario([cmd(2, "checkpoint.save")]))
    run(engine, until=1)
    assert engine.state.checkpoint_requested is False
    events = run(engine, until=2)
    assert effects(events, "checkpoint.save") == [{"tick": 2, "changed": True}]
    assert engine.state.checkpoint_requested is True


def test_checkpoint_configure_changes_the_interval() -> None:
    engine = Engine(
        scenario([cmd(1, "checkpoint.configure", every=3), cmd(2, "checkpoint.configure", every=3)])
    )
    assert engine.state.checkpoint_every == 5  # run -> checkpoint_every
    events = run(engine, until=2)
    assert effects(events, "checkpoint.configure") == [
        {"every": [5, 3], "changed": True},
        {"every": [3, 3], "changed": False},
    ]
    assert engine.state.checkpoint_every == 3


def test_reporting_configure_changes_the_report_label() -> None:
    engine = Engine(scenario([cmd(1, "reporting.configure", label="drill-7")]))
    events = run(engine, until=1)
    assert effects(events, "reporting.configure") == [
        {"label": ["latest", "drill-7"], "changed": True}
    ]
    assert engine.state.report_label == "drill-7"


# ------------------------------------------------------------- snapshot / restore


def test_restore_after_register_deregister_and_update_continues_to_the_same_events() -> None:
    spec = scenario(
        [
            cmd(
                2,
                "shard.register",
                shard=shard(
                    "mars", spillover=[{"target": "luna", "threshold": 2, "max_drain_per_tick": 1}]
                ),
            ),
            cmd(2, "node.register", node=node("mars.a", "mars", slots=2, price_per_job=0.5)),
            cmd(3, "shard.update", shard="luna", update={"max_queue": 4, "latency_budget_ms": 50}),
            cmd(3, "node.update", node="luna.a", update={"slots": 2, "metadata": {"r": 1}}),
            cmd(3, "shard.pause", shard="mars"),
            deregister(4, "earth", "mars"),
            cmd(5, "node.register", node=node("luna.b", "luna", latency_ms=80)),
            cmd(6, "shard.resume", shard="mars"),
            cmd(6, "shard.update", shard="luna", update={"latency_budget_ms": 90}),
            cmd(8, "node.deregister", node="luna.b"),
            cmd(9, "job.cancel", locator={"kind": "tail", "shard": "mars", "offset": 0}),
        ],
        [group(count=6, duration=3), group("k", count=4, duration=2, start=5)],
        faults=[{"tick": 9, "node": "luna.b", "kind": "outage", "until": 12}],
    )
    whole = Engine(spec)
    uninterrupted = run(whole)
    assert whole.schedule_rejections == []
    assert kinds_at(uninterrupted, "owner.rejected") == []
    assert uninterrupted[-1][0] > 9
    for cut in range(uninterrupted[-1][0] + 1):
        first = Engine(spec)
        head = run(first, until=cut)
        restored = Engine.restore(spec, orjson.loads(dumps(first.snapshot())))
        assert dumps(restored.snapshot()) == dumps(first.snapshot()), cut
        assert dumps(head + run(restored)) == dumps(uninterrupted), cut
        assert dumps(restored.snapshot()) == dumps(whole.snapshot()), cut


# ----------------------------------------------------------------------- batches


def template(source: str) -> CommandInput:
    return CommandInput("batch", {}, "", "ops", source, "2030-01-01T00:00:00Z", "cmd-1")


GOOD_PARTS: list[tuple[str, dict[str, Any], str]] = [
    ("shard.register", {"shard": shard("mars")}, "add mars"),
    ("node.register", {"node": node("mars.a", "mars")}, "staff it"),  # needs the shard above
    ("job.reroute", {"job": "j-000003", "to": "mars"}, "use it"),  # needs the node above
]
# The same, then a checkpoint request, a running job pulled, a shard retired (cancelling its
# last queued job) and an unknown node.
BAD_PARTS: list[tuple[str, dict[str, Any], str]] = [
    *GOOD_PARTS,
    ("checkpoint.save", {}, "save"),
    ("job.reroute", {"job": "j-000001", "to": "mars"}, "move the running one"),
    ("shard.deregister", {"shard": "earth", "redistribution": {"mode": "cancel"}}, "retire"),
    ("node.update", {"node": "mars.b", "update": {"slots": 2}}, "typo"),
]
BAD_ERROR = "commands -> 6 (node.update): node: unknown node `mars.b` — did you mean `mars.a`?"


@pytest.mark.parametrize("source", ["at-rest", "live"])
def test_batch_applies_every_command_in_order(source: str) -> None:
    engine = Engine(scenario())
    run(engine, until=1)
    command = commands.batch(GOOD_PARTS, template(source))
    assert (command.name, command.reason) == ("batch", "3 commands applied together")
    if source == "at-rest":
        events = [(1, k, d) for k, d in engine.apply_at_rest(command)]
    else:
        events = [(2, k, d) for k, d in engine.run_tick([command])]
        assert_invariants(engine)
    owner = [
        (k, d["input"]["reason"], d["input"]["source"])
        for _, k, d in events
        if k.startswith("owner.")
    ]
    assert owner == [
        ("owner.shard.register", "add mars", source),
        ("owner.node.register", "staff it", source),
        ("owner.job.reroute", "use it", source),
    ]
    assert kinds_at(events, "job.spilled") == [
        (events[0][0], {"job": "j-000003", "from": "earth", "to": "mars", "reason": "reroute"})
    ]
    assert (engine.state.owner_actions, engine.state.outside_commands) == (3, 3)
    events += run(engine)
    assert [(t, d["job"], d["node"]) for t, d in kinds_at(events, "job.completed")] == [
        (3, "j-000001", "earth.a"),
        (4, "j-000003", "mars.a"),  # assigned at tick 2 in both cases
        (6, "j-000002", "earth.a"),
    ]


@pytest.mark.parametrize("requested", [False, True])
def test_batch_at_rest_with_one_bad_command_changes_nothing(requested: bool) -> None:
    engine, twin = Engine(scenario()), Engine(scenario())
    run(engine, until=2)
    run(twin, until=2)
    engine.state.checkpoint_requested = requested  # by an earlier checkpoint.save, or not
    before = dumps(engine.snapshot())
    with pytest.raises(BadInput) as caught:
        engine.apply_at_rest(commands.batch(BAD_PARTS, template("at-rest")))
    assert caught.value.render() == BAD_ERROR
    assert engine.events == []
    assert dumps(engine.snapshot()) == before
    assert engine.state.checkpoint_requested is requested  # not in the snapshot: kept apart
    assert "mars" not in engine.state.shards
    assert engine.state.shards["earth"].retired is False
    assert engine.state.jobs["j-000001"].node == "earth.a"
    assert run(engine) == run(twin)


def test_live_batch_with_one_bad_command_is_one_rejection_and_changes_nothing() -> None:
    engine, twin = Engine(scenario()), Engine(scenario())
    run(engine, until=2)
    run(twin, until=2)
    command = commands.batch(BAD_PARTS, template("live"))
    events = engine.run_tick([command])
    expected = twin.run_tick()
    assert events == [
        ("owner.rejected", {"input": command.to_json(), "error": BAD_ERROR}),
        *expected,
    ]
    snapshot = twin.snapshot()
    snapshot["outside_commands"] += 1  # a rejected live command is still counted
    assert dumps(engine.snapshot()) == dumps(snapshot)
    assert engine.state.checkpoint_requested is False
    assert engine.schedule_rejections == []
    assert_invariants(engine)
    assert run(engine) == run(twin)


def test_every_command_has_a_one_line_description() -> None:
    """Every handler's effect reads as a sentence in the CLI, the audit and the report."""
    from agijobs.describe import _DESCRIBERS

    plain = {"pause-all", "resume", "set-latency", "reroute"}  # described inline
    assert set(commands.HANDLERS) - plain == set(_DESCRIBERS)
