"""Node operations: cordon, uncordon and drain (owner commands), the drain deadline the tick
keeps, and node health as an external executor reports it.

A cordoned node takes no new work; its running jobs carry on. A draining node is cordoned
too, and its jobs still running at the end of its deadline tick go back to the front of
their shard's queue with their progress, as the jobs of a node that went down do
(`node.drained`). Uncordoning ends both. The deadline is kept in `FabricState.drains` by
tick, as completions are, so a tick looks only at the drains that fall in it.

An executor (bridge/PROTOCOL.md) may report a node down (it missed its heartbeats) or up
again; a node it reports down takes no work and its running jobs are requeued at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .inputs import CommandInput
from .state import Job, Node
from .topology import FollowUps, node_named

if TYPE_CHECKING:
    from .moves import Moves


def schedulable(node: Node) -> str:
    """A node's scheduling state as the effects, status and describe say it."""
    if node.drain_tick:
        return "draining"
    return "cordoned" if node.cordoned else "schedulable"


def node_cordon(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    node = node_named(engine, command.args["node"])
    before = schedulable(node)
    if not node.cordoned:
        node.cordoned = True
        engine.topology_changed()
    return _effect(node, before)


def node_uncordon(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    node = node_named(engine, command.args["node"])
    before = schedulable(node)
    if node.cordoned:
        node.cordoned = False
        node.drain_tick = 0  # its entry in `drains` is stale now: skipped when it falls
        engine.topology_changed()
    return _effect(node, before)


def node_drain(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    """Cordon the node and requeue what still runs on it at the end of tick (the tick the
    command applies at + `deadline_ticks`). Live, that tick is the acknowledged one; at
    rest, the resting tick (the next tick to run is the first of the deadline's)."""
    node = node_named(engine, command.args["node"])
    before = schedulable(node)
    deadline = engine.state.tick + int(command.args["deadline_ticks"])
    before_deadline = node.drain_tick or None
    if not node.cordoned:
        node.cordoned = True
        engine.topology_changed()
    if node.drain_tick != deadline:
        engine.state.set_drain(node, deadline)
    effect = _effect(node, before)
    return {
        **effect,
        "deadline_tick": [before_deadline, deadline],
        "changed": before_deadline != deadline,
    }


def _effect(node: Node, before: str) -> dict[str, Any]:
    # No count of running jobs: an engine restored without its jobs applies these at rest.
    after = schedulable(node)
    return {
        "node": node.id,
        "shard": node.shard,
        "schedulable": [before, after],
        "changed": before != after,
    }


def drain_deadlines(engine: Moves, tick: int) -> None:
    """End of tick: requeue the jobs still running on nodes whose drain deadline is this tick
    (after this tick's progress, so they keep every tick they ran)."""
    node_ids = engine.state.drains.pop(tick, None)
    if not node_ids:
        return
    nodes = engine.state.nodes
    stranded: list[Job] = []
    drained = []
    for node_id in sorted(set(node_ids)):
        node = nodes.get(node_id)
        if node is None or node.drain_tick != tick:  # deregistered, uncordoned or re-drained
            continue
        node.drain_tick = 0  # drained: it stays cordoned until uncordoned
        for job in node.running.values():
            if job.due:  # this tick's progress is made: what is left starts next tick
                job.remaining = job.due - tick
                job.due = 0
                job.row = None
        drained.append((node, [job.id for job in node.running.values()]))
        stranded.extend(node.running.values())
    for node, jobs in drained:
        engine.emit("node.drained", {"node": node.id, "shard": node.shard, "requeued": len(jobs)})
    if stranded:
        engine.events.extend(engine.requeue(stranded))


# ------------------------------------------------------------ the executor's reports


def executor_health(engine: Moves, reports: list[dict[str, Any]]) -> None:
    """Apply an executor's node reports (validated: `node`, `status` "down" or "up"), in
    order, between its receipts and the tick's progress. A report that changes nothing (a
    node it already reported so, or one the fabric does not have) is left out; when any
    changes something, `executor.nodes` records the reports that did, before their
    `node.down` / `node.up` events."""
    nodes = engine.state.nodes
    changing = []
    for report in reports:
        node = nodes.get(report["node"])
        if node is not None and node.executor_down != (report["status"] == "down"):
            node.executor_down = report["status"] == "down"
            changing.append((node, report))
    if not changing:
        return
    engine.emit(
        "executor.nodes",
        {"reports": [{"node": n.id, "status": r["status"]} for n, r in changing]},
    )
    stranded: list[Job] = []
    for node, report in changing:
        if report["status"] == "down":
            for job in node.running.values():
                engine.freeze(job)
            stranded.extend(node.running.values())
            engine.emit(
                "node.down",
                {
                    "node": node.id,
                    "shard": node.shard,
                    "requeued": len(node.running),
                    "by": "executor",
                },
            )
        else:
            engine.emit("node.up", {"node": node.id, "shard": node.shard, "by": "executor"})
    engine.topology_changed()
    if stranded:
        engine.events.extend(engine.requeue(stranded))
