"""Messages that locate and mend: validation errors by key path, and the checks across a
scenario (unknown or duplicate ids, impossible timings) that no single model can make."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import BadInput, did_you_mean
from ..fabric.claims import parse_generated
from ..fabric.commands import COMMAND_NAMES
from .commands import (
    COMMAND_MODELS,
    JobCancel,
    JobReroute,
    JobSubmit,
    NodeCordon,
    NodeDeregister,
    NodeDrain,
    NodeRegister,
    NodeUncordon,
    NodeUpdate,
    Reroute,
    SetLatency,
    ShardDeregister,
    ShardPause,
    ShardRegister,
    ShardResume,
    ShardUpdate,
)
from .limits import INT64_MAX, MAX_JOBS, MAX_TICKS, MAX_TOTAL_VALUE, price_problem
from .models import ApplyEntry, Scenario, ScheduleEntry, WorkGroup
from .text import text_problem

M = TypeVar("M", bound=BaseModel)


# Where an error is shown, given its key path and its pydantic error type: for documents
# whose layout differs from the model's (a journaled command keeps its arguments apart).
Place = Callable[[list[str], str], list[str]]


def validate(
    path: Path | str, model: type[M], raw: Any, prefix: Sequence[str], place: Place | None = None
) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(path, error, model, prefix, place) for error in exc.errors()[:10]]
        raise BadInput("\n".join(lines), "fix the value(s) named above") from None


def _describe(
    path: Path | str,
    error: Any,
    model: type[BaseModel],
    prefix: Sequence[str],
    place: Place | None = None,
) -> str:
    loc = [*prefix, *(str(p) for p in error["loc"] if not is_union_tag(p))]
    kind = error["type"]
    for i in range(2, len(loc)):
        # Schedule entries are written flat (schedule -> 1 -> from), so the command model's
        # own level is the entry, except where the `command` key itself is meant.
        if loc[i] == "command" and loc[i - 2] in {"schedule", "commands"}:
            if i < len(loc) - 1 or kind == "value_error":
                del loc[i]
            break
    if place is not None:
        loc = place(loc, kind)
    where = " -> ".join(loc) if loc else "(top level)"
    if kind == "union_tag_invalid":
        tag = str(error.get("ctx", {}).get("tag", ""))
        hint = did_you_mean(tag, COMMAND_NAMES)
        return f"{path}: {where}: unknown command `{tag}`{hint} (one of {', '.join(COMMAND_NAMES)})"
    if kind == "extra_forbidden":
        hint = did_you_mean(str(error["loc"][-1]), _known_keys(model, error["loc"][:-1]))
        return f"{path}: {where}: unknown key{hint}"
    if kind == "missing":
        return f"{path}: {where}: required key is missing"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {shown_input(got)})"
    return f"{path}: {where}: {message_of(error)}{shown}"


def message_of(error: Any) -> str:
    """Pydantic's message, said for the input that was refused: strict numbers refuse a
    boolean, a string or a float where an integer belongs, and say why."""
    message = str(error["msg"]).removeprefix("Value error, ")
    got = error.get("input")
    if error["type"] == "int_type":
        if isinstance(got, bool):
            return f"{message}, not a boolean"
        if isinstance(got, str):
            return f"{message}, not a string (write the number without quotes)"
        if isinstance(got, float) and got.is_integer() and abs(got) > INT64_MAX:
            return "Input should be an integer of at most 64 bits"
        if isinstance(got, float) and got.is_integer():
            return f"{message}, written without a decimal point"
    if error["type"] == "string_unicode" and isinstance(got, str):
        return f"{text_problem(got)}; write plain text on one line"
    if error["type"] == "model_type":  # a nested model: say what to write, not its class
        return "Input should be a valid dictionary"
    if error["type"] in {"float_type", "bool_type"} and isinstance(got, str):
        return f"{message}, not a string (write it without quotes)"
    return message


def shown_input(got: Any) -> str:
    """The refused input as the message shows it: its repr, cut short when long."""
    if isinstance(got, int) and not isinstance(got, bool) and got.bit_length() > 256:
        return f"an integer of {got.bit_length()} bits"
    text = repr(got)
    return text if len(text) <= 80 else f"{text[:60]}… ({len(text)} characters)"


def is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in COMMAND_NAMES


def _known_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names (by alias) of the model found by walking `loc` from `model`."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        if isinstance(part, str) and part in COMMAND_MODELS:
            current = COMMAND_MODELS[part]
            continue
        field = getattr(current, "model_fields", {}).get(part)
        current = _model_in(field.annotation) if field else None
    if current is None or not hasattr(current, "model_fields"):
        return []
    fields: dict[str, Any] = current.model_fields
    names = [f.alias or name for name, f in fields.items()]
    if current in (ScheduleEntry, ApplyEntry):
        names.append("command")
    return names


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def check_references(path: Path, scenario: Scenario) -> None:
    """Reject unknown or duplicate ids and impossible timings, naming the key path."""
    problems: list[str] = []
    fabric = scenario.fabric
    shard_ids = [s.id for s in fabric.shards]
    node_ids = [n.id for n in fabric.nodes]
    shards, nodes = set(shard_ids), set(node_ids)

    def unknown(where: str, kind: str, name: str, known: set[str]) -> None:
        hint = did_you_mean(name, sorted(known))
        problems.append(f"{path}: {where}: unknown {kind} `{name}`{hint}")

    for where, ids in (("fabric -> shards", shard_ids), ("fabric -> nodes", node_ids)):
        seen: set[str] = set()
        for i, ident in enumerate(ids):
            if ident in seen:
                problems.append(f"{path}: {where} -> {i} -> id: duplicate id `{ident}`")
            seen.add(ident)
    for i, shard in enumerate(fabric.shards):
        for j, policy in enumerate(shard.spillover):
            where = f"fabric -> shards -> {i} -> spillover -> {j} -> target"
            if policy.target == shard.id:
                problems.append(f"{path}: {where}: a shard cannot spill over to itself")
            elif policy.target not in shards:
                unknown(where, "shard", policy.target, shards)
    for i, node in enumerate(fabric.nodes):
        if node.shard not in shards:
            unknown(f"fabric -> nodes -> {i} -> shard", "shard", node.shard, shards)
    prefixes: set[str] = set()
    for i, group in enumerate(scenario.workload):
        if group.shard not in shards:
            unknown(f"workload -> {i} -> shard", "shard", group.shard, shards)
        if group.prefix in prefixes:
            problems.append(f"{path}: workload -> {i} -> prefix: duplicate prefix `{group.prefix}`")
        prefixes.add(group.prefix)
        last = group.first_tick + (group.count - 1) // group.per_tick
        if last > scenario.run.max_ticks:
            problems.append(
                f"{path}: workload -> {i} -> arrive: the last job arrives at tick {last}, "
                f"after run -> max_ticks ({scenario.run.max_ticks})"
            )
    registered = {
        e.command.node.id for e in scenario.schedule if isinstance(e.command, NodeRegister)
    }
    for i, fault in enumerate(scenario.faults):
        if fault.node not in nodes | registered:
            unknown(f"faults -> {i} -> node", "node", fault.node, nodes)
        if fault.tick > scenario.run.max_ticks:
            problems.append(
                f"{path}: faults -> {i} -> tick: {fault.tick} is after run -> max_ticks "
                f"({scenario.run.max_ticks})"
            )
    explicit_ids: dict[str, int] = {}
    for i, group in enumerate(scenario.workload):
        if group.id is None:
            continue
        owner = _generated_by(group.id, scenario.workload)
        if group.id in explicit_ids or owner is not None:
            problems.append(
                f"{path}: workload -> {i} -> id: job id `{group.id}` is already used"
                + (f" by workload -> {owner}" if owner is not None else "")
            )
        explicit_ids[group.id] = i
    problems.extend(_check_schedule(path, scenario, set(shard_ids), set(node_ids)))
    problems.extend(_check_totals(path, scenario))
    if problems:
        raise BadInput("\n".join(problems), "fix the reference(s) named above")


def _generated_by(job_id: str, groups: Sequence[WorkGroup]) -> int | None:
    """The index of the group whose generated ids include `job_id`, if any."""
    parsed = parse_generated(job_id)
    if parsed is None:
        return None
    prefix, number = parsed
    for i, group in enumerate(groups):
        if group.id is None and group.prefix == prefix and number <= group.count:
            return i
    return None


def _check_schedule(path: Path, scenario: Scenario, shards: set[str], nodes: set[str]) -> list[str]:
    """Entries in the order they apply (tick, then file order), so a shard or node registered
    by an earlier entry is known to later ones and a deregistered one is not. Triggers may
    fire at any tick: they are checked last, against the topology the schedule leaves."""
    problems: list[str] = []
    retired: set[str] = set()
    job_ids = {g.id for g in scenario.workload if g.id is not None}
    order = sorted(
        range(len(scenario.schedule)),
        key=lambda i: scenario.schedule[i].tick or MAX_TICKS + 1,
    )
    for i in order:
        entry = scenario.schedule[i]
        base = f"{path}: schedule -> {i}"
        when = entry.when
        if when is not None and when.shard is not None and when.shard not in shards:
            hint = did_you_mean(when.shard, sorted(shards))
            problems.append(f"{base} -> when -> shard: unknown shard `{when.shard}`{hint}")
        if entry.tick is not None and entry.tick > scenario.run.max_ticks:
            problems.append(
                f"{base} -> tick: {entry.tick} is after run -> max_ticks ({scenario.run.max_ticks})"
            )
        command = entry.command

        def shard(key: str, name: str | None, base: str = base) -> None:
            if name is None or name in shards:
                return
            if name in retired:
                problems.append(f"{base} -> {key}: shard `{name}` is deregistered by then")
                return
            hint = did_you_mean(name, sorted(shards))
            problems.append(f"{base} -> {key}: unknown shard `{name}`{hint}")

        def node(key: str, name: str, base: str = base) -> None:
            if name not in nodes:
                hint = did_you_mean(name, sorted(nodes))
                problems.append(f"{base} -> {key}: unknown node `{name}`{hint}")

        if isinstance(command, Reroute):
            shard("from", command.from_)
            shard("to", command.to)
        elif isinstance(command, SetLatency | ShardPause | ShardResume | ShardUpdate):
            shard("shard", command.shard)
            if isinstance(command, ShardUpdate):
                for j, policy in enumerate(command.update.spillover or ()):
                    shard(f"update -> spillover -> {j} -> target", policy.target)
        elif isinstance(command, ShardRegister):
            spec = command.shard
            if spec.id in shards or spec.id in retired:
                problems.append(f"{base} -> shard -> id: shard `{spec.id}` already exists")
            for j, policy in enumerate(spec.spillover):
                if policy.target == spec.id:
                    problems.append(
                        f"{base} -> shard -> spillover -> {j} -> target: "
                        "a shard cannot spill over to itself"
                    )
                else:
                    shard(f"shard -> spillover -> {j} -> target", policy.target)
            shards.add(spec.id)
        elif isinstance(command, ShardDeregister):
            shard("shard", command.shard)
            target = command.redistribution.target
            if target == command.shard:
                problems.append(
                    f"{base} -> redistribution -> target: the jobs must go to another shard"
                )
            else:
                shard("redistribution -> target", target)
            shards.discard(command.shard)
            retired.add(command.shard)
        elif isinstance(command, NodeRegister):
            if command.node.id in nodes:
                problems.append(f"{base} -> node -> id: node `{command.node.id}` already exists")
            shard("node -> shard", command.node.shard)
            nodes.add(command.node.id)
        elif isinstance(command, NodeCordon | NodeUncordon | NodeDrain):
            node("node", command.node)
        elif isinstance(command, NodeUpdate | NodeDeregister):
            node("node", command.node)
            if isinstance(command, NodeDeregister):
                nodes.discard(command.node)
        elif isinstance(command, JobSubmit):
            for j, submitted in enumerate(command.jobs):
                shard(f"jobs -> {j} -> shard", submitted.shard)
        elif isinstance(command, JobCancel | JobReroute):
            if command.locator is not None:
                shard("locator -> shard", command.locator.shard)
            elif (
                command.job not in job_ids
                and _generated_by(str(command.job), scenario.workload) is None
            ):
                problems.append(f"{base} -> job: no job `{command.job}` in the workload")
            if isinstance(command, JobReroute):
                shard("to", command.to)
    return problems


def _check_totals(path: Path, scenario: Scenario) -> list[str]:
    """What the run adds up must fit where it is kept: the number of jobs, the sum of their
    values, and the cost of the most expensive node completing every one of them (cost is
    kept in nano-units, a 64-bit integer). Checked here, before any storage is made,
    rather than found by the run mid-way."""
    problems: list[str] = []
    jobs = value = 0
    for i, group in enumerate(scenario.workload):
        jobs += group.count
        # The values are value, value + step, …: count of them, evenly spaced.
        value += group.count * group.value + group.value_step * group.count * (group.count - 1) // 2
        if value > MAX_TOTAL_VALUE:
            problems.append(
                f"{path}: workload -> {i}: the values of the jobs up to this group add up to "
                f"{value:,}, more than {MAX_TOTAL_VALUE:,}"
            )
            break
    for i, entry in enumerate(scenario.schedule):  # jobs a schedule submits count too
        if isinstance(entry.command, JobSubmit):
            for submitted in entry.command.jobs:
                jobs += submitted.jobs
                value += submitted.jobs * submitted.value
            if value > MAX_TOTAL_VALUE:
                problems.append(
                    f"{path}: schedule -> {i}: the values of the jobs up to this entry add up "
                    f"to {value:,}, more than {MAX_TOTAL_VALUE:,}"
                )
                break
    if jobs > MAX_JOBS:
        problems.append(
            f"{path}: workload: {jobs:,} jobs in all, more than {MAX_JOBS:,} "
            '(docs/scenario-format.md, "Limits")'
        )
    prices = [
        (f"fabric -> nodes -> {i} -> price_per_job", node.price_per_job)
        for i, node in enumerate(scenario.fabric.nodes)
    ]
    for i, entry in enumerate(scenario.schedule):
        command = entry.command
        if isinstance(command, NodeRegister):
            prices.append((f"schedule -> {i} -> node -> price_per_job", command.node.price_per_job))
        elif isinstance(command, NodeUpdate):
            prices.append(
                (f"schedule -> {i} -> update -> price_per_job", command.update.price_per_job)
            )
    for where, price in prices:
        problem = None if price is None else price_problem(price, jobs)
        if problem is not None:
            problems.append(f"{path}: {where}: {problem}")
            break
    return problems
