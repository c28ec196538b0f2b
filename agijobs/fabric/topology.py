"""Owner commands that change the fabric's topology — shards and nodes registered, updated
and deregistered — and the lookups by which every owner command finds the shard or node it
names (`BadInput` naming where it was given, with a "did you mean").

Each handler validates against the current state before it changes anything (see
`agijobs.fabric.commands`, which dispatches to them).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from .inputs import CommandInput
from .state import (
    DONE,
    RUNNING,
    Job,
    Node,
    Policy,
    Shard,
    by_qseq,
    default_alert_threshold,
    node_from_spec,
    policy_from_spec,
    shard_from_spec,
    take_queued,
)

if TYPE_CHECKING:
    from .moves import Moves

FollowUps = list[tuple[str, dict[str, Any]]]


def shard_named(engine: Moves, name: str, where: str) -> Shard:
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


def node_named(engine: Moves, name: str) -> Node:
    node = engine.state.nodes.get(name)
    if node is None:
        close = difflib.get_close_matches(name, list(engine.state.nodes), n=1)
        hint = f"did you mean `{close[0]}`?" if close else "known: " + ", ".join(engine.state.nodes)
        raise BadInput(f"node: unknown node `{name}`", hint)
    return node


def sorted_by_id(items: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(items.items()))


def change_budget(
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
        shard_named(engine, spec["target"], f"{where} -> {i} -> target")
        policies.append(policy_from_spec(spec))
    return policies


def shard_register(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
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
    state.shards = sorted_by_id(state.shards)  # routing visits shards in id order
    engine.topology_changed()
    return {"shard": shard_id, "changed": True}


def shard_update(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    shard = shard_named(engine, command.args["shard"], "shard")
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
        ineligible, eligible = change_budget(engine, shard, update["latency_budget_ms"], follow_ups)
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


def shard_deregister(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    shard = shard_named(engine, command.args["shard"], "shard")
    redistribution = command.args["redistribution"]
    target = None
    if redistribution["mode"] == "spillover":
        if redistribution["target"] == shard.id:
            raise BadInput(
                "redistribution -> target: the jobs must go to another shard", "name another shard"
            )
        target = shard_named(engine, redistribution["target"], "redistribution -> target")
    state = engine.state
    removed_nodes = [node.id for node in shard.nodes]
    requeued = _remove_nodes(engine, list(shard.nodes), follow_ups)
    moved: list[str] = []
    cancelled: list[str] = []
    for job in take_queued(shard):
        if target is not None:
            engine.move(job, shard, target, "deregister", follow_ups)
            moved.append(job.id)
        else:
            cancel_job(engine, shard, job, follow_ups)
            cancelled.append(job.id)
    shard.retired, shard.forward_to, shard.paused = True, target.id if target else None, False
    shard.pause = None
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


def cancel_job(engine: Moves, shard: Shard, job: Job, follow_ups: FollowUps) -> None:
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


def node_register(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    spec = command.args["node"]  # validated at the boundary, as a scenario's node is
    if spec["id"] in engine.state.nodes:
        raise BadInput(f"node -> id: node `{spec['id']}` already exists", "pick a new id")
    shard = shard_named(engine, spec["shard"], "node -> shard")
    node = node_from_spec(spec)
    state = engine.state
    state.nodes[node.id] = node
    state.nodes = sorted_by_id(state.nodes)
    shard.nodes.append(node)
    shard.nodes.sort(key=lambda n: n.id)
    engine.topology_changed()
    within = node.latency_ms <= shard.budget_ms
    return {"node": node.id, "shard": shard.id, "within_budget": within, "changed": True}


def node_update(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    node = node_named(engine, command.args["node"])
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


def node_deregister(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    node = node_named(engine, command.args["node"])
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
    requeued = [job.id for job in sorted(stranded, key=by_qseq)]
    events = engine.requeue(stranded)
    follow_ups.extend(events)
    state = engine.state
    for node in nodes:
        shard = state.shards[node.shard]
        shard.nodes = [n for n in shard.nodes if n is not node]
        del state.nodes[node.id]
    return requeued
