"""`agijobs plan`: validate, dry-run in memory, write the reviewed plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BadInput
from .runner import simulate
from .scenario import build_plan, load_plan
from .store.files import atomic_write
from .summary import check_expectations


def make_plan(
    source: Path,
    out: Path,
    *,
    blueprint: Path | None = None,
    owner_commands: Path | None = None,
    emit_scenario: Path | None = None,
) -> dict[str, Any]:
    """Write the plan for `source` to `out`, with the dry run's predicted outcome; for a
    reference demo file, also the equivalent agijobs scenario to `emit_scenario`."""
    plan = load_plan(source, blueprint, owner_commands)
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
    }
