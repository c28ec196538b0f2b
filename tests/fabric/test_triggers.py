"""Triggers: schedule entries that fire on a condition, at the start of a tick, once or on
every rising edge with `repeat`; deterministic, checkpointed and replayed."""

from __future__ import annotations

from typing import Any

import pytest

from agijobs.errors import BadInput
from agijobs.fabric.engine import Engine
from agijobs.ledger.canonical import dumps
from agijobs.scenario.plan import fabric_inputs

from ..helpers import engine_of, make_scenario
from .builders import FABRIC, burst, group, run, shard, step, trigger


def fired(events: list[tuple[int, str, dict[str, Any]]]) -> list[tuple[int, str]]:
    return [(tick, data["command"]) for tick, kind, data in events if kind == "trigger.fired"]


def test_a_queue_trigger_fires_once_at_the_first_tick_its_condition_holds() -> None:
    entry = trigger({"shard": "earth", "queue_above": 5}, "reroute", to="luna", backlog=2)
    entry["from"] = "earth"
    engine = engine_of(make_scenario(fabric=FABRIC, workload=burst(), schedule=[entry]))
    events = run(engine)
    # Jobs arrive during tick 1: at the start of tick 2 earth holds 7 queued (> 5).
    assert fired(events) == [(2, "reroute")]
    moves = [d for t, k, d in events if k == "owner.reroute"]
    assert moves[0]["effect"]["moved"] == 2
    assert moves[0]["input"]["source"] == "schedule"


def test_a_repeating_trigger_fires_again_only_after_its_condition_lapsed() -> None:
    entry = trigger({"any_shard": "degraded"}, "checkpoint.save")
    entry["repeat"] = True
    fabric = {**FABRIC, "shards": [shard("earth", alert_threshold=2), shard("luna")]}
    workload = [group(count=4, duration=2), group("k", count=4, duration=2, start=20)]
    engine = engine_of(make_scenario(fabric=fabric, workload=workload, schedule=[entry]))
    ticks = [tick for tick, _ in fired(run(engine))]
    assert len(ticks) == 2 and ticks[0] == 2 and ticks[1] == 21


def test_any_shard_critical_pauses_the_fabric() -> None:
    entry = trigger({"any_shard": "critical"}, "pause-all")
    fabric = {**FABRIC, "shards": [shard("earth", max_queue=3), shard("luna")]}
    engine = engine_of(make_scenario(fabric=fabric, workload=burst(6), schedule=[entry]))
    events = [e for _ in range(3) for e in step(engine)]
    assert fired(events) == [(2, "pause-all")]
    assert engine.state.paused is True


def test_trigger_state_survives_a_checkpoint_and_the_run_stays_the_same() -> None:
    entry = trigger({"shard": "earth", "queue_above": 1}, "checkpoint.configure", every=7)
    scenario = make_scenario(fabric=FABRIC, workload=burst(), schedule=[entry])
    straight = engine_of(scenario)
    whole = run(straight)
    first = engine_of(scenario)
    head = [e for _ in range(4) for e in step(first)]
    snapshot = first.snapshot()
    assert snapshot["triggers"] == [False]
    resumed = Engine.restore(fabric_inputs(scenario), snapshot)
    assert head + run(resumed) == whole
    assert dumps(resumed.snapshot()) == dumps(straight.snapshot())


def test_a_scenario_without_triggers_keeps_its_snapshot_shape() -> None:
    engine = engine_of(make_scenario(fabric=FABRIC, workload=burst(), schedule=[]))
    assert "triggers" not in engine.snapshot()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"when": {"shard": "earth"}, "command": "pause-all", "reason": "r"},
            "give either {shard, queue_above} or {any_shard: critical|degraded}",
        ),
        (
            {"tick": 3, "when": {"any_shard": "critical"}, "command": "pause-all", "reason": "r"},
            "give either `tick` or `when` (a trigger), not both or neither",
        ),
        (
            {"tick": 3, "repeat": True, "command": "pause-all", "reason": "r"},
            "`repeat` belongs to triggers (entries with `when`)",
        ),
        (
            {"when": {"shard": "eart", "queue_above": 3}, "command": "pause-all", "reason": "r"},
            "schedule -> 0 -> when -> shard: unknown shard `eart`; did you mean `earth`?",
        ),
    ],
)
def test_bad_triggers_are_refused_with_the_path(entry: dict[str, Any], message: str) -> None:
    from pathlib import Path

    from agijobs.scenario.loading import _plan_from_scenario

    raw = {
        "name": "t",
        "fabric": FABRIC,
        "workload": burst(),
        "schedule": [entry],
    }
    with pytest.raises(BadInput) as caught:
        _plan_from_scenario(Path("s.yaml"), raw)
    assert message in caught.value.message
