"""Owner commands: typed, validated against the live state, applied as one `owner.*` event.

Each handler validates its command against the current state before it changes anything; an
invalid one raises `BadInput` and leaves the state untouched. Each applied command records
its input (who, why, when issued) and its effect (before/after values, jobs moved or
cancelled). Repeating a command that changes nothing ("already paused") is recorded with
`"changed": false` and is not an error.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from .authority import governance_problems
from .inputs import BATCH, CommandInput
from .intake import job_submit
from .nodes import node_cordon, node_drain, node_uncordon
from .state import (
    RUNNING,
    Job,
    PauseRecord,
    Shard,
    by_qseq,
    refill_queues,
    remove_queued,
    take_queued,
)
from .topology import (
    FollowUps,
    cancel_job,
    change_budget,
    node_deregister,
    node_register,
    node_update,
    shard_deregister,
    shard_named,
    shard_register,
    shard_update,
)

if TYPE_CHECKING:
    from .moves import Moves

# Validates against the current state (raising BadInput before any change), then applies
# and returns the effect recorded in the command's event.
Handler = Callable[["Moves", "CommandInput", FollowUps], dict[str, Any]]


def batch(parts: list[tuple[str, dict[str, Any], str]], template: CommandInput) -> CommandInput:
    """One input carrying several (name, args, reason) commands, for `agijobs apply`."""
    raw = [{"command": name, "args": args, "reason": reason} for name, args, reason in parts]
    return CommandInput(
        BATCH,
        {"commands": raw},
        f"{len(raw)} commands applied together",
        template.actor,
        template.source,
        template.issued_at,
        template.id,
        template.auth,
    )


def batch_parts(command: CommandInput) -> list[CommandInput]:
    return [
        CommandInput(
            part["command"],
            part["args"],
            part["reason"],
            command.actor,
            command.source,
            command.issued_at,
            command.id,
            command.auth,
        )
        for part in command.args["commands"]
    ]


def apply(engine: Moves, command: CommandInput) -> None:
    """Validate and apply `command`, emitting its `owner.*` event (and its job moves)."""
    handler = HANDLERS.get(command.name)
    if handler is None:
        raise BadInput(
            f"unknown owner command `{command.name}`", f"use one of {', '.join(HANDLERS)}"
        )
    if not command.reason.strip():
        raise BadInput("a reason is required", "pass --reason 'why this is done'")
    follow_ups: FollowUps = []
    effect = handler(engine, command, follow_ups)  # raises before any change
    _count_source(engine, command)
    engine.state.owner_actions += 1
    engine.emit(f"owner.{command.name}", {"input": command.to_json(), "effect": effect})
    for kind, data in follow_ups:
        engine.emit(kind, data)


def reject(engine: Moves, command: CommandInput, error: BadInput) -> None:
    """A live command that no longer applies is recorded, never silently dropped."""
    _count_source(engine, command)
    engine.emit("owner.rejected", {"input": command.to_json(), "error": error.render()})


def _count_source(engine: Moves, command: CommandInput) -> None:
    if command.source != "schedule":
        engine.state.outside_commands += 1


def _job(engine: Moves, args: dict[str, Any], where: str = "job") -> Job:
    """The live job a `job`/`locator` argument names."""
    locator = args.get("locator")
    if locator is None:
        job = engine.state.jobs.get(args["job"])
        if job is None:
            raise BadInput(
                f"{where}: no queued or running job `{args['job']}`",
                "ids look like `earth-finance-000042`; a completed, failed or cancelled job "
                "cannot change",
            )
        return job
    shard = shard_named(engine, locator["shard"], "locator -> shard")
    line: list[Job] = [job for queue in shard.active.values() for job in queue]
    line.extend(job for queue in shard.waiting.values() for job in queue)
    in_flight = bool(locator.get("include_in_flight"))
    if in_flight:
        line.extend(job for node in shard.nodes for job in node.running.values())
    offset = int(locator["offset"])
    if offset >= len(line):
        what = "queued or running" if in_flight else "queued"
        raise BadInput(
            f"locator -> offset: {offset} is past the end of shard `{shard.id}`: it has "
            f"{len(line)} {what} job(s)",
            f"use an offset below {len(line)}" if line else "the shard has no job to pick",
        )
    # The line is in FIFO order (qseq); the tail's offset 0 is its newest job.
    return heapq.nlargest(offset + 1, line, key=by_qseq)[-1]


# ------------------------------------------------------------- the fabric


def _pause_all(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    return _set_paused(engine, command, True)


def _resume(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    return _set_paused(engine, command, False)


def _set_paused(engine: Moves, command: CommandInput, paused: bool) -> dict[str, Any]:
    state = engine.state
    before = state.paused
    state.paused = paused
    state.pause = pause_record(engine, command, state.pause) if paused else None
    return {"paused": [before, paused], "changed": before != paused}


def _shard_paused(paused: bool) -> Handler:
    def handler(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
        shard = shard_named(engine, command.args["shard"], "shard")
        before = shard.paused
        shard.paused = paused
        shard.pause = pause_record(engine, command, shard.pause) if paused else None
        return {"shard": shard.id, "paused": [before, paused], "changed": before != paused}

    return handler


def pause_record(engine: Moves, command: CommandInput, in_force: PauseRecord | None) -> PauseRecord:
    """What `status` says of a pause: the one in force stays (pausing again changes nothing,
    not even since when); a new one is this command's."""
    if in_force is not None:
        return in_force
    return {
        "tick": engine.state.tick,
        "command": command.name,
        "actor": command.actor,
        "reason": command.reason,
        "source": command.source,
        "issued_at": command.issued_at,
    }


def _set_latency(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    shard = shard_named(engine, command.args["shard"], "--shard")
    before, after = shard.budget_ms, int(command.args["ms"])
    ineligible, eligible = change_budget(engine, shard, after, follow_ups)
    return {
        "budget_ms": [before, after],
        "changed": before != after,
        "ineligible": ineligible,
        "eligible": eligible,
    }


# ------------------------------------------------------------------- jobs


def _job_cancel(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    job = _job(engine, command.args)
    shard = engine.state.shards[job.shard]
    node = job.node
    if job.state == RUNNING:
        assert node is not None
        del engine.state.nodes[node].running[job.id]
    else:
        remove_queued(shard, job)
    cancel_job(engine, shard, job, follow_ups)
    return {"job": job.id, "shard": shard.id, "node": node, "changed": True}


def _job_reroute(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    job = _job(engine, command.args)
    return _move_one(engine, job, command.args["to"], follow_ups)


def _move_one(engine: Moves, job: Job, to: str, follow_ups: FollowUps) -> dict[str, Any]:
    """Move one job (pulling it off its node, keeping its progress) to a shard that can serve
    it; a shard that cannot leaves the job where it is, reported, never parked where it
    would wait forever."""
    source = engine.state.shards[job.shard]
    target = shard_named(engine, to, "to")
    if target is source:
        raise BadInput(f"to: job `{job.id}` is already in shard `{to}`", "name another shard")
    effect: dict[str, Any] = {"job": job.id, "from": source.id, "to": target.id}
    if not engine.can_serve(target, job.skills):
        return {
            **effect,
            "moved": 0,
            "left_unservable": 1,
            "pulled_from_node": None,
            "changed": False,
            "note": f"no eligible node in `{target.id}` has skills {list(job.skills)}",
        }
    pulled_from = job.node if job.state == RUNNING else None
    if job.state == RUNNING:
        engine.pull(job)
    else:
        remove_queued(source, job)
    engine.move(job, source, target, "reroute", follow_ups)
    return {
        **effect,
        "moved": 1,
        "left_unservable": 0,
        "pulled_from_node": pulled_from,
        "changed": True,
    }


# --------------------------------------------------------- checkpoint, reporting


def _checkpoint_save(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    engine.state.checkpoint_requested = True
    return {"tick": engine.state.tick, "changed": True}


def _checkpoint_configure(
    engine: Moves, command: CommandInput, follow_ups: FollowUps
) -> dict[str, Any]:
    before, after = engine.state.checkpoint_every, int(command.args["every"])
    engine.state.checkpoint_every = after
    return {"every": [before, after], "changed": before != after}


def _reporting_configure(
    engine: Moves, command: CommandInput, follow_ups: FollowUps
) -> dict[str, Any]:
    before, after = engine.state.report_label, str(command.args["label"])
    engine.state.report_label = after
    return {"label": [before, after], "changed": before != after}


def _runner_keys(keys: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(k["name"], k["public_key"]) for k in keys if "runner" in k["roles"]]


def _governance_update(
    engine: Moves, command: CommandInput, follow_ups: FollowUps
) -> dict[str, Any]:
    governance = engine.state.governance
    if governance is None:
        raise BadInput(
            "governance.update: this fabric declares no keys (open mode); there is nothing "
            "to change",
            "declare owner keys in the fabric config and start a new run",
        )
    before = governance.config_json()
    args = command.args
    approvals = before["approvals"]
    if "approvals" in args:
        given = {canonical_name(k): v for k, v in args["approvals"].items()}
        approvals = {"default": approvals["default"], **given}
    config = {
        "keys": args.get("keys", before["keys"]),
        "approvals": approvals,
        "operator_may": [
            canonical_name(n) for n in args.get("operator_may", before["operator_may"])
        ],
        "proposal_expiry_ticks": args.get("proposal_expiry_ticks", before["proposal_expiry_ticks"]),
    }
    problems = governance_problems(
        config["keys"], config["approvals"], config["operator_may"], COMMAND_NAMES
    )
    if _runner_keys(config["keys"]) != _runner_keys(before["keys"]):
        # Checkpoints are verified against the runner key the signed plan declares.
        problems.append("the runner key is fixed by the run's plan: start a new run to change it")
    if problems:
        raise BadInput(f"governance.update: {'; '.join(problems)}", "fix the new key set")
    governance.reconfigure(config)
    after = governance.config_json()
    return {"changed": before != after, "before": before, "after": after}


def _reroute(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    args = command.args
    source = shard_named(engine, args["from"], "--from")
    if args.get("clear"):
        before = source.reroute_target
        source.reroute_target = None
        engine.topology_changed()
        return {
            "reroute_target": [before, None],
            "first_target": [_first_target(source, before), _first_target(source, None)],
            "changed": before is not None,
        }
    target = shard_named(engine, args["to"], "--to")
    job_id = args.get("job")
    if job_id is not None:
        job = _job(engine, {"job": job_id}, "--job")
        if job.shard != source.id:
            raise BadInput(
                f"--job: job `{job_id}` is in shard `{job.shard}`, not `{source.id}`",
                f"use --from {job.shard}",
            )
        return _move_one(engine, job, target.id, follow_ups)
    before = source.reroute_target
    first_before = _first_target(source, before)
    source.reroute_target = target.id
    backlog = args.get("backlog")
    limit = 0 if backlog is None else (source.queued.count if backlog == "all" else int(backlog))
    moved = left_unservable = left_full = 0
    if limit > 0:
        keep: list[Job] = []
        for job in take_queued(source):
            if moved + left_full >= limit:  # the N asked for are moved or reported
                keep.append(job)
            elif not engine.can_serve(target, job.skills):
                left_unservable += 1
                keep.append(job)
            elif target.queued.count >= target.max_queue:
                left_full += 1
                keep.append(job)
            else:
                moved += 1
                engine.move(job, source, target, "reroute", follow_ups)
        refill_queues(source, keep)
    engine.topology_changed()
    return {
        "reroute_target": [before, target.id],
        "first_target": [first_before, target.id],
        "changed": before != target.id or moved > 0,
        "moved": moved,
        "left_unservable": left_unservable,
        "left_full": left_full,
    }


def _first_target(shard: Shard, reroute_target: str | None) -> str | None:
    """The first spillover target in effect with this reroute target (None: no target)."""
    if reroute_target is not None:
        return reroute_target
    return shard.policies[0].target if shard.policies else None


HANDLERS: dict[str, Handler] = {
    "pause-all": _pause_all,
    "resume": _resume,
    "reroute": _reroute,
    "set-latency": _set_latency,
    "shard.pause": _shard_paused(True),
    "shard.resume": _shard_paused(False),
    "shard.register": shard_register,
    "shard.deregister": shard_deregister,
    "shard.update": shard_update,
    "node.register": node_register,
    "node.update": node_update,
    "node.deregister": node_deregister,
    # Node operations (agijobs.fabric.nodes)
    "node.cordon": node_cordon,
    "node.uncordon": node_uncordon,
    "node.drain": node_drain,
    "job.submit": job_submit,
    "job.cancel": _job_cancel,
    "job.reroute": _job_reroute,
    "checkpoint.save": _checkpoint_save,
    "checkpoint.configure": _checkpoint_configure,
    "reporting.configure": _reporting_configure,
    "governance.update": _governance_update,
}
# The owner commands' vocabulary: the boundary's command models (agijobs.scenario) cover exactly
# these names, in this order.
COMMAND_NAMES = tuple(HANDLERS)
# Owner commands that read and change no job, so an engine restored without its jobs can
# apply them at rest: restoring a 100k-job backlog was most of what they cost.
JOBLESS = frozenset(
    {
        "pause-all",
        "resume",
        "set-latency",
        "shard.pause",
        "shard.resume",
        "checkpoint.save",
        "checkpoint.configure",
        "reporting.configure",
        # Node operations read no job either (their effects name none).
        "node.cordon",
        "node.uncordon",
        "node.drain",
    }
)
# ... and commands that only add jobs at the back of their queues, which an engine restored
# without its jobs can apply when it holds the job table (`snapshot` merges the rows).
ADDS_JOBS = frozenset({"job.submit"})
# The reference demo's names for the two fabric-wide commands.
ALIASES = {"system.pause": "pause-all", "system.resume": "resume"}


def canonical_name(name: Any) -> Any:
    return ALIASES.get(name, name) if isinstance(name, str) else name
