"""A storage's plan read without pydantic (`stored_plan`) is the plan the full validation
reads; what is not a plan `agijobs plan` wrote gets the full validation's message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from agijobs.errors import BadInput
from agijobs.ledger.canonical import dumps, sha256_hex
from agijobs.scenario.loading import load_plan, plan_from_bytes
from agijobs.scenario.plan import Plan
from agijobs.scenario.plan import stored_plan as read_stored

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
FIELDS = ("inputs_id", "plan_id", "document", "signatures", "intents", "sources", "name")


def stored_plan(label: str, data: bytes) -> Plan:
    """The plan as `load_run` reads a storage's: validated in full only when asked."""
    return read_stored(label, data, lambda: plan_from_bytes(label, data))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_a_stored_plan_is_the_validated_plan(path: Path) -> None:
    data = load_plan(path).to_bytes()
    full, stored = plan_from_bytes("run-plan.json", data), stored_plan("run-plan.json", data)
    for field in FIELDS:
        assert getattr(stored, field) == getattr(full, field), field
    assert stored.to_bytes() == data
    assert stored.inputs.last_input_tick == full.inputs.last_input_tick
    assert stored.source._validated is None  # not validated until something needs it
    assert stored.scenario == full.scenario and stored.expect == full.expect


def rehashed(document: dict[str, object]) -> bytes:
    """A plan edited and given the plan_id of its new content."""
    body = {k: v for k, v in document.items() if k not in ("plan_id", "sources")}
    return dumps({**document, "plan_id": sha256_hex(dumps(body))})


def test_an_edited_plan_is_refused_as_the_full_validation_refuses_it() -> None:
    document = orjson.loads(load_plan(SCENARIOS[0]).to_bytes())
    document["scenario"]["name"] = "edited"
    data = dumps(document)
    for read in (stored_plan, plan_from_bytes):
        with pytest.raises(BadInput, match="plan_id does not match the plan's content"):
            read("run-plan.json", data)


def _no_shards(scenario: dict[str, Any]) -> None:
    del scenario["fabric"]["shards"]


def _nothing_to_divide_by(scenario: dict[str, Any]) -> None:
    scenario["workload"][0]["count"] = 0
    scenario["workload"][0]["arrive"]["per_tick"] = 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_no_shards, "scenario -> fabric -> shards: required key is missing"),
        (_nothing_to_divide_by, "scenario -> workload -> 0 -> arrive -> per_tick: "),
    ],
)
def test_a_rehashed_plan_that_is_no_scenario_gets_the_full_validations_message(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    document = orjson.loads(load_plan(SCENARIOS[0]).to_bytes())
    edit(document["scenario"])
    data = rehashed(document)
    with pytest.raises(BadInput) as full:
        plan_from_bytes("run-plan.json", data)
    with pytest.raises(BadInput) as stored:
        stored_plan("run-plan.json", data)
    assert stored.value.message == full.value.message
    assert message in stored.value.message
