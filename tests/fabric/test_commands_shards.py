"""The commands that change a registered shard at engine level: shard.pause, shard.resume and
shard.update.

Each command is tested for its effect on the state, the exact `owner.*` event it records
(and the follow-up events), and every refusal (`builders.assert_refused` says what a
refusal must be). Conservation is checked after every tick of every run.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import engine_of
from .builders import (
    assert_refused,
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

# ------------------------------------------------------- shard.pause / shard.resume


def test_paused_shard_assigns_and_spills_nothing_but_arrivals_queue_and_resume_goes_on() -> None:
    spec = fabric(
        shards=[
            shard("earth", spillover=[{"target": "luna", "threshold": 1, "max_drain_per_tick": 5}]),
            shard("luna"),
        ]
    )
    engine = engine_of(
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
    engine = engine_of(
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


# -------------------------------------------------------------------- shard.update


def test_shard_update_changes_name_max_queue_and_alert_threshold() -> None:
    engine = engine_of(
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
    engine = engine_of(scenario([cmd(1, "shard.update", shard="earth", update={"max_queue": 5})]))
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
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(
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
