"""The tick rules, one by one, on small hand-built fabrics."""

from __future__ import annotations

from ..helpers import engine_of, fabric_without, make_scenario, run_engine

ONE_NODE = {
    "owner": {"name": "Owner"},
    "shards": [{"id": "earth", "latency_budget_ms": 100, "max_queue": 100}],
    "nodes": [
        {
            "id": "earth.a",
            "shard": "earth",
            "slots": 1,
            "skills": ["x"],
            "latency_ms": 10,
            "heartbeat_ticks": 2,
        }
    ],
}


def kinds_at(events, kind):
    return [(tick, data) for tick, k, data in events if k == kind]


def test_duration_one_completes_in_the_tick_it_was_assigned() -> None:
    scenario = make_scenario(
        fabric=ONE_NODE,
        workload=[{"prefix": "j", "shard": "earth", "skills": ["x"], "count": 2, "duration": 1}],
    )
    _, events = run_engine(scenario)
    assert [t for t, _ in kinds_at(events, "job.assigned")] == [1, 2]
    assert [t for t, _ in kinds_at(events, "job.completed")] == [1, 2]


def test_duration_d_assigned_at_t_completes_at_end_of_t_plus_d_minus_1() -> None:
    scenario = make_scenario(
        fabric=ONE_NODE,
        workload=[
            {
                "prefix": "j",
                "shard": "earth",
                "skills": ["x"],
                "count": 1,
                "duration": 4,
                "arrive": {"start": 3},
            }
        ],
    )
    _, events = run_engine(scenario)
    assert kinds_at(events, "job.assigned")[0][0] == 3
    assert kinds_at(events, "job.completed")[0][0] == 6


def test_assignment_prefers_most_free_slots_then_node_id() -> None:
    _, events = run_engine(
        make_scenario(
            workload=[
                {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 4, "duration": 5}
            ]
        )
    )
    nodes = [data["node"] for _, data in kinds_at(events, "job.assigned")]
    # earth.b has 3 free, earth.a 2: b, then a tie at 2 goes to a (id order), then b, a.
    assert nodes == ["earth.b", "earth.a", "earth.b", "earth.a"]


def test_fifo_across_skill_classes() -> None:
    scenario = make_scenario(
        fabric={**ONE_NODE, "nodes": [{**ONE_NODE["nodes"][0], "skills": ["general"]}]},
        workload=[
            {"prefix": "a", "shard": "earth", "skills": ["x"], "count": 2, "duration": 1},
            {"prefix": "b", "shard": "earth", "skills": ["y"], "count": 2, "duration": 1},
        ],
    )
    _, events = run_engine(scenario)
    order = [data["job"] for _, data in kinds_at(events, "job.assigned")]
    assert order == ["a-000001", "a-000002", "b-000001", "b-000002"]


def test_job_without_any_capable_node_fails_once_and_is_counted_once() -> None:
    scenario = make_scenario(
        workload=[
            {
                "prefix": "q",
                "shard": "earth",
                "skills": ["quantum"],
                "count": 3,
                "duration": 1,
                "value": 7,
            }
        ],
        fabric=fabric_without("luna.c"),
    )
    engine, events = run_engine(scenario)
    failed = kinds_at(events, "job.failed")
    assert [d["reason"] for _, d in failed] == ["no-capable-node"] * 3
    totals = engine.state.totals()
    assert (totals["failed"].count, totals["failed"].value) == (3, 21)
    assert totals["cancelled"].count == 0
    assert engine.is_done()


def test_unservable_job_spills_to_a_target_that_can_serve_and_never_comes_back() -> None:
    scenario = make_scenario(
        workload=[
            {"prefix": "n", "shard": "earth", "skills": ["navigation"], "count": 3, "duration": 2}
        ],
    )
    engine, events = run_engine(scenario)
    spills = kinds_at(events, "job.spilled")
    assert [(d["from"], d["to"], d["reason"]) for _, d in spills] == [
        ("earth", "luna", "unservable")
    ] * 3
    assert len(kinds_at(events, "job.completed")) == 3
    assert engine.state.shards["luna"].completed.count == 3


def test_job_no_shard_can_serve_waits_deferred_with_one_event_then_runs_on_recovery() -> None:
    scenario = make_scenario(
        workload=[
            {
                "prefix": "f",
                "shard": "earth",
                "skills": ["finance"],
                "count": 2,
                "duration": 1,
                "arrive": {"start": 20},
            }
        ],
        faults=[
            {"tick": 1, "node": "earth.a", "kind": "outage", "until": 40},
            {"tick": 1, "node": "earth.b", "kind": "outage", "until": 40},
        ],
        fabric=fabric_without("luna.c"),
    )
    engine, events = run_engine(scenario)
    deferred = kinds_at(events, "job.deferred")
    assert [d["job"] for _, d in deferred] == ["f-000001", "f-000002"]
    ups = [t for t, _ in kinds_at(events, "node.up")]
    assert ups == [40, 40]
    # node.up is step 6 of tick 40, after routing (step 4): first assignment at 41.
    assert {t for t, _ in kinds_at(events, "job.assigned")} == {41}
    assert engine.is_done()


def test_outage_marks_node_down_after_three_missed_heartbeats_and_requeues_with_progress() -> None:
    scenario = make_scenario(
        fabric=ONE_NODE,
        workload=[{"prefix": "j", "shard": "earth", "skills": ["x"], "count": 1, "duration": 10}],
        faults=[{"tick": 5, "node": "earth.a", "kind": "outage", "until": 20}],
    )
    _engine, events = run_engine(scenario)
    # Last heartbeat before tick 5 is tick 4 (every 2 ticks), so misses at 6, 8, 10.
    assert [t for t, _ in kinds_at(events, "node.down")] == [10]
    requeued = kinds_at(events, "job.requeued")
    assert requeued == [
        (10, {"job": "j-000001", "node": "earth.a", "shard": "earth", "remaining": 6})
    ]
    # Up again at the heartbeat of tick 20 (step 6, after routing): reassigned at 21 with
    # 6 ticks left, so it completes at the end of tick 26.
    assert [t for t, _ in kinds_at(events, "node.up")] == [20]
    assert [t for t, _ in kinds_at(events, "job.assigned")] == [1, 21]
    assert kinds_at(events, "job.completed")[0][0] == 26


def test_short_outage_freezes_progress_without_marking_down() -> None:
    scenario = make_scenario(
        fabric=ONE_NODE,
        workload=[{"prefix": "j", "shard": "earth", "skills": ["x"], "count": 1, "duration": 10}],
        faults=[{"tick": 5, "node": "earth.a", "kind": "outage", "until": 8}],
    )
    _, events = run_engine(scenario)
    assert kinds_at(events, "node.down") == []
    # 4 ticks of progress (1-4), frozen 5-7, 6 more from tick 8 -> done at end of tick 13.
    assert kinds_at(events, "job.completed")[0][0] == 13


def test_a_pause_never_marks_nodes_down() -> None:
    scenario = make_scenario(
        schedule=[
            {"tick": 2, "command": "pause-all", "reason": "long pause"},
            {"tick": 80, "command": "resume", "reason": "done"},
        ],
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 40, "duration": 3}
        ],
    )
    engine, events = run_engine(scenario)
    assert kinds_at(events, "node.down") == []
    assigned_ticks = {t for t, _ in kinds_at(events, "job.assigned")}
    assert not assigned_ticks & set(range(2, 80))
    assert engine.state.totals()["completed"].count == 40


def test_threshold_spillover_moves_newest_jobs_within_drain_limit() -> None:
    scenario = make_scenario(
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 60, "duration": 50}
        ],
    )
    engine = engine_of(scenario)
    events = engine.run_tick()
    spilled = [d for k, d in events if k == "job.spilled"]
    # 60 queued > threshold 50: the excess is 10 but the drain limit is 5; newest first.
    assert [d["job"] for d in spilled] == [f"f-0000{i}" for i in (60, 59, 58, 57, 56)]
    assert {d["reason"] for d in spilled} == {"threshold"}


def test_max_queue_overflow_spills_to_targets_with_room_and_never_drops() -> None:
    fabric = make_scenario().fabric.model_dump()
    fabric["shards"][0]["max_queue"] = 20
    fabric["shards"][0]["spillover"][0]["threshold"] = 1000
    fabric["shards"][1]["max_queue"] = 10
    scenario = make_scenario(
        fabric=fabric,
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 50, "duration": 100}
        ],
        run={"max_ticks": 5, "checkpoint_every": 5},
    )
    engine = engine_of(scenario)
    engine.run_tick()
    earth, luna = engine.state.shards["earth"], engine.state.shards["luna"]
    assert luna.spilled_in.count == 10  # up to its max_queue, then earth keeps the rest
    assert earth.health == "critical"
    totals = engine.state.totals()
    assert totals["submitted"].count == 50
    assert totals["queued"].count + totals["in_flight"].count == 50


def test_latency_budget_excludes_slow_nodes_and_set_latency_reports_them() -> None:
    scenario = make_scenario(
        schedule=[
            {"tick": 1, "command": "set-latency", "shard": "earth", "ms": 85, "reason": "tighten"}
        ],
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 4, "duration": 10}
        ],
    )
    engine = engine_of(scenario)
    events = engine.run_tick()
    owner = next(d for k, d in events if k == "owner.set-latency")
    assert owner["effect"]["ineligible"] == ["earth.b"]
    assert (
        "node.latency.breach",
        {"node": "earth.b", "shard": "earth", "latency_ms": 90, "budget_ms": 85},
    ) in events
    assert {d["node"] for k, d in events if k == "job.assigned"} == {"earth.a"}


def test_reroute_backlog_moves_oldest_servable_jobs_and_sets_first_target() -> None:
    scenario = make_scenario(
        schedule=[
            {
                "tick": 2,
                "command": "reroute",
                "from": "earth",
                "to": "luna",
                "backlog": 3,
                "reason": "drain",
            }
        ],
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 20, "duration": 50}
        ],
    )
    engine = engine_of(scenario)
    engine.run_tick()
    events = engine.run_tick()
    owner = next(d for k, d in events if k == "owner.reroute")
    assert owner["effect"] == {
        "reroute_target": [None, "luna"],
        "first_target": ["luna", "luna"],  # luna was already the first configured target
        "changed": True,
        "moved": 3,
        "left_unservable": 0,
        "left_full": 0,
    }
    moved = [d["job"] for k, d in events if k == "job.spilled" and d["reason"] == "reroute"]
    assert moved == ["f-000006", "f-000007", "f-000008"]  # 1-5 are running
    assert engine.state.shards["earth"].reroute_target == "luna"


def test_pausing_twice_is_recorded_as_unchanged() -> None:
    scenario = make_scenario(
        schedule=[
            {"tick": 1, "command": "pause-all", "reason": "a"},
            {"tick": 1, "command": "pause-all", "reason": "b"},
        ]
    )
    events = engine_of(scenario).run_tick()
    effects = [d["effect"]["changed"] for k, d in events if k == "owner.pause-all"]
    assert effects == [True, False]


TWO_SHARDS = {
    "owner": {"name": "o"},
    "shards": [
        {"id": "earth", "latency_budget_ms": 120, "max_queue": 100},
        {"id": "luna", "latency_budget_ms": 180, "max_queue": 100},
    ],
    "nodes": [
        {"id": "earth.a", "shard": "earth", "slots": 1, "skills": ["finance"], "latency_ms": 80},
        {"id": "luna.c", "shard": "luna", "slots": 1, "skills": ["general"], "latency_ms": 150},
    ],
}


def test_rerouting_a_running_job_keeps_its_progress_and_completes_once() -> None:
    # Pulled at tick 2 with 3 ticks left and restarted the same tick: same due tick as
    # before, which once listed the job twice in the completion wheel.
    scenario = make_scenario(
        fabric=TWO_SHARDS,
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 1, "duration": 4}
        ],
        schedule=[
            {
                "tick": 2,
                "command": "reroute",
                "from": "earth",
                "to": "luna",
                "job": "f-000001",
                "reason": "escalate",
            }
        ],
    )
    engine, events = run_engine(scenario)
    assert [(t, d["node"]) for t, d in kinds_at(events, "job.assigned")] == [
        (1, "earth.a"),
        (2, "luna.c"),
    ]
    assert kinds_at(events, "job.completed") == [
        (4, {"job": "f-000001", "node": "luna.c", "shard": "luna"})
    ]
    assert engine.state.totals()["completed"].count == 1


def test_at_rest_reroute_of_a_running_job_keeps_the_tick_already_worked() -> None:
    from agijobs.fabric.inputs import CommandInput

    scenario = make_scenario(
        fabric=TWO_SHARDS,
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 1, "duration": 4}
        ],
    )
    engine = engine_of(scenario)
    engine.run_tick()
    engine.run_tick()  # at rest after tick 2: ticks 1 and 2 of work are done
    engine.apply_at_rest(
        CommandInput(
            "reroute", {"from": "earth", "to": "luna", "job": "f-000001"}, "r", "op", "at-rest"
        )
    )
    events = []
    while not engine.is_done():
        tick_events = engine.run_tick()
        events += [(engine.state.tick, k, d) for k, d in tick_events]
    assert kinds_at(events, "job.completed")[0][0] == 4  # the same as without the move


def test_a_job_that_waits_again_gets_a_new_deferred_event() -> None:
    scenario = make_scenario(
        fabric={
            "owner": {"name": "o"},
            "shards": [{"id": "earth", "latency_budget_ms": 120, "max_queue": 10}],
            "nodes": [
                {
                    "id": "a",
                    "shard": "earth",
                    "slots": 1,
                    "skills": ["finance"],
                    "latency_ms": 80,
                    "heartbeat_ticks": 1,
                }
            ],
        },
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 1, "duration": 5}
        ],
        faults=[
            {"tick": 1, "node": "a", "kind": "latency", "latency_ms": 200, "until": 3},
            {"tick": 5, "node": "a", "kind": "outage", "until": 12},
        ],
    )
    _, events = run_engine(scenario)
    assert [t for t, _ in kinds_at(events, "job.deferred")] == [1, 8]
    assert [t for t, _ in kinds_at(events, "job.requeued")] == [7]


def test_overlapping_outages_last_until_the_last_one_ends() -> None:
    scenario = make_scenario(
        fabric=ONE_NODE,
        workload=[
            {
                "prefix": "j",
                "shard": "earth",
                "skills": ["x"],
                "count": 1,
                "duration": 3,
                "arrive": {"start": 30},
            }
        ],
        faults=[
            {"tick": 2, "node": "earth.a", "kind": "outage", "until": 20},
            {"tick": 10, "node": "earth.a", "kind": "outage", "until": 40},
        ],
    )
    _, events = run_engine(scenario)
    assert [t for t, _ in kinds_at(events, "node.down")] == [6]
    assert [t for t, _ in kinds_at(events, "node.up")] == [40]
    assert kinds_at(events, "job.assigned")[0][0] == 41


def test_jobs_of_nodes_down_in_the_same_tick_keep_their_fifo_order() -> None:
    scenario = make_scenario(
        workload=[
            {"prefix": "f", "shard": "earth", "skills": ["finance"], "count": 5, "duration": 30}
        ],
        faults=[
            {"tick": 3, "node": "earth.a", "kind": "outage", "until": 50},
            {"tick": 3, "node": "earth.b", "kind": "outage", "until": 50},
        ],
    )
    engine = engine_of(scenario)
    requeued: list[str] = []
    while not requeued:
        requeued = [d["job"] for k, d in engine.run_tick() if k == "job.requeued"]
    assert requeued == [f"f-00000{i}" for i in range(1, 6)]
    queue = engine.state.shards["earth"].active[(("finance",), ("earth",))]
    assert [job.id for job in queue] == requeued
