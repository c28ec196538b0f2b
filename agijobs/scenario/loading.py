"""Load and validate scenario and plan files into a `Plan`: the pydantic boundary of agijobs.

A scenario file (YAML or JSON) describes a whole drill. `load_plan` turns one, or a plan
file written by `agijobs plan`, or a reference demo file, into a `Plan`: the validated
scenario in canonical form, its expectations, and the two identities derived from it:

- ``inputs_id``: sha256 of the canonical scenario without ``expect``. It is recorded in the
  event log and the checkpoint, so a golden ``events_digest`` in ``expect`` is never part of
  the bytes it describes.
- ``plan_id``: sha256 of the canonical plan document without ``plan_id``.

Every error names the file, the key path inside it and the fix, and nothing is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BadInput, Conflict
from ..ledger.canonical import dumps, sha256_hex
from .commands import NodeRegister, ShardRegister
from .documents import read_document, read_input_file
from .models import Expectations, Scenario, ScenarioFile
from .plan import PLAN_FORMAT, Plan, ScenarioSource, check_identity, check_signatures, decode_plan
from .topology import FabricSpec
from .validation import check_references, validate


def load_plan(
    path: Path,
    blueprint: Path | None = None,
    owner_commands: Path | None = None,
    intents: Sequence[str] = (),
) -> Plan:
    """Load a scenario file, a plan file or a reference demo file (a mission plan, or a
    fabric config with `blueprint` and `owner_commands`), recognised by content. `intents`
    are operator sentences added to a scenario's own `intents:`."""
    raw = read_document(path)
    if isinstance(raw, dict) and "plan_id" in raw and "format" in raw:
        _no_reference_options(path, "a plan file", blueprint, owner_commands)
        if intents:
            raise BadInput(
                f"--intent: {path} is a plan file, already reviewed",
                "give intents with the scenario it was planned from",
            )
        return _plan_from_document(path, raw)
    from . import reference

    kind = reference.kind_of(raw)
    if kind is not None:
        if intents:
            raise BadInput(
                f"--intent: {path} is a reference demo file",
                "migrate it with `agijobs plan FILE --emit-scenario S.yaml`, then plan S.yaml "
                "with intents",
            )
        if kind == "mission":
            _no_reference_options(path, "a reference mission plan", blueprint, owner_commands)
            translation = reference.translate_mission(path, raw)
        else:
            translation = reference.translate_fabric(path, raw, blueprint, owner_commands)
        plan = _plan_from_scenario(path, translation.scenario)
        sources = [source_digest(p) for p in (path, blueprint, owner_commands) if p is not None]
        plan = build_plan(plan.scenario, plan.expect, sources=sources)
        return dataclasses.replace(
            plan,
            notices=translation.notices,
            translated=translation.scenario,
            schedule_origins=translation.origins,
        )
    _no_reference_options(path, "an agijobs scenario", blueprint, owner_commands)
    return _plan_from_scenario(path, raw, intents)


def _no_reference_options(
    path: Path, what: str, blueprint: Path | None, owner_commands: Path | None
) -> None:
    given = [
        flag
        for flag, value in (("--blueprint", blueprint), ("--owner-commands", owner_commands))
        if value
    ]
    if given:
        raise BadInput(
            f"{' and '.join(given)}: only for a reference fabric config; {path} is {what}",
            "drop the option (a mission plan names its blueprint and commands itself)",
        )


def _plan_from_scenario(path: Path, raw: Any, more_intents: Sequence[str] = ()) -> Plan:
    if not isinstance(raw, dict):
        raise BadInput(
            f"{path}: expected a mapping at the top level (got {type(raw).__name__})",
            "a scenario starts with `name:`, `fabric:` and `workload:`",
        )
    sources = [source_digest(path)] if path.is_file() else []
    if isinstance(raw.get("fabric"), str):
        fabric_path = (path.parent / raw["fabric"]).resolve()
        fabric_raw = read_document(fabric_path)
        validate(fabric_path, FabricSpec, fabric_raw, prefix=())
        sources.append(source_digest(path.parent / raw["fabric"]))  # as named: portable
        raw = {**raw, "fabric": fabric_raw}
    parsed = validate(path, ScenarioFile, raw, prefix=())
    scenario = Scenario.model_validate(
        {
            k: v
            for k, v in parsed.model_dump(by_alias=True).items()
            if k not in ("expect", "intents")
        }
    )
    check_references(path, scenario)
    expect = parsed.expect
    reviewed: list[dict[str, Any]] = []
    intents = [*parsed.intents, *more_intents]
    if intents:
        scenario, expect, reviewed = with_intents(path, scenario, expect, intents, now=None)
    return build_plan(scenario, expect, intents=reviewed, sources=sources)


def with_intents(
    label: Path,
    scenario: Scenario,
    expect: Expectations,
    intents: Sequence[str],
    now: int | None,
) -> tuple[Scenario, Expectations, list[dict[str, Any]]]:
    """The scenario and expectations with operator sentences translated into schedule
    entries, triggers, faults and expectations; and each sentence beside what it became."""
    from .intents import parse_intent

    shards = [s.id for s in scenario.fabric.shards]
    shards += [
        e.command.shard.id for e in scenario.schedule if isinstance(e.command, ShardRegister)
    ]
    nodes = [n.id for n in scenario.fabric.nodes]
    nodes += [e.command.node.id for e in scenario.schedule if isinstance(e.command, NodeRegister)]
    scenario_doc = scenario.model_dump(mode="json", by_alias=True)
    expect_doc = expect.model_dump(mode="json")
    reviewed = []
    for text in intents:
        intent = parse_intent(text, shards, nodes, now)
        if intent.kind in ("schedule", "trigger"):
            scenario_doc["schedule"].append(intent.entry)
        elif intent.kind == "fault":
            scenario_doc["faults"].append(intent.entry)
        else:
            expect_doc.update(intent.entry)
        reviewed.append(
            {"text": text, "kind": intent.kind, "became": intent.summary, "entry": intent.entry}
        )
    resolved = validate(label, Scenario, scenario_doc, prefix=())
    check_references(label, resolved)
    return resolved, validate(label, Expectations, expect_doc, prefix=("expect",)), reviewed


def plan_from_bytes(label: str, data: bytes) -> Plan:
    """Load a plan document held in memory (e.g. a storage's run-plan.json), validated."""
    return _plan_from_document(Path(label), decode_plan(label, data))


def validate_scenario_document(label: str, document: Any) -> Scenario:
    """A scenario document as a plan holds it, validated."""
    scenario = validate(Path(label), Scenario, document, prefix=("scenario",))
    check_references(Path(label), scenario)
    return scenario


def build_plan(
    scenario: Scenario,
    expect: Expectations,
    predicted: dict[str, Any] | None = None,
    *,
    intents: Sequence[dict[str, Any]] = (),
    sources: Sequence[dict[str, str]] = (),
    version: str | None = None,
) -> Plan:
    """The plan document: the resolved scenario, its expectations, the operator intents it
    came from (each beside what it became), the prediction and the agijobs version;
    `plan_id` is the sha256 of all that. Beside it: the source files' digests, so `run` can
    tell a stale plan."""
    scenario_doc = scenario.model_dump(mode="json", by_alias=True)
    expect_doc = expect.model_dump(mode="json")
    document: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "scenario": scenario_doc,
        "expect": expect_doc,
    }
    if intents:
        document["intents"] = list(intents)
    if predicted is not None:
        document["predicted"] = predicted
    if version is not None:
        document["agijobs_version"] = version
    plan_id = sha256_hex(dumps(document))
    document["plan_id"] = plan_id
    source = ScenarioSource(scenario_doc, model=scenario)
    if sources:
        # Provenance, outside plan_id (as signatures are): the same scenario saved under
        # another name is the same plan.
        document["sources"] = list(sources)
    return Plan(
        source,
        source.inputs(),
        sha256_hex(dumps(scenario_doc)),
        plan_id,
        document,
        intents=tuple(intents),
        sources=tuple(sources),
        validated_expect=expect,
    )


def source_digest(path: Path) -> dict[str, str]:
    return {"path": str(path), "sha256": sha256_hex(read_input_file(path))}


def check_fresh(plan: Plan, label: Path) -> None:
    """`run PLAN` refuses a plan whose source files changed since planning (exit 4)."""
    for source in plan.sources:
        path = Path(source["path"])
        if path.is_file() and sha256_hex(read_input_file(path)) != source["sha256"]:
            raise Conflict(
                f"{label}: plan is stale: {path} changed since it was planned",
                f"re-run `agijobs plan {plan.sources[0]['path']}`",
            )


def _plan_from_document(path: Path, raw: dict[str, Any]) -> Plan:
    check_identity(str(path), raw)
    scenario = validate(path, Scenario, raw.get("scenario"), prefix=("scenario",))
    expect = validate(path, Expectations, raw.get("expect", {}), prefix=("expect",))
    check_references(path, scenario)
    plan = build_plan(
        scenario,
        expect,
        raw.get("predicted"),
        intents=raw.get("intents", ()),
        sources=raw.get("sources", ()),
        version=raw.get("agijobs_version"),
    )
    if plan.plan_id != raw["plan_id"]:
        raise BadInput(
            f"{path}: the plan is not in canonical form",
            "run `agijobs plan SCENARIO` again to write a fresh plan",
        )
    return dataclasses.replace(plan, signatures=check_signatures(str(path), raw))
