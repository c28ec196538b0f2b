"""`agijobs plan`: validate, dry-run in memory, write the reviewed plan."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .errors import BadInput, Refused
from .fabric.engine import governance_of
from .keys import LoadedKey, load_key
from .runner import simulate
from .scenario import Plan, build_plan, load_plan
from .signing import plan_message, sign
from .store.files import atomic_write
from .summary import check_expectations


def make_plan(
    source: Path,
    out: Path,
    *,
    blueprint: Path | None = None,
    owner_commands: Path | None = None,
    emit_scenario: Path | None = None,
    sign: list[str] | None = None,
) -> dict[str, Any]:
    """Write the plan for `source` to `out`, with the dry run's predicted outcome; for a
    reference demo file, also the equivalent agijobs scenario to `emit_scenario`."""
    plan = load_plan(source, blueprint, owner_commands)
    signers = [load_key(ref, "--sign") for ref in sign or ()]  # bad keys before any work
    if emit_scenario is not None and plan.translated is None:
        raise BadInput(
            f"--emit-scenario: {source} is already an agijobs scenario or plan",
            "--emit-scenario translates a reference mission plan or fabric config",
        )
    outcome = simulate(plan)
    if outcome.schedule_rejections:
        # A command that is well-formed but would not apply when it comes due (a locator
        # past the end of a queue, a job already finished) is found by the dry run: refuse
        # the plan now rather than have the run record a rejection mid-way.
        origins = plan.schedule_origins
        raise BadInput(
            "\n".join(
                f"{origins[index] if origins else f'{source}: schedule -> {index}'}: "
                f"at tick {tick} it would be refused: {error}"
                for index, tick, error in outcome.schedule_rejections
            ),
            "fix or remove the entries named above",
        )
    summary = outcome.summary
    failures, _ = check_expectations(plan, summary)
    predicted = {
        "status": summary["status"],
        "reason": summary["reason"],
        "tick": summary["tick"],
        "events": summary["seq"],
        "head": summary["head"],
        "events_digest": summary["events_digest"],
        "jobs": summary["jobs"],
        "spillovers": summary["spillovers"],
        "owner_actions": summary["owner_actions"],
        "shards": summary["shards"],
        "expect": {"held": not failures, "failures": failures},
    }
    reviewed = build_plan(plan.scenario, plan.expect, predicted)
    signatures = _signatures(plan, reviewed.plan_id, signers)
    reviewed = dataclasses.replace(reviewed, signatures=tuple(signatures))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, reviewed.to_bytes())
    if emit_scenario is not None and plan.translated is not None:
        from .reference import Translation, emit_yaml

        text = emit_yaml(Translation(plan.translated, plan.notices), source)
        emit_scenario.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(emit_scenario, text.encode("utf-8"))
    return {
        "plan_id": reviewed.plan_id,
        "path": str(out),
        "name": plan.scenario.name,
        "predicted": predicted,
        "notices": list(plan.notices),
        "emitted_scenario": None if emit_scenario is None else str(emit_scenario),
        "signed_by": [entry["key"] for entry in signatures],
        "signatures_needed": _needed(plan),
    }


def _signatures(plan: Plan, plan_id: str, signers: list[LoadedKey]) -> list[dict[str, Any]]:
    """The plan's owner signatures: those it already had (re-planning a plan keeps them:
    the same content gives the same plan_id) and one per `signers` key."""
    kept = list(plan.signatures) if plan.plan_id == plan_id else []
    if not signers:
        return kept
    governance = governance_of(plan.scenario)
    if governance is None:
        raise BadInput(
            "--sign: the fabric declares no owner keys (open mode); there is nothing to sign",
            "declare keys under fabric -> owner -> keys to require signed plans",
        )
    for loaded in signers:
        key = governance.keys.get(loaded.fingerprint)
        if key is None:
            raise Refused(
                f"--sign {loaded.path}: key {loaded.fingerprint} is not in the fabric's key set",
                "sign with a key listed under fabric -> owner -> keys",
            )
        if not key.is_owner:
            raise Refused(
                f"--sign {loaded.path}: key {key.name} has role operator; plans are signed by "
                "owners",
                "sign with an owner key",
            )
        if any(entry.get("fingerprint") == key.fingerprint for entry in kept):
            continue  # Ed25519 is deterministic: the same key signs the same bytes the same
        kept.append(
            {
                "key": key.name,
                "fingerprint": key.fingerprint,
                "signature": sign(loaded.private, plan_message(plan_id)),
            }
        )
    return kept


def _needed(plan: Plan) -> int:
    governance = governance_of(plan.scenario)
    return 0 if governance is None else governance.threshold("default")
