"""Owner events in words, for humans: the CLI, reports, audits and tickets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# What an owner event says became of the command it records; any other `owner.*` event
# records a command applied.
OUTCOMES = {
    "owner.rejected": "rejected",
    "owner.proposal": "proposed",
    "owner.approval": "approved",
    "governance.refused": "refused",
}


def outcome_of(kind: str) -> str:
    """The outcome of the command an `owner.*` or `governance.refused` event records."""
    return OUTCOMES.get(kind, "applied")


def describe_effect(name: str, effect: dict[str, Any]) -> str:
    if name in ("pause-all", "resume"):
        if not effect.get("changed"):
            return "already paused" if name == "pause-all" else "not paused; nothing to lift"
        return "fabric paused" if name == "pause-all" else "pause lifted"
    if name == "set-latency":
        before, after = effect["budget_ms"]
        text = f"budget {before} ms → {after} ms"
        if effect["ineligible"]:
            text += f"; now over budget: {', '.join(effect['ineligible'])}"
        if effect["eligible"]:
            text += f"; back within budget: {', '.join(effect['eligible'])}"
        return text
    if name in _DESCRIBERS:
        return _DESCRIBERS[name](effect)
    if "job" in effect:
        return _describe_job_move(effect)
    before, after = effect["first_target"]
    if "moved" not in effect:  # --clear
        if not effect["changed"]:
            return f"no reroute in force; configured targets in use (first: {after or 'none'})"
        cleared = effect["reroute_target"][0]
        return f"reroute to {cleared} cleared; first spillover target now {after or 'none'}"
    return (
        f"first spillover target {before or 'none'} → {after}; moved {effect['moved']}, "
        f"left {effect['left_unservable']} it cannot serve, {effect['left_full']} for lack of room"
    )


def _describe_job_move(effect: dict[str, Any]) -> str:
    if not effect["moved"]:
        return f"job {effect['job']} left in {effect['from']}: {effect['note']}"
    pulled = effect.get("pulled_from_node")
    return f"moved job {effect['job']} to {effect['to']}" + (
        f" (pulled from {pulled})" if pulled else ""
    )


def _changes(effect: dict[str, Any]) -> str:
    changes = effect["changes"]
    if not changes:
        return "nothing to change"
    return "; ".join(f"{key} {before} → {after}" for key, (before, after) in changes.items())


def _shard_pause_text(effect: dict[str, Any]) -> str:
    before, after = effect["paused"]
    if before == after:
        return f"shard {effect['shard']} already {'paused' if after else 'running'}"
    return f"shard {effect['shard']} {'paused' if after else 'resumed'}"


def _deregister_text(effect: dict[str, Any]) -> str:
    where = f"moved to {effect['target']}" if effect["target"] else "cancelled"
    jobs = len(effect["jobs_moved"]) + len(effect["jobs_cancelled"])
    nodes = ", ".join(effect["nodes_removed"]) or "none"
    return f"shard {effect['shard']} deregistered; {jobs} job(s) {where}; nodes removed: {nodes}"


def _cordon_text(effect: dict[str, Any]) -> str:
    after = effect["schedulable"][1]
    node = effect["node"]
    if not effect["changed"]:
        return f"node {node} already {after}"
    return f"node {node} cordoned: no new work; its running jobs carry on"


def _uncordon_text(effect: dict[str, Any]) -> str:
    before, _ = effect["schedulable"]
    node = effect["node"]
    if not effect["changed"]:
        return f"node {node} not cordoned; nothing to lift"
    ended = " (its drain ended; its jobs stay)" if before == "draining" else ""
    return f"node {node} uncordoned: takes new work again{ended}"


def _drain_text(effect: dict[str, Any]) -> str:
    before, deadline = effect["deadline_tick"]
    node = effect["node"]
    if not effect["changed"]:
        return f"node {node} already draining until tick {deadline}"
    moved = f" (was until tick {before})" if before is not None else ""
    return (
        f"node {node} draining: no new work; jobs still running at the end of tick "
        f"{deadline} go back to the queue{moved}"
    )


_DESCRIBERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "shard.pause": _shard_pause_text,
    "shard.resume": _shard_pause_text,
    "shard.register": lambda e: f"shard {e['shard']} registered",
    "shard.deregister": _deregister_text,
    "shard.update": lambda e: f"shard {e['shard']}: {_changes(e)}",
    "node.register": lambda e: (
        f"node {e['node']} registered in {e['shard']}"
        + ("" if e["within_budget"] else " (over the shard's latency budget: not eligible)")
    ),
    "node.update": lambda e: f"node {e['node']}: {_changes(e)}",
    "node.deregister": lambda e: (
        f"node {e['node']} deregistered; {len(e['requeued'])} running job(s) requeued"
    ),
    "node.cordon": _cordon_text,
    "node.uncordon": _uncordon_text,
    "node.drain": _drain_text,
    "job.submit": lambda e: _submitted_text(e),
    "job.cancel": lambda e: f"job {e['job']} cancelled in {e['shard']}",
    "job.reroute": _describe_job_move,
    "checkpoint.save": lambda e: f"checkpoint written after tick {e['tick']}",
    "checkpoint.configure": lambda e: f"checkpoint every {e['every'][0]} → {e['every'][1]} ticks",
    "reporting.configure": lambda e: f"report label {e['label'][0]} → {e['label'][1]}",
    "governance.update": lambda e: _governance_text(e),
}


def _submitted_text(effect: dict[str, Any]) -> str:
    """`3 jobs accepted into earth (2), luna (1): web-000001 … hotfix-7`."""
    count = effect["jobs"]
    shards = ", ".join(f"{shard} ({n})" for shard, n in effect["shards"].items())
    ids = effect["ids"]
    shown = ", ".join(ids) if len(ids) <= 3 else f"{ids[0]}, {ids[1]} … {ids[-1]}"
    return f"{count} job{'s' if count != 1 else ''} accepted into {shards}: {shown}"


def _governance_text(effect: dict[str, Any]) -> str:
    if not effect["changed"]:
        return "key set and thresholds unchanged"
    after = effect["after"]
    keys = ", ".join(f"{k['name']} ({'/'.join(k['roles'])})" for k in after["keys"])
    approvals = ", ".join(f"{name} {count}" for name, count in after["approvals"].items())
    return f"keys now {keys}; approvals {approvals}"
