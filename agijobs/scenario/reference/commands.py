"""Owner commands, in agijobs form: a whole schedule, or one command for `agijobs apply`.

A reference command is `{type, reason, ...}` with camelCase arguments; agijobs names the
command (`command: NAME`), takes snake_case arguments, and names two commands differently
(`system.pause` is `pause-all`, `system.resume` is `resume`). `owner_schedule` translates an
owner-commands file against the fabric's `Context` in the order the commands apply (tick,
then file order), so a shard.update or node.update that changes one limit is completed from
the shard or node as earlier entries left it. `command_from_reference` translates one
command, with no fabric at hand.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from .fabric import (
    CHECKPOINT_PATH,
    NODE_KEYS,
    REFERENCE_NODE_LATENCY_MS,
    REPORT_DIR,
    Context,
    ShardState,
    heartbeat_ticks,
    latency_notice,
    node_spec,
    price_per_job,
    router_settings,
    shard_spec,
    spillover,
)
from .fields import (
    COUNT,
    FLAG,
    ID,
    IDS,
    NUMBER,
    OBJECT,
    SKILLS,
    TEXT,
    WHOLE,
    At,
    checked,
    either,
    ignore_unknown,
    need,
    opt,
    opt_label,
)

_COMMAND_TYPES = (
    "system.pause",
    "system.resume",
    "shard.pause",
    "shard.resume",
    "shard.register",
    "shard.deregister",
    "shard.update",
    "node.register",
    "node.update",
    "node.deregister",
    "job.cancel",
    "job.reroute",
    "checkpoint.save",
    "checkpoint.configure",
    "reporting.configure",
)
_RENAMED = {"system.pause": "pause-all", "system.resume": "resume"}
# Keys of a command body besides `type` and `reason`, per type.
_ARGUMENTS: dict[str, frozenset[str]] = {
    "system.pause": frozenset(),
    "system.resume": frozenset(),
    "shard.pause": frozenset({"shard", "shardId"}),
    "shard.resume": frozenset({"shard", "shardId"}),
    "shard.register": frozenset({"shard"}),
    "shard.deregister": frozenset({"shard", "shardId", "redistribution"}),
    "shard.update": frozenset({"shard", "shardId", "update"}),
    "node.register": frozenset({"node"}),
    "node.update": frozenset({"node", "nodeId", "update"}),
    "node.deregister": frozenset({"node", "nodeId"}),
    "job.cancel": frozenset({"jobId", "locator"}),
    "job.reroute": frozenset({"jobId", "locator", "targetShard"}),
    "checkpoint.save": frozenset(),
    "checkpoint.configure": frozenset({"update"}),
    "reporting.configure": frozenset({"update"}),
}


def owner_schedule(
    at: At, raw: dict[str, Any], context: Context, notes: list[str]
) -> tuple[list[Any], list[str]]:
    """Flat schedule entries in file order, and where each came from; commands are
    translated in the order they apply (tick, then file order), so a node.update sees the
    node as earlier entries left it."""
    ignore_unknown(at, raw, {"commands"}, notes)
    parsed = []
    for i, item in enumerate(raw["commands"]):
        e_at = at / "commands" / i
        entry = checked(e_at, item, OBJECT)
        tick = need(e_at, entry, "tick", COUNT)
        note = opt(e_at, entry, "note", TEXT)
        body = need(e_at, entry, "command", OBJECT)
        kind = _command_type(e_at / "command", body)
        parsed.append((e_at, entry, tick, note, body, kind))
    entries: list[dict[str, Any] | None] = [None] * len(parsed)
    entry_notes: list[list[str]] = [[] for _ in parsed]
    for i in sorted(range(len(parsed)), key=lambda i: parsed[i][2]):
        e_at, entry, tick, note, body, kind = parsed[i]
        found = entry_notes[i]
        ignore_unknown(e_at, entry, {"tick", "note", "command"}, found)
        c_at = e_at / "command"
        ignore_unknown(c_at, body, {"type", "reason", *_ARGUMENTS[kind]}, found)
        reason = opt(c_at, body, "reason", TEXT) or note or f"{kind} (reference schedule)"
        args = _arguments(c_at, kind, body, context, found)
        if args is None:
            continue
        flat: dict[str, Any] = {"tick": tick, "command": _RENAMED.get(kind, kind), "reason": reason}
        if note is not None:
            flat["note"] = note
        entries[i] = {**flat, **args}
    notes.extend(n for found in entry_notes for n in found)
    kept = [i for i, e in enumerate(entries) if e is not None]
    return [entries[i] for i in kept], [str(parsed[i][0]) for i in kept]


def _command_type(at: At, body: dict[str, Any]) -> str:
    kind: str = need(at, body, "type", TEXT)
    if kind not in _COMMAND_TYPES:
        close = difflib.get_close_matches(kind, _COMMAND_TYPES, n=1, cutoff=0.6)
        guess = f"; did you mean `{close[0]}`?" if close else ""
        (at / "type").fail(
            f"unknown command type `{kind}`{guess}", f"use one of {', '.join(_COMMAND_TYPES)}"
        )
    return kind


def command_from_reference(
    path: Path, index: int, body: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """One command in the reference's form (`type`, camelCase), as given to `agijobs apply`:
    the agijobs command (`command: NAME`, snake_case) and the notices of what was ignored.
    With no fabric file at hand, a node.update's slots are the limit it names."""
    at = At(path, ("commands", index))
    kind = _command_type(at, body)
    notes: list[str] = []
    ignore_unknown(at, body, {"type", "reason", *_ARGUMENTS[kind]}, notes)
    context = Context(shards={}, nodes={}, latency_ms=REFERENCE_NODE_LATENCY_MS, label="latest")
    args = _arguments(at, kind, body, context, notes)
    if args is None:
        at.fail("nothing in this command applies to agijobs", "see the notices; drop it")
    command: dict[str, Any] = {"command": _RENAMED.get(kind, kind), **args}
    if "reason" in body:
        command["reason"] = body["reason"]
    return command, notes


def _arguments(
    at: At, kind: str, body: dict[str, Any], context: Context, notes: list[str]
) -> dict[str, Any] | None:
    """The agijobs arguments of one command, or None when nothing of it can apply."""
    if kind in {"shard.pause", "shard.resume"}:
        return {"shard": either(at, body, "shard", "shardId")}
    if kind == "shard.register":
        spec, state = shard_spec(at / "shard", need(at, body, "shard", OBJECT), notes)
        context.shards[spec["id"]] = state
        return {"shard": spec}
    if kind == "shard.deregister":
        shard = either(at, body, "shard", "shardId")
        redistribution = _redistribution(at, body, notes)
        context.shards.pop(shard, None)
        return {"shard": shard, "redistribution": redistribution}
    if kind == "shard.update":
        return _shard_update(at, body, context, notes)
    if kind == "node.register":
        spec, size = node_spec(
            at / "node", need(at, body, "node", OBJECT), context.latency_ms, notes
        )
        notes.append(f"{at / 'node'}: {latency_notice(context.latency_ms)}")
        context.nodes[spec["id"]] = size
        return {"node": spec}
    if kind == "node.update":
        return _node_update(at, body, context, notes)
    if kind == "node.deregister":
        node = either(at, body, "node", "nodeId")
        context.nodes.pop(node, None)
        return {"node": node}
    if kind in {"job.cancel", "job.reroute"}:
        args = _job_target(at, body, notes)
        if kind == "job.reroute":
            args["to"] = need(at, body, "targetShard", ID)
        return args
    if kind in {"checkpoint.configure", "reporting.configure"}:
        return _configure(at, kind, body, context, notes)
    return {}  # system.pause, system.resume, checkpoint.save take no arguments


def _redistribution(at: At, body: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    r_at = at / "redistribution"
    raw = need(at, body, "redistribution", OBJECT)
    ignore_unknown(r_at, raw, {"mode", "targetShard"}, notes)
    mode = need(r_at, raw, "mode", TEXT)
    if mode == "spillover":
        return {"mode": "spillover", "target": need(r_at, raw, "targetShard", ID)}
    if mode == "cancel":
        if raw.get("targetShard") is not None:
            notes.append(f"{r_at / 'targetShard'}: ignored; mode `cancel` moves no jobs.")
        return {"mode": "cancel"}
    (r_at / "mode").fail(
        f"must be `spillover` or `cancel` (got {mode!r})",
        "write `spillover` (with targetShard) to move the jobs, or `cancel` to drop them",
    )


def _shard_update(
    at: At, body: dict[str, Any], context: Context, notes: list[str]
) -> dict[str, Any] | None:
    shard = either(at, body, "shard", "shardId")
    u_at = at / "update"
    update = need(at, body, "update", OBJECT)
    known = {"displayName", "latencyBudgetMs", "maxQueue", "router", "spilloverTargets"}
    ignore_unknown(u_at, update, known, notes)
    changes: dict[str, Any] = {}
    for key, field, kind in (
        ("displayName", "name", TEXT),
        ("latencyBudgetMs", "latency_budget_ms", COUNT),
        ("maxQueue", "max_queue", COUNT),
    ):
        value = opt(u_at, update, key, kind)
        if value is not None:
            changes[field] = value
    router = opt(u_at, update, "router", OBJECT) or {}
    alert, policies = router_settings(u_at / "router", router, notes)
    if alert is not None:
        changes["alert_threshold"] = alert
    targets = opt(u_at, update, "spilloverTargets", IDS)
    state = context.shards.setdefault(shard, ShardState(None, None, [], []))
    state.max_queue = changes.get("max_queue", state.max_queue)
    state.alert = alert if alert is not None else state.alert
    state.policies = policies if policies is not None else state.policies
    state.targets = targets if targets is not None else state.targets
    if policies is not None or targets is not None:
        changes["spillover"] = spillover(u_at, state, notes)
    if not changes:
        notes.append(f"{at}: changes nothing agijobs can apply; the entry is left out.")
        return None
    return {"shard": shard, "update": changes}


def _node_update(
    at: At, body: dict[str, Any], context: Context, notes: list[str]
) -> dict[str, Any] | None:
    node = either(at, body, "node", "nodeId")
    u_at = at / "update"
    update = need(at, body, "update", OBJECT)
    changes: dict[str, Any] = {}
    capacity = opt(u_at, update, "capacity", COUNT)
    concurrency = opt(u_at, update, "maxConcurrency", COUNT)
    if capacity is not None or concurrency is not None:
        known_capacity, known_concurrency = context.nodes.get(node, (None, None))
        capacity = capacity if capacity is not None else known_capacity
        concurrency = concurrency if concurrency is not None else known_concurrency
        changes["slots"] = min(v for v in (capacity, concurrency) if v is not None)
        context.nodes[node] = (capacity, concurrency)
    skills = opt(u_at, update, "specialties", SKILLS)
    if skills is not None:
        changes["skills"] = skills
    seconds = opt(u_at, update, "heartbeatIntervalSec", NUMBER)
    if seconds is not None:
        changes["heartbeat_ticks"] = heartbeat_ticks(seconds)
    price = price_per_job(u_at, update, notes)
    if price is not None:
        changes["price_per_job"] = price
    if update.get("region") is not None:
        notes.append(
            f"{u_at / 'region'}: ignored; an agijobs node cannot move to another shard "
            "(deregister it and register it there)."
        )
    if update.get("id") is not None:
        notes.append(f"{u_at / 'id'}: ignored; a node keeps its id.")
    metadata = {k: v for k, v in update.items() if k not in NODE_KEYS}
    if metadata:
        changes["metadata"] = metadata
    if not changes:
        notes.append(f"{at}: changes nothing agijobs can apply; the entry is left out.")
        return None
    return {"node": node, "update": changes}


def _job_target(at: At, body: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    job = opt(at, body, "jobId", ID)
    locator = opt(at, body, "locator", OBJECT)
    if (job is None) == (locator is None):
        at.fail(
            "needs exactly one of `jobId` or `locator`",
            'name the job by `jobId`, or by `locator` {kind: "tail", shard, offset}',
        )
    if job is not None:
        return {"job": job}
    l_at = at / "locator"
    ignore_unknown(l_at, locator, {"kind", "shard", "offset", "includeInFlight"}, notes)
    kind = need(l_at, locator, "kind", TEXT)
    if kind != "tail":
        (l_at / "kind").fail(
            f"must be `tail` (got {kind!r})", "write `tail`: the only locator kind"
        )
    found = {
        "kind": kind,
        "shard": need(l_at, locator, "shard", ID),
        "offset": need(l_at, locator, "offset", WHOLE),
        "include_in_flight": opt(l_at, locator, "includeInFlight", FLAG) or False,
    }
    return {"locator": found}


def _configure(
    at: At, kind: str, body: dict[str, Any], context: Context, notes: list[str]
) -> dict[str, Any] | None:
    u_at = at / "update"
    update = need(at, body, "update", OBJECT)
    if kind == "checkpoint.configure":
        ignore_unknown(u_at, update, {"intervalTicks", "path"}, notes)
        if update.get("path") is not None:
            notes.append(f"{u_at / 'path'}: {CHECKPOINT_PATH}")
        every = opt(u_at, update, "intervalTicks", COUNT)
        if every is None:
            notes.append(f"{at}: changes nothing agijobs can apply; the entry is left out.")
            return None
        return {"every": every}
    ignore_unknown(u_at, update, {"defaultLabel", "directory"}, notes)
    if update.get("directory") is not None:
        notes.append(f"{u_at / 'directory'}: {REPORT_DIR}")
    label = opt_label(u_at, update, "defaultLabel")
    if label is None:
        notes.append(f"{u_at}: names no defaultLabel; the current label `{context.label}` stays.")
    context.label = label or context.label
    return {"label": context.label}
