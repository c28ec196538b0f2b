"""`agijobs plan`: validate, dry-run in memory, write the reviewed plan."""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..__about__ import __version__
from ..errors import BadInput, Refused
from ..fabric.engine import Engine
from ..ledger.canonical import dumps
from ..ledger.signing import plan_message, sign
from ..scenario.loading import build_plan, load_plan, with_intents
from ..scenario.models import Expectations, Scenario
from ..scenario.plan import Plan, governance_of
from ..store import Store
from ..store.files import RUN_PLAN, atomic_write
from ..store.memory import MemoryStore
from ..views.summary import check_expectations
from .capacity import check_memory
from .keys import LoadedKey, load_key
from .loading import load_run
from .runner import Runner, RunOptions
from .simulation import simulate


def make_plan(
    source: Path,
    out: Path,
    *,
    blueprint: Path | None = None,
    owner_commands: Path | None = None,
    emit_scenario: Path | None = None,
    sign: list[str] | None = None,
    intents: Sequence[str] = (),
) -> dict[str, Any]:
    """Write the plan for `source` to `out`, with the dry run's predicted outcome; for a
    reference demo file, also the equivalent agijobs scenario to `emit_scenario`."""
    plan = load_plan(source, blueprint, owner_commands, intents)
    signers = [load_key(ref, "--sign") for ref in sign or ()]  # bad keys before any work
    if emit_scenario is not None and plan.translated is None:
        raise BadInput(
            f"--emit-scenario: {source} is already an agijobs scenario or plan",
            "--emit-scenario translates a reference mission plan or fabric config",
        )
    writable_file("--out", out)
    if emit_scenario is not None:
        writable_file("--emit-scenario", emit_scenario)
    check_memory(plan, str(source))  # the dry run holds the jobs as the run would
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
    reviewed = build_plan(
        plan.scenario,
        plan.expect,
        predicted,
        intents=plan.intents,
        sources=plan.sources,
        version=__version__,
    )
    signatures = _signatures(plan, reviewed.plan_id, signers)
    reviewed = dataclasses.replace(reviewed, signatures=tuple(signatures))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, reviewed.to_bytes())
    if emit_scenario is not None and plan.translated is not None:
        from ..scenario.reference import Translation, emit_yaml

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
        "intents": list(plan.intents),
        "signed_by": [entry["key"] for entry in signatures],
        "signatures_needed": _needed(plan),
    }


def writable_file(option: str, path: Path) -> None:
    """Refuse an output path that is not a regular file or a new one: the plan is written
    beside it and renamed over it, which would replace a device or FIFO (as root, even
    /dev/null) with a plain file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise BadInput(f"{option}: {path}: {exc.strerror}", "choose another path") from None
    if stat.S_ISDIR(mode):
        raise BadInput(f"{option}: {path} is a directory", f"name a file, e.g. {path}/plan.json")
    if not stat.S_ISREG(mode):
        raise BadInput(
            f"{option}: {path} is not a regular file (a device, FIFO or socket)",
            "name a file to write; use --json to print the result",
        )


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


# ------------------------------------------------------------------ what-if


def what_if(store: Store, intents: Sequence[str], out: Path | None = None) -> dict[str, Any]:
    """Predict a stored run from its checkpoint onwards, with and without `intents`
    ("now" is the checkpoint's tick + 1). Reads the storage, never writes to it."""
    if not intents:
        raise BadInput(
            "--from-storage: no --intent given", "say what to try, e.g. --intent 'resume now'"
        )
    if out is not None:
        writable_file("--out", out)
    loaded = load_run(store)
    plan = loaded.plan
    state = None if loaded.checkpoint is None else loaded.full_state()
    tick = 0 if state is None else int(state["tick"])
    label = Path(f"{store.location}/{RUN_PLAN}")
    scenario, expect, reviewed = with_intents(label, plan.scenario, plan.expect, intents, tick + 1)
    for entry in reviewed:
        at = entry["entry"].get("tick")
        if at is not None and at <= tick:
            raise BadInput(
                f'intent "{entry["text"]}": tick {at} is already past (the storage is at tick '
                f"{tick})",
                f"use a tick after {tick}, or `now` ({tick + 1})",
            )
    report = {
        "storage": store.location,
        "from_tick": tick,
        "now": tick + 1,
        "intents": reviewed,
        "without": _predict(plan.scenario, plan.expect, state),
        "with": _predict(scenario, expect, state),
    }
    if out is not None:
        report["written_to"] = str(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, dumps(report) + b"\n")
    return report


def _predict(
    scenario: Scenario, expect: Expectations, state: dict[str, Any] | None
) -> dict[str, Any]:
    """The runner itself on a store that keeps nothing, from `state` (None: tick 0)."""
    # A golden digest describes a whole run from tick 0, never this partial one.
    plan = build_plan(scenario, expect.model_copy(update={"events_digest": None}))
    engine = Engine(plan.inputs) if state is None else Engine.restore(plan.inputs, state)
    start = engine.state.tick
    busy_until: dict[str, int] = {}

    def watch(engine: Engine, seq: int) -> None:
        for shard in engine.state.shards.values():
            if shard.queued.count or shard.in_flight.count:
                busy_until[shard.id] = engine.state.tick

    runner = Runner(MemoryStore(), plan, engine, RunOptions(progress=watch))
    outcome = runner.loop()
    summary = outcome.summary
    failures, _ = check_expectations(plan, summary)
    shards = {}
    for shard in engine.state.shards.values():
        empty = not (shard.queued.count or shard.in_flight.count)
        shards[shard.id] = {
            # The first tick it holds no job (None: never, within this prediction); a shard
            # idle throughout is drained already, at the starting tick.
            "drained_at": (busy_until[shard.id] + 1 if shard.id in busy_until else start)
            if empty
            else None,
            "completed": shard.completed.count,
            "failed": shard.failed.count,
            "queued": shard.queued.count,
            "in_flight": shard.in_flight.count,
            "spilled_in": shard.spilled_in.count,
            "spilled_out": shard.spilled_out.count,
        }
    return {
        "status": summary["status"],
        "reason": summary["reason"],
        "tick": summary["tick"],
        "jobs": summary["jobs"],
        "spillovers": summary["spillovers"],
        "cost": summary["cost"],
        "shards": shards,
        "expect": {"held": not failures, "failures": failures},
    }
