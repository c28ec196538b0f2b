"""`agijobs plan`: validate, dry-run in memory, write the reviewed plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .runner import simulate
from .scenario import build_plan, load_plan
from .store.files import atomic_write
from .summary import check_expectations


def make_plan(source: Path, out: Path) -> dict[str, Any]:
    """Write the plan for `source` to `out`, with the dry run's predicted outcome."""
    plan = load_plan(source)
    outcome = simulate(plan)
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
    return {
        "plan_id": reviewed.plan_id,
        "path": str(out),
        "name": plan.scenario.name,
        "predicted": predicted,
    }
