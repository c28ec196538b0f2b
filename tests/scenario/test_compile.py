"""The engine's inputs: what a scenario's document says without pydantic (the last input
tick, how many triggers) is what the validated scenario's compiled inputs say."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from agijobs.scenario.loading import build_plan, load_plan
from agijobs.scenario.models import Expectations, Scenario
from agijobs.scenario.plan import ScenarioSource, fabric_inputs

from ..fabric.builders import FABRIC, burst, trigger
from ..fabric.strategies import PROPERTY, scenarios
from ..helpers import make_scenario

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))


def assert_the_document_agrees(scenario: Scenario) -> None:
    inputs = fabric_inputs(scenario)
    timed = inputs.timed()
    arrivals = [first + (count - 1) // per_tick for *_, first, per_tick, count, _ in timed.groups]
    assert inputs.last_input_tick == max([0, *arrivals, *timed.schedule, *timed.faults])
    assert inputs.trigger_count == len(timed.triggers)


@PROPERTY
@given(scenarios())
def test_the_document_gives_what_the_compiled_inputs_give(scenario: Scenario) -> None:
    assert_the_document_agrees(scenario)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_the_document_of_each_shipped_scenario_agrees(path: Path) -> None:
    assert_the_document_agrees(load_plan(path).scenario)


def test_triggers_and_late_fault_ends_count() -> None:
    entry = trigger({"shard": "earth", "queue_above": 5}, "pause-all")
    repeat = {**trigger({"any_shard": "critical"}, "resume"), "repeat": True}
    scenario = make_scenario(
        fabric=FABRIC,
        workload=burst(),
        schedule=[entry, {"tick": 4, "command": "pause-all", "reason": "r"}, repeat],
        faults=[{"tick": 2, "node": "earth.a", "kind": "outage", "until": 90}],
    )
    assert_the_document_agrees(scenario)
    inputs = fabric_inputs(scenario)
    assert (inputs.last_input_tick, inputs.trigger_count) == (90, 2)


def test_a_document_is_validated_only_when_a_tick_needs_it() -> None:
    scenario = make_scenario()
    plan = build_plan(scenario, Expectations())
    validations = []

    def validated() -> object:
        validations.append(plan)
        return plan

    source = ScenarioSource(plan.source.document, validated=validated)  # type: ignore[arg-type]
    inputs = source.inputs()
    assert validations == []
    assert inputs.timed().groups == fabric_inputs(scenario).timed().groups
    assert source.model() == scenario
    assert validations == [plan]
