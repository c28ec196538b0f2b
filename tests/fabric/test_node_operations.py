"""Node operations at engine level: node.cordon, node.uncordon and node.drain, the drain
deadline the tick keeps, and node health an external executor reports.

Each command is tested for its effect on routing, the exact `owner.*` event it records (and
the follow-up events), idempotence and refusals. Conservation is checked after every tick.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from agijobs.fabric.engine import Engine
from agijobs.ledger.canonical import dumps

from ..helpers import engine_of
from .builders import (
    TWO_EARTH_NODES,
    assert_refused,
    cmd,
    effects,
    group,
    jobs_of,
    kinds_at,
    outcomes,
    run,
    scenario,
    step,
)


def engine(schedule: list[dict[str, Any]], **workload: Any) -> Engine:
    return engine_of(scenario(schedule, [group(**workload)], fabric_spec=TWO_EARTH_NODES))


def assigned(events: list[Any]) -> list[tuple[int, str, str]]:
    return [(t, d["job"], d["node"]) for t, d in kinds_at(events, "job.assigned")]


# ---------------------------------------------------------------------- node.cordon


def test_a_cordoned_node_takes_no_new_job_and_its_running_job_carries_on() -> None:
    fabric = engine([cmd(2, "node.cordon", node="earth.b")], count=4, duration=3)
    events = run(fabric)
    assert assigned(events) == [
        (1, "j-000001", "earth.a"),
        (1, "j-000002", "earth.b"),
        (4, "j-000003", "earth.a"),
        (7, "j-000004", "earth.a"),
    ]
    assert jobs_of(events, "job.completed") == [
        (3, "j-000001"),
        (3, "j-000002"),  # started before the cordon: it finishes where it runs
        (6, "j-000003"),
        (9, "j-000004"),
    ]
    assert outcomes(events, 2) == [
        (
            "owner.node.cordon",
            {
                "node": "earth.b",
                "shard": "earth",
                "schedulable": ["schedulable", "cordoned"],
                "changed": True,
            },
        )
    ]


def test_cordon_is_idempotent_and_uncordon_gives_the_node_work_again() -> None:
    fabric = engine(
        [
            cmd(1, "node.cordon", node="earth.b"),
            cmd(2, "node.cordon", node="earth.b"),
            cmd(4, "node.uncordon", node="earth.b"),
            cmd(5, "node.uncordon", node="earth.b"),
        ],
        count=4,
        duration=3,
    )
    events = run(fabric)
    assert [(e["schedulable"], e["changed"]) for e in effects(events, "node.cordon")] == [
        (["schedulable", "cordoned"], True),
        (["cordoned", "cordoned"], False),
    ]
    assert [(e["schedulable"], e["changed"]) for e in effects(events, "node.uncordon")] == [
        (["cordoned", "schedulable"], True),
        (["schedulable", "schedulable"], False),
    ]
    assert assigned(events) == [
        (1, "j-000001", "earth.a"),
        (4, "j-000002", "earth.a"),
        (4, "j-000003", "earth.b"),  # uncordoned at the start of tick 4
        (7, "j-000004", "earth.a"),
    ]


def test_a_shard_whose_only_node_is_cordoned_spills_or_defers_as_with_a_down_node() -> None:
    fabric = engine_of(
        scenario(
            [cmd(1, "node.cordon", node="earth.a"), cmd(5, "node.uncordon", node="earth.a")],
            [group(count=1)],
        )
    )
    events = run(fabric)
    assert kinds_at(events, "job.deferred") == [(1, {"job": "j-000001", "shard": "earth"})]
    assert assigned(events) == [(5, "j-000001", "earth.a")]


# ----------------------------------------------------------------------- node.drain


def test_drain_lets_jobs_finish_before_the_deadline_and_takes_no_new_work() -> None:
    fabric = engine_of(
        scenario(
            [cmd(2, "node.drain", node="earth.b", deadline_ticks=5)],
            [group(count=3), group("k", count=1, start=9)],  # the run goes on past tick 7
            fabric_spec=TWO_EARTH_NODES,
        )
    )
    events = run(fabric)
    assert effects(events, "node.drain") == [
        {
            "node": "earth.b",
            "shard": "earth",
            "schedulable": ["schedulable", "draining"],
            "deadline_tick": [None, 7],
            "changed": True,
        }
    ]
    assert (3, "j-000002") in jobs_of(events, "job.completed")
    assert kinds_at(events, "node.drained") == [
        (7, {"node": "earth.b", "shard": "earth", "requeued": 0})
    ]
    assert kinds_at(events, "job.requeued") == []
    assert [node for _, _, node in assigned(events)] == ["earth.a", "earth.b", "earth.a", "earth.a"]
    assert fabric.state.nodes["earth.b"].cordoned  # drained, still cordoned


def test_the_drain_deadline_requeues_what_still_runs_keeping_its_progress() -> None:
    fabric = engine([cmd(2, "node.drain", node="earth.b", deadline_ticks=2)], count=2, duration=6)
    events = run(fabric, until=4)
    # j-000002 ran ticks 1-4 on earth.b (4 of its 6): 2 left, at the front of the queue.
    assert outcomes(events, 4) == [
        ("node.drained", {"node": "earth.b", "shard": "earth", "requeued": 1}),
        ("job.requeued", {"job": "j-000002", "node": "earth.b", "shard": "earth", "remaining": 2}),
    ]
    assert fabric.state.drains == {}
    assert fabric.state.nodes["earth.b"].drain_tick == 0
    events += run(fabric)
    assert assigned(events)[-1] == (7, "j-000002", "earth.a")
    assert jobs_of(events, "job.completed") == [(6, "j-000001"), (8, "j-000002")]


def test_a_second_drain_moves_the_deadline_and_the_first_one_no_longer_falls() -> None:
    fabric = engine(
        [
            cmd(2, "node.drain", node="earth.b", deadline_ticks=2),
            cmd(3, "node.drain", node="earth.b", deadline_ticks=2),
            cmd(3, "node.drain", node="earth.b", deadline_ticks=2),
        ],
        count=2,
        duration=8,
    )
    events = run(fabric)
    assert [(e["deadline_tick"], e["changed"]) for e in effects(events, "node.drain")] == [
        ([None, 4], True),
        ([4, 5], True),
        ([5, 5], False),
    ]
    assert [t for t, _ in kinds_at(events, "node.drained")] == [5]


def test_uncordon_ends_a_drain_and_the_running_job_stays() -> None:
    fabric = engine(
        [
            cmd(2, "node.drain", node="earth.b", deadline_ticks=2),
            cmd(3, "node.uncordon", node="earth.b"),
        ],
        count=2,
        duration=6,
    )
    events = run(fabric)
    assert effects(events, "node.uncordon")[0]["schedulable"] == ["draining", "schedulable"]
    assert kinds_at(events, "node.drained") == kinds_at(events, "job.requeued") == []
    assert jobs_of(events, "job.completed") == [(6, "j-000001"), (6, "j-000002")]


def test_cordon_on_a_draining_node_changes_nothing() -> None:
    fabric = engine(
        [
            cmd(2, "node.drain", node="earth.b", deadline_ticks=9),
            cmd(3, "node.cordon", node="earth.b"),
        ]
    )
    events = run(fabric, until=3)
    assert effects(events, "node.cordon")[0]["schedulable"] == ["draining", "draining"]
    assert fabric.state.nodes["earth.b"].drain_tick == 11


def test_a_drained_node_that_was_deregistered_is_skipped_at_its_deadline() -> None:
    fabric = engine(
        [
            cmd(2, "node.drain", node="earth.b", deadline_ticks=3),
            cmd(3, "node.deregister", node="earth.b"),
        ],
        count=2,
        duration=6,
    )
    events = run(fabric)
    assert kinds_at(events, "node.drained") == []
    assert [d["job"] for _, d in kinds_at(events, "job.requeued")] == ["j-000002"]


def test_a_drain_survives_a_snapshot_and_falls_at_the_same_tick() -> None:
    schedule = [cmd(2, "node.drain", node="earth.b", deadline_ticks=4)]
    straight = engine(schedule, count=3, duration=8)
    halted = engine(schedule, count=3, duration=8)
    expected = run(straight)
    events = run(halted, until=3)
    document = orjson.loads(dumps(halted.snapshot()))
    assert [n.get("drain_tick") for n in document["nodes"]] == [None, 6, None]
    assert [n.get("cordoned") for n in document["nodes"]] == [None, True, None]
    restored = Engine.restore(halted.inputs, document)
    events += run(restored)
    assert events == expected
    assert dumps(restored.snapshot()) == dumps(straight.snapshot())


@pytest.mark.parametrize("name", ["node.cordon", "node.uncordon"])
def test_unknown_node_is_refused_with_a_did_you_mean(name: str) -> None:
    assert_refused(
        [cmd(2, name, node="earth.c")],
        "node: unknown node `earth.c` — did you mean `earth.b`?",
        fabric_spec=TWO_EARTH_NODES,
    )


def test_drain_of_an_unknown_node_is_refused_with_a_did_you_mean() -> None:
    assert_refused(
        [cmd(2, "node.drain", node="luna.b", deadline_ticks=3)],
        "node: unknown node `luna.b` — did you mean `luna.a`?",
        fabric_spec=TWO_EARTH_NODES,
    )


# ---------------------------------------------------------- executor node reports


def executed_tick(fabric: Engine, reports: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """One tick as the runner drives it with an external executor that accepts everything
    and reports `reports`."""
    fabric.collect_dispatch = True
    fabric.begin_tick()
    fabric.settle([{"status": "accepted"}] * len(fabric.dispatched), 3)
    fabric.report_nodes(reports)
    return fabric.end_tick()


def test_a_node_the_executor_reports_down_is_requeued_and_takes_no_work_until_up() -> None:
    fabric = engine([], count=3, duration=6)
    step(fabric)  # tick 1: j-000001 on earth.a, j-000002 on earth.b
    events = executed_tick(fabric, [{"node": "earth.b", "status": "down"}])
    assert events == [
        ("executor.nodes", {"reports": [{"node": "earth.b", "status": "down"}]}),
        ("node.down", {"node": "earth.b", "shard": "earth", "requeued": 1, "by": "executor"}),
        ("job.requeued", {"job": "j-000002", "node": "earth.b", "shard": "earth", "remaining": 5}),
    ]
    # The same report again changes nothing and records nothing.
    assert executed_tick(fabric, [{"node": "earth.b", "status": "down"}]) == []
    assert executed_tick(fabric, [{"node": "earth.b", "status": "up"}]) == [
        ("executor.nodes", {"reports": [{"node": "earth.b", "status": "up"}]}),
        ("node.up", {"node": "earth.b", "shard": "earth", "by": "executor"}),
    ]
    events = executed_tick(fabric, [{"node": "gone", "status": "down"}])
    assert [kind for kind, _ in events] == ["job.assigned"]  # j-000002 again, on earth.b
    assert fabric.state.nodes["earth.b"].eligible


def test_an_executor_report_survives_a_snapshot() -> None:
    fabric = engine([], count=1)
    executed_tick(fabric, [{"node": "earth.b", "status": "down"}])
    document = orjson.loads(dumps(fabric.snapshot()))
    assert [n.get("executor_down") for n in document["nodes"]] == [None, True, None]
    restored = Engine.restore(fabric.inputs, document)
    assert not restored.state.nodes["earth.b"].eligible
    assert dumps(restored.snapshot()) == dumps(fabric.snapshot())
