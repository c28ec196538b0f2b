"""Translate the reference demo's files into an agijobs scenario document.

Operators of the planetary orchestrator demo keep a mission plan, a fabric config, a job
blueprint and an owner-commands file, all camelCase JSON. `translate_mission` and
`translate_fabric` turn them into one scenario document (the snake_case shape of
`agijobs.scenario.models.ScenarioFile`) plus notices saying what was ignored or defaulted, and
`emit_yaml` writes it out so the operator can migrate for good.

Errors name the reference file and the key path inside it in the reference's own keys
(``fabric.json: nodes -> 2 -> capacity: must be a whole number > 0 (got 'x')``). The
document is validated afterwards by `agijobs.scenario.loading`, which knows nothing of these shapes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .blueprint import job_blueprint
from .fabric import (
    CHECKPOINT_PATH,
    DEFAULT_LABEL,
    NODE_KEYS,
    REFERENCE_NODE_LATENCY_MS,
    REPORT_DIR,
    SECONDS_PER_TICK,
    Context,
    ShardState,
    fabric_config,
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
    is_name,
    need,
    opt,
    opt_label,
    slug,
)
from .files import expect, kind_of, looks_like, read, read_reference, reference

__all__ = [
    "REFERENCE_NODE_LATENCY_MS",
    "SECONDS_PER_TICK",
    "Translation",
    "command_from_reference",
    "emit_yaml",
    "kind_of",
    "read_reference",
    "translate_fabric",
    "translate_mission",
]

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


@dataclass(frozen=True, slots=True)
class Translation:
    """An agijobs scenario document and what the translation ignored or defaulted.

    Attributes:
        scenario: snake_case keys, ready for `ScenarioFile.model_validate`.
        notices: one sentence each, naming the reference file and key path.
    """

    scenario: dict[str, Any]
    notices: tuple[str, ...]
    # Where each schedule entry came from ("file: commands -> i"), for messages.
    origins: tuple[str, ...] = ()


# --------------------------------------------------------------------- owner commands


def _schedule(
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


# ------------------------------------------------------------------------ translate


def translate_fabric(
    path: Path, raw: dict[str, Any], blueprint: Path | None, owner_commands: Path | None
) -> Translation:
    """Translate a reference fabric config, with an optional job blueprint and schedule.

    Args:
        path: the fabric config, named in messages.
        raw: its parsed content.
        blueprint: a job blueprint file; None gives an empty workload.
        owner_commands: an owner-commands file; None gives no schedule.
    """
    at = At(path)
    expect(None, at, raw, "fabric")
    notes: list[str] = []
    fabric = fabric_config(at, raw, notes)
    jobs = None
    if blueprint is not None:
        b_at = At(blueprint)
        jobs = job_blueprint(b_at, expect(None, b_at, read(blueprint, None), "blueprint"), notes)
    schedule: list[Any] = []
    origins: list[str] = []
    if owner_commands is not None:
        c_at = At(owner_commands)
        commands = expect(None, c_at, read(owner_commands, None), "commands")
        schedule, origins = _schedule(c_at, commands, fabric.context, notes)
    run = {} if fabric.checkpoint_every is None else {"checkpoint_every": fabric.checkpoint_every}
    scenario = {
        "name": (jobs.label if jobs else None) or _stem_name(path),
        "fabric": fabric.doc,
        "workload": jobs.workload if jobs else [],
        "faults": [],
        "schedule": schedule,
        "run": run,
        "reporting": {"label": fabric.label or DEFAULT_LABEL},
    }
    return Translation(scenario, tuple(notes), tuple(origins))


def translate_mission(path: Path, raw: dict[str, Any]) -> Translation:
    """Translate a reference mission plan and the files it names into one scenario.

    Args:
        path: the mission plan; the files it names are read relative to its folder.
        raw: its parsed content.
    """
    at = At(path)
    if kind_of(raw) != "mission":
        looks = looks_like(raw)
        at.fail(
            "not a reference mission plan" + (f"; it looks like {looks}" if looks else ""),
            "a mission plan names `config`, `jobBlueprint` and `ownerCommands` at the top level",
        )
    notes: list[str] = []
    known = {"metadata", "config", "ownerCommands", "jobBlueprint", "reporting", "run"}
    ignore_unknown(at, raw, known, notes)
    metadata = opt(at, raw, "metadata", OBJECT) or {}
    mission_label = opt(at / "metadata", metadata, "label", TEXT)
    if raw.get("config") is None:
        (at / "config").fail(
            "required key is missing", "add `config`: the path of the fabric config"
        )
    if raw.get("jobBlueprint") is None:
        (at / "jobBlueprint").fail(
            "agijobs needs the jobs themselves", "name a jobBlueprint / pass --blueprint"
        )
    reporting = opt(at, raw, "reporting", OBJECT) or {}
    run = opt(at, raw, "run", OBJECT) or {}
    file_notes: list[str] = []
    f_at, f_raw = reference(at, raw, "config", "fabric")
    fabric = fabric_config(f_at, f_raw, file_notes)
    b_at, b_raw = reference(at, raw, "jobBlueprint", "blueprint")
    jobs = job_blueprint(b_at, b_raw, file_notes)

    r_at = at / "reporting"
    ignore_unknown(r_at, reporting, {"directory", "defaultLabel"}, notes)
    if reporting.get("directory") is not None:
        notes.append(f"{r_at / 'directory'}: {REPORT_DIR}")
    settings = _run_settings(at / "run", run, jobs.total, notes)
    label = settings.pop("label", None)
    label = label or opt_label(r_at, reporting, "defaultLabel") or fabric.label
    if fabric.label is not None and label != fabric.label:
        notes.append(
            f"{f_at / 'reporting' / 'defaultLabel'}: overridden by the mission plan "
            f"(label `{label}`)."
        )
    every = settings.pop("checkpoint_every", None)
    if fabric.checkpoint_every is not None and every not in {None, fabric.checkpoint_every}:
        notes.append(
            f"{f_at / 'checkpoint' / 'intervalTicks'}: overridden by the mission plan "
            f"(checkpoint_every {every})."
        )
    every = every or fabric.checkpoint_every
    fabric.context.label = label or DEFAULT_LABEL

    schedule: list[Any] = []
    origins: list[str] = []
    if raw.get("ownerCommands") is not None:
        c_at, c_raw = reference(at, raw, "ownerCommands", "commands")
        schedule, origins = _schedule(c_at, c_raw, fabric.context, file_notes)
    faults = settings.pop("faults", [])
    scenario = {
        "name": (slug(mission_label) if mission_label else None)
        or jobs.label
        or _stem_name(f_at.path),
        "fabric": fabric.doc,
        "workload": jobs.workload,
        "faults": faults,
        "schedule": schedule,
        "run": ({"checkpoint_every": every} if every is not None else {}) | settings,
        "reporting": {"label": label or DEFAULT_LABEL},
    }
    return Translation(scenario, (*notes, *file_notes), tuple(origins))


def _run_settings(at: At, run: dict[str, Any], total: int, notes: list[str]) -> dict[str, Any]:
    """The mission's `run` block as faults, checkpoint_every, stop_after_ticks and label."""
    known = {
        "jobs",
        "simulateOutage",
        "outageTick",
        "outputLabel",
        "stopAfterTicks",
        "checkpoint",
        "preserveReportDirOnResume",
    }
    ignore_unknown(at, run, known, notes)
    found: dict[str, Any] = {}
    node = opt(at, run, "simulateOutage", ID)
    tick = opt(at, run, "outageTick", COUNT)
    if node is not None:
        if tick is None:
            (at / "outageTick").fail(
                f"required with simulateOutage (`{node}`)",
                "add `outageTick`: the tick the node goes down, e.g. 45",
            )
        found["faults"] = [{"tick": tick, "node": node, "kind": "outage"}]
    elif tick is not None:
        notes.append(f"{at / 'outageTick'}: ignored; no simulateOutage names a node.")
    checkpoint = opt(at, run, "checkpoint", OBJECT) or {}
    ignore_unknown(at / "checkpoint", checkpoint, {"intervalTicks", "path"}, notes)
    every = opt(at / "checkpoint", checkpoint, "intervalTicks", COUNT)
    if every is not None:
        found["checkpoint_every"] = every
    if checkpoint.get("path") is not None:
        notes.append(f"{at / 'checkpoint' / 'path'}: {CHECKPOINT_PATH}")
    stop = opt(at, run, "stopAfterTicks", COUNT)
    if stop is not None:
        found["stop_after_ticks"] = stop
    label = opt_label(at, run, "outputLabel")
    if label is not None:
        found["label"] = label
    if run.get("jobs") is not None:
        notes.append(
            f"{at / 'jobs'}: ignored; the jobBlueprint defines the workload "
            f"({total:,} jobs) and agijobs runs exactly those."
        )
    if run.get("preserveReportDirOnResume") is not None:
        notes.append(
            f"{at / 'preserveReportDirOnResume'}: ignored; agijobs keeps reports inside --storage."
        )
    return found


def _stem_name(path: Path) -> str:
    stem = path.stem
    return stem if is_name(stem) else (slug(stem) or "reference")


# ----------------------------------------------------------------------------- YAML


def emit_yaml(translation: Translation, source: Path) -> str:
    """The scenario as YAML (keys in document order), headed by comments naming the source
    file and listing the notices, so the operator can keep it and drop the reference files."""
    import yaml

    lines = [
        f"# agijobs scenario translated from the reference demo file {source}",
        "# Review it, then run agijobs on this file instead of the reference files.",
    ]
    if translation.notices:
        lines.append("# Notices (ignored or defaulted):")
        lines.extend(f"#   - {' '.join(n.splitlines())}" for n in translation.notices)
    else:
        lines.append("# Notices: none; everything was translated.")
    body = yaml.safe_dump(translation.scenario, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(lines) + "\n" + body
