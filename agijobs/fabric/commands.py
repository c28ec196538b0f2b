"""Owner commands: typed, validated against the live state, applied as one `owner.*` event.

Each handler validates its command against the current state before it changes anything; an
invalid one raises `BadInput` and leaves the state untouched. Each applied command records
its input (who, why, when issued) and its effect (before/after values, jobs moved or
cancelled). Repeating a command that changes nothing ("already paused") is recorded with
`"changed": false` and is not an error.
"""

from __future__ import annotations

import difflib
import heapq
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from .authority import governance_problems
from .inputs import BATCH, CommandInput
from .state import (
    DONE,
    QUEUED,
    RUNNING,
    Job,
    Node,
    Policy,
    Shard,
    default_alert_threshold,
    node_from_spec,
    policy_from_spec,
    queue_key,
    shard_from_spec,
)

if TYPE_CHECKING:
    from .moves import Moves

FollowUps = list[tuple[str, dict[str, Any]]]
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


# ------------------------------------------------------------------ lookups


def _shard(engine: Moves, name: str, where: str) -> Shard:
    """An active (not deregistered) shard, or `BadInput` naming `where` it was given."""
    shard = engine.state.shards.get(name)
    if shard is not None and shard.retired:
        raise BadInput(
            f"{where}: shard `{name}` was deregistered", "name a registered shard (see status)"
        )
    if shard is None:
        active = [s.id for s in engine.state.shards.values() if not s.retired]
        close = difflib.get_close_matches(name, active, n=1)
        hint = f"did you mean `{close[0]}`?" if close else "known: " + ", ".join(active)
        raise BadInput(f"{where}: unknown shard `{name}`", hint)
    return shard


def _node(engine: Moves, name: str) -> Node:
    node = engine.state.nodes.get(name)
    if node is None:
        close = difflib.get_close_matches(name, list(engine.state.nodes), n=1)
        hint = f"did you mean `{close[0]}`?" if close else "known: " + ", ".join(engine.state.nodes)
        raise BadInput(f"node: unknown node `{name}`", hint)
    return node


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
    shard = _shard(engine, locator["shard"], "locator -> shard")
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
    return heapq.nlargest(offset + 1, line, key=_qseq)[-1]


def _qseq(job: Job) -> int:
    return job.qseq


def _sorted_by_id(items: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(items.items()))


# ------------------------------------------------------------- the fabric


def _pause_all(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    return _set_paused(engine, True)


def _resume(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    return _set_paused(engine, False)


def _set_paused(engine: Moves, paused: bool) -> dict[str, Any]:
    before = engine.state.paused
    engine.state.paused = paused
    return {"paused": [before, paused], "changed": before != paused}


def _shard_paused(paused: bool) -> Handler:
    def handler(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
        shard = _shard(engine, command.args["shard"], "shard")
        before = shard.paused
        shard.paused = paused
        return {"shard": shard.id, "paused": [before, paused], "changed": before != paused}

    return handler


def _set_latency(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    shard = _shard(engine, command.args["shard"], "--shard")
    before, after = shard.budget_ms, int(command.args["ms"])
    ineligible, eligible = _change_budget(engine, shard, after, follow_ups)
    return {
        "budget_ms": [before, after],
        "changed": before != after,
        "ineligible": ineligible,
        "eligible": eligible,
    }


def _change_budget(
    engine: Moves, shard: Shard, after: int, follow_ups: FollowUps
) -> tuple[list[str], list[str]]:
    before = shard.budget_ms
    shard.budget_ms = after
    ineligible, eligible = [], []
    for node in shard.nodes:
        was_ok, is_ok = node.latency_ms <= before, node.latency_ms <= after
        if was_ok and not is_ok:
            ineligible.append(node.id)
            follow_ups.append(("node.latency.breach", engine.latency_data(node)))
        elif is_ok and not was_ok:
            eligible.append(node.id)
            follow_ups.append(("node.latency.ok", engine.latency_data(node)))
    if before != after:
        engine.topology_changed()
    return ineligible, eligible


# ----------------------------------------------------------------- shards


def _policies(engine: Moves, shard_id: str, raw: list[dict[str, Any]], where: str) -> list[Policy]:
    policies = []
    for i, spec in enumerate(raw):
        if spec["target"] == shard_id:
            raise BadInput(
                f"{where} -> {i} -> target: a shard cannot spill over to itself",
                "name another shard",
            )
        _shard(engine, spec["target"], f"{where} -> {i} -> target")
        policies.append(policy_from_spec(spec))
    return policies


def _shard_register(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    spec = command.args["shard"]  # validated at the boundary, as a scenario's shard is
    shard_id = spec["id"]
    if shard_id in engine.state.shards:
        raise BadInput(
            f"shard -> id: shard `{shard_id}` already exists",
            "pick a new id (a deregistered shard's id stays taken: its history is kept)",
        )
    policies = _policies(engine, shard_id, spec.get("spillover", []), "spillover")
    state = engine.state
    state.shards[shard_id] = shard_from_spec(spec, policies)
    state.shards = _sorted_by_id(state.shards)  # routing visits shards in id order
    engine.topology_changed()
    return {"shard": shard_id, "changed": True}


def _shard_update(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    shard = _shard(engine, command.args["shard"], "shard")
    update = command.args["update"]
    max_queue = update.get("max_queue", shard.max_queue)
    alert = update.get("alert_threshold", shard.alert_threshold)
    if "max_queue" in update and "alert_threshold" not in update and alert > max_queue:
        alert = default_alert_threshold(max_queue)
    if alert > max_queue:
        raise BadInput(
            f"update -> alert_threshold: {alert} would exceed max_queue ({max_queue})",
            "lower alert_threshold or raise max_queue in the same update",
        )
    policies = (
        _policies(engine, shard.id, update["spillover"], "update -> spillover")
        if "spillover" in update
        else shard.policies
    )
    changes: dict[str, list[Any]] = {}

    def note(name: str, before: Any, after: Any) -> None:
        if before != after:
            changes[name] = [before, after]

    note("name", shard.name, update.get("name", shard.name))
    note("max_queue", shard.max_queue, max_queue)
    note("alert_threshold", shard.alert_threshold, alert)
    note("spillover", [p.to_json() for p in shard.policies], [p.to_json() for p in policies])
    shard.name = update.get("name", shard.name)
    shard.max_queue, shard.alert_threshold, shard.policies = max_queue, alert, policies
    ineligible: list[str] = []
    eligible: list[str] = []
    if "latency_budget_ms" in update:
        before = shard.budget_ms
        ineligible, eligible = _change_budget(
            engine, shard, update["latency_budget_ms"], follow_ups
        )
        note("latency_budget_ms", before, shard.budget_ms)
    if changes:
        engine.topology_changed()
    return {
        "shard": shard.id,
        "changes": changes,
        "changed": bool(changes),
        "ineligible": ineligible,
        "eligible": eligible,
    }


def _shard_deregister(
    engine: Moves, command: CommandInput, follow_ups: FollowUps
) -> dict[str, Any]:
    shard = _shard(engine, command.args["shard"], "shard")
    redistribution = command.args["redistribution"]
    target = None
    if redistribution["mode"] == "spillover":
        if redistribution["target"] == shard.id:
            raise BadInput(
                "redistribution -> target: the jobs must go to another shard", "name another shard"
            )
        target = _shard(engine, redistribution["target"], "redistribution -> target")
    state = engine.state
    removed_nodes = [node.id for node in shard.nodes]
    requeued = _remove_nodes(engine, list(shard.nodes), follow_ups)
    moved: list[str] = []
    cancelled: list[str] = []
    for job in _take_queued(shard):
        if target is not None:
            engine.move(job, shard, target, "deregister", follow_ups)
            moved.append(job.id)
        else:
            _cancel(engine, shard, job, follow_ups)
            cancelled.append(job.id)
    shard.retired, shard.forward_to, shard.paused = True, target.id if target else None, False
    shard.reroute_target = None
    policies_removed = []
    for other in state.shards.values():
        if any(p.target == shard.id for p in other.policies):
            other.policies = [p for p in other.policies if p.target != shard.id]
            policies_removed.append(other.id)
        if other.reroute_target == shard.id:
            other.reroute_target = None
            policies_removed.append(other.id)
    engine.topology_changed()
    return {
        "shard": shard.id,
        "mode": redistribution["mode"],
        "target": target.id if target else None,
        "nodes_removed": removed_nodes,
        "requeued": requeued,
        "jobs_moved": moved,
        "jobs_cancelled": cancelled,
        "policies_removed_from": sorted(set(policies_removed)),
        "changed": True,
    }


def _take_queued(shard: Shard) -> list[Job]:
    """Empty the shard's queues; return their jobs in FIFO order."""
    jobs = [job for queue in shard.active.values() for job in queue]
    jobs.extend(job for queue in shard.waiting.values() for job in queue)
    jobs.sort(key=_qseq)
    shard.active, shard.waiting = {}, {}
    return jobs


def _cancel(engine: Moves, shard: Shard, job: Job, follow_ups: FollowUps) -> None:
    """Cancel a live job that has been taken out of its queue or off its node."""
    was = "running" if job.state == RUNNING else "queued"
    if job.state == RUNNING:
        shard.in_flight.remove(job.value)
    else:
        shard.queued.remove(job.value)
    shard.cancelled.add(job.value)
    job.state = DONE
    job.node = None
    del engine.state.jobs[job.id]
    follow_ups.append(("job.cancelled", {"job": job.id, "shard": shard.id, "was": was}))


# ------------------------------------------------------------------ nodes


def _node_register(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    spec = command.args["node"]  # validated at the boundary, as a scenario's node is
    if spec["id"] in engine.state.nodes:
        raise BadInput(f"node -> id: node `{spec['id']}` already exists", "pick a new id")
    shard = _shard(engine, spec["shard"], "node -> shard")
    node = node_from_spec(spec)
    state = engine.state
    state.nodes[node.id] = node
    state.nodes = _sorted_by_id(state.nodes)
    shard.nodes.append(node)
    shard.nodes.sort(key=lambda n: n.id)
    engine.topology_changed()
    within = node.latency_ms <= shard.budget_ms
    return {"node": node.id, "shard": shard.id, "within_budget": within, "changed": True}


def _node_update(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    node = _node(engine, command.args["node"])
    update = command.args["update"]
    changes: dict[str, list[Any]] = {}
    if "slots" in update and update["slots"] != node.slots:
        changes["slots"] = [node.slots, update["slots"]]
        node.slots = update["slots"]
    if "skills" in update and frozenset(update["skills"]) != node.skills:
        changes["skills"] = [sorted(node.skills), sorted(set(update["skills"]))]
        node.skills = frozenset(update["skills"])
    if "heartbeat_ticks" in update and update["heartbeat_ticks"] != node.heartbeat:
        changes["heartbeat_ticks"] = [node.heartbeat, update["heartbeat_ticks"]]
        node.heartbeat = update["heartbeat_ticks"]
    if "price_per_job" in update:
        price = round(update["price_per_job"] * 1_000_000_000)
        if price != node.price_nano:
            changes["price_per_job"] = [node.price_nano / 1e9, price / 1e9]
            node.price_nano = price
    if "metadata" in update and update["metadata"] != node.metadata:
        changes["metadata"] = [node.metadata, update["metadata"]]
        node.metadata = dict(update["metadata"])
    if "latency_ms" in update and update["latency_ms"] != node.base_latency_ms:
        changes["latency_ms"] = [node.latency_ms, update["latency_ms"]]
        node.base_latency_ms = update["latency_ms"]
        follow_ups.extend(engine.node_latency_changed(node, update["latency_ms"]))
    if changes:
        engine.topology_changed()
    return {"node": node.id, "changes": changes, "changed": bool(changes)}


def _node_deregister(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    node = _node(engine, command.args["node"])
    requeued = _remove_nodes(engine, [node], follow_ups)
    engine.topology_changed()
    return {"node": node.id, "shard": node.shard, "requeued": requeued, "changed": True}


def _remove_nodes(engine: Moves, nodes: list[Node], follow_ups: FollowUps) -> list[str]:
    """Take nodes out of the fabric; their running jobs go back to the front of their shard's
    queue with their progress. Returns the ids of the jobs requeued."""
    stranded: list[Job] = []
    for node in nodes:
        for job in node.running.values():
            engine.freeze(job)
        stranded.extend(node.running.values())
    requeued = [job.id for job in sorted(stranded, key=_qseq)]
    events = engine.requeue(stranded)
    follow_ups.extend(events)
    state = engine.state
    for node in nodes:
        shard = state.shards[node.shard]
        shard.nodes = [n for n in shard.nodes if n is not node]
        del state.nodes[node.id]
    return requeued


# ------------------------------------------------------------------- jobs


def _job_cancel(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    job = _job(engine, command.args)
    shard = engine.state.shards[job.shard]
    node = job.node
    if job.state == RUNNING:
        assert node is not None
        del engine.state.nodes[node].running[job.id]
    else:
        _remove_queued(shard, job)
    _cancel(engine, shard, job, follow_ups)
    return {"job": job.id, "shard": shard.id, "node": node, "changed": True}


def _job_reroute(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    job = _job(engine, command.args)
    return _move_one(engine, job, command.args["to"], follow_ups)


def _move_one(engine: Moves, job: Job, to: str, follow_ups: FollowUps) -> dict[str, Any]:
    """Move one job (pulling it off its node, keeping its progress) to a shard that can serve
    it; a shard that cannot leaves the job where it is, reported, never parked where it
    would wait forever."""
    source = engine.state.shards[job.shard]
    target = _shard(engine, to, "to")
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
        _remove_queued(source, job)
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
    if problems:
        raise BadInput(f"governance.update: {'; '.join(problems)}", "fix the new key set")
    governance.reconfigure(config)
    after = governance.config_json()
    return {"changed": before != after, "before": before, "after": after}


def _reroute(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    args = command.args
    source = _shard(engine, args["from"], "--from")
    if args.get("clear"):
        before = source.reroute_target
        source.reroute_target = None
        engine.topology_changed()
        return {
            "reroute_target": [before, None],
            "first_target": [_first_target(source, before), _first_target(source, None)],
            "changed": before is not None,
        }
    target = _shard(engine, args["to"], "--to")
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
        for job in _queued_in_order(source):
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
        _rebuild_queues(source, keep)
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


def _queued_in_order(shard: Shard) -> list[Job]:
    jobs = [job for queue in shard.active.values() for job in queue]
    jobs.extend(job for queue in shard.waiting.values() for job in queue)
    jobs.sort(key=lambda job: job.qseq)
    shard.active, shard.waiting = {}, {}
    return jobs


def _rebuild_queues(shard: Shard, jobs: list[Job]) -> None:
    for job in jobs:
        store = shard.waiting if job.deferred else shard.active
        store.setdefault(queue_key(job), deque()).append(job)


def _remove_queued(shard: Shard, job: Job) -> None:
    assert job.state == QUEUED
    for store in (shard.active, shard.waiting):
        queue = store.get(queue_key(job))
        if queue is not None and job in queue:
            queue.remove(job)
            return


HANDLERS: dict[str, Handler] = {
    "pause-all": _pause_all,
    "resume": _resume,
    "reroute": _reroute,
    "set-latency": _set_latency,
    "shard.pause": _shard_paused(True),
    "shard.resume": _shard_paused(False),
    "shard.register": _shard_register,
    "shard.deregister": _shard_deregister,
    "shard.update": _shard_update,
    "node.register": _node_register,
    "node.update": _node_update,
    "node.deregister": _node_deregister,
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
# The reference demo's names for the two fabric-wide commands.
ALIASES = {"system.pause": "pause-all", "system.resume": "resume"}


def canonical_name(name: Any) -> Any:
    return ALIASES.get(name, name) if isinstance(name, str) else name
