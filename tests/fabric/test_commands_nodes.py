"""The node commands at engine level: node.register, node.update and node.deregister.

Each command is tested for its effect on the state, the exact `owner.*` event it records
(and the follow-up events), and every refusal (`builders.assert_refused` says what a
refusal must be). Conservation is checked after every tick of every run.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import engine_of
from .builders import (
    DEREGISTER_EARTH,
    TWO_EARTH_NODES,
    assert_refused,
    at,
    cmd,
    effects,
    fabric,
    group,
    jobs_of,
    kinds_at,
    node,
    outcomes,
    run,
    scenario,
)

# -------------------------------------------------------------------- node.register


def test_registered_node_takes_assignments_in_its_shard() -> None:
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(
        scenario([cmd(2, "node.update", node="earth.a", update={"slots": 3})], [group()])
    )
    events = run(engine)
    assert effects(events, "node.update") == [
        {"node": "earth.a", "changes": {"slots": [1, 3]}, "changed": True}
    ]
    assert jobs_of(events, "job.assigned") == [(1, "j-000001"), (2, "j-000002"), (2, "j-000003")]


def test_node_update_skills_lets_a_waiting_job_run() -> None:
    spec = fabric(nodes=[node("earth.a", "earth"), node("luna.a", "luna", skills=["y"])])
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(
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
    engine = engine_of(
        scenario([cmd(1, "node.update", node="earth.a", update={"metadata": {"rack": "r1"}})])
    )
    events = run(engine, until=1)
    assert effects(events, "node.update") == [
        {"node": "earth.a", "changes": {"metadata": [{}, {"rack": "r1"}]}, "changed": True}
    ]
    assert engine.state.nodes["earth.a"].metadata == {"rack": "r1"}


def test_node_update_to_the_same_values_is_unchanged() -> None:
    update = {"slots": 1, "skills": ["x"], "latency_ms": 10, "heartbeat_ticks": 1, "metadata": {}}
    engine = engine_of(
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


def test_node_deregister_requeues_its_running_jobs_to_the_front_keeping_remaining_ticks() -> None:
    engine = engine_of(
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
    engine = engine_of(
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
