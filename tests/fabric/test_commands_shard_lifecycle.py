"""The commands that add and retire shards at engine level: shard.register and
shard.deregister (with spillover or cancel), and what happens to the jobs and arrivals of
a retired shard.

Each command is tested for its effect on the state, the exact `owner.*` event it records
(and the follow-up events), and every refusal (`builders.assert_refused` says what a
refusal must be). Conservation is checked after every tick of every run.
"""

from __future__ import annotations

from typing import Any

import pytest

from agijobs.fabric.inputs import CommandInput

from ..helpers import engine_of
from .builders import (
    DEREGISTER_EARTH,
    TWO_EARTH_NODES,
    assert_refused,
    at,
    cmd,
    deregister,
    effects,
    fabric,
    group,
    jobs_of,
    kinds_at,
    node,
    outcomes,
    run,
    scenario,
    shard,
)
from .invariants import assert_invariants

# ------------------------------------------------------------------ shard.register


def test_registered_shard_sits_in_id_order_and_takes_threshold_spillover() -> None:
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(scenario([deregister(2, "earth", "luna")]))
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
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(scenario([deregister(2, "earth")], [group(), group("k", count=1, start=4)]))
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
    engine = engine_of(
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
    engine = engine_of(scenario([DEREGISTER_EARTH], quantum))
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
    engine = engine_of(scenario(workload=[group(duration=4)], fabric_spec=TWO_EARTH_NODES))
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
