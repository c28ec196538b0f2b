"""The checkpoint's state is checked against its table of types: strictly (JSON types as
written, since the restore reads them as they are), naming the key path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agijobs.errors import IntegrityError
from agijobs.fabric.engine import Engine
from agijobs.fabric.snapshot import check_state
from agijobs.ledger import jobtable
from agijobs.scenario.loading import load_plan

PLANETARY = Path(__file__).parents[2] / "scenarios" / "planetary.yaml"


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    plan = load_plan(PLANETARY)
    engine = Engine(plan.inputs)
    for _ in range(50):
        engine.run_tick()
    header, _ = jobtable.split(engine.snapshot())
    return header


def refusal(state: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> str:
    edited = copy.deepcopy(state)
    edit(edited)
    shards = [s["id"] for s in state["shards"]]
    with pytest.raises(IntegrityError) as refused:
        check_state(edited, shards, False, "checkpoint.json")
    return refused.value.message


def test_a_state_the_engine_wrote_passes(state: dict[str, Any]) -> None:
    check_state(state, [s["id"] for s in state["shards"]], False, "checkpoint.json")


EDITS: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (lambda s: s["nodes"][0].pop("outages"), "state -> nodes -> 0 -> outages: Field required"),
    (lambda s: s.update(extra=1), "state -> extra: Extra inputs are not permitted"),
    (lambda s: s.update(tick="5"), "state -> tick: Input should be a valid integer"),
    (lambda s: s.update(tick=True), "state -> tick: Input should be a valid integer"),
    (lambda s: s.update(paused=1), "state -> paused: Input should be a valid boolean"),
    (lambda s: s.update(shards={}), "state -> shards: Input should be a valid list"),
    (
        lambda s: s["shards"][1]["counters"].update(queued=[1, 2, 3]),
        "state -> shards -> 1 -> counters -> queued: Input should be a list of 2 items",
    ),
    (
        lambda s: s["nodes"][2].update(metadata=[]),
        "state -> nodes -> 2 -> metadata: Input should be a valid dictionary",
    ),
    (
        lambda s: s.update(attempts={"job-1": "two"}),
        "state -> attempts -> job-1: Input should be a valid integer",
    ),
    (
        lambda s: s["shards"][0]["policies"][0].update(required_skills=[1]),
        "state -> shards -> 0 -> policies -> 0 -> required_skills -> 0: Input should be a "
        "valid string",
    ),
    (lambda s: s.update(governance={"keys": []}), "state -> governance -> approvals: Field"),
    # Written null when unset, never left out: a restore reads them.
    (
        lambda s: s["shards"][0].pop("forward_to"),
        "state -> shards -> 0 -> forward_to: Field required",
    ),
    (
        lambda s: s["shards"][0].update(reroute_target=5),
        "state -> shards -> 0 -> reroute_target: Input should be a valid string",
    ),
    # Left out when empty, never written null.
    (lambda s: s.update(triggers=None), "state -> triggers: Input should be a valid list"),
    (lambda s: s.update(governance=None), "state -> governance: Input should be a valid dict"),
]


@pytest.mark.parametrize(("edit", "message"), EDITS, ids=[m for _, m in EDITS])
def test_what_departs_from_the_table_is_named(
    state: dict[str, Any], edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    assert refusal(state, edit).startswith(f"checkpoint.json: {message}")


def test_parts_the_snapshot_leaves_out_when_empty_may_be_absent(state: dict[str, Any]) -> None:
    shards = [s["id"] for s in state["shards"]]
    bare = {k: v for k, v in state.items() if k not in ("governance", "triggers", "attempts")}
    check_state(bare, shards, False, "checkpoint.json")
    check_state({**bare, "attempts": {"a": 1}, "triggers": [True]}, shards, False, "x")
    unset = copy.deepcopy(state)
    unset["shards"][0].update(forward_to=None, reroute_target=None)
    check_state(unset, shards, False, "checkpoint.json")


def test_a_state_of_another_fabric_is_refused(state: dict[str, Any]) -> None:
    shards = [s["id"] for s in state["shards"]]
    with pytest.raises(IntegrityError, match="its shards are not the plan's"):
        check_state(state, [*shards, "venus"], False, "checkpoint.json")
    with pytest.raises(IntegrityError, match="its owner authority is not the plan's"):
        check_state(state, shards, True, "checkpoint.json")
