"""A validated scenario compiled for the engine (`agijobs.fabric.inputs`): plain data, no
pydantic. The models are only read here, never imported at run time, so a stored plan
that never ticks never pays for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..fabric.inputs import (
    CommandInput,
    Compiled,
    FaultInput,
    Group,
    Setup,
    Timed,
    TriggerRule,
    skill_key,
)

if TYPE_CHECKING:
    from .commands import CommandModel
    from .models import Scenario, ScheduleEntry


def compile_scenario(scenario: Scenario) -> Compiled:
    """A validated scenario as the engine reads it: the fabric at tick 0 and the timed
    inputs."""
    fabric = scenario.fabric
    owner = fabric.owner
    setup = Setup(
        shards=[shard.model_dump() for shard in sorted(fabric.shards, key=lambda s: s.id)],
        nodes=[node.model_dump() for node in sorted(fabric.nodes, key=lambda n: n.id)],
        checkpoint_every=scenario.run.checkpoint_every,
        report_label=scenario.reporting.label,
        governance=authority_config(scenario),
    )
    groups: list[Group] = [
        (
            g.id or g.prefix,
            g.shard,
            skill_key(g.skills),
            g.duration,
            g.value,
            g.value_step,
            g.first_tick,
            g.per_tick,
            g.count,
            g.id is not None,  # one job named by `id`, not `<prefix>-000001`
        )
        for g in scenario.workload
    ]
    schedule: dict[int, list[tuple[int, CommandInput]]] = {}
    triggers: list[tuple[int, TriggerRule, bool, CommandInput]] = []
    for index, entry in enumerate(scenario.schedule):
        command = scheduled_command(entry, owner.name)
        when = entry.when
        if when is not None:
            rule = TriggerRule(when.shard, when.queue_above, when.any_shard, when.describe())
            triggers.append((index, rule, entry.repeat, command))
        else:
            assert entry.tick is not None
            schedule.setdefault(entry.tick, []).append((index, command))
    faults: dict[int, list[tuple[int, int, FaultInput]]] = {}
    for index, fault in enumerate(scenario.faults):
        happening = FaultInput(fault.node, fault.kind, fault.latency_ms)
        faults.setdefault(fault.tick, []).append((1, index, happening))
        if fault.until is not None:
            faults.setdefault(fault.until, []).append((0, index, happening))
    for actions in faults.values():
        actions.sort(key=lambda action: (action[0], action[1]))
    return Compiled(setup, Timed(groups, schedule, triggers, faults))


def authority_config(scenario: Scenario) -> dict[str, Any] | None:
    """The owner's keys and thresholds as the fabric's authority reads them; None in open
    mode (no keys)."""
    owner = scenario.fabric.owner
    return owner.authority_config() if owner.keys else None


def scheduled_command(entry: ScheduleEntry, owner: str) -> CommandInput:
    """A schedule entry's command, as the engine applies it when it comes due."""
    model = entry.command
    return CommandInput(
        name=model.command,
        args=command_args(model),
        reason=model.reason,
        actor=model.actor or owner,
        source="schedule",
    )


def command_args(model: CommandModel) -> dict[str, Any]:
    """The arguments of a validated owner command, as recorded in its event."""
    raw = model.model_dump(by_alias=True, exclude_none=True)
    args = {k: v for k, v in raw.items() if k not in {"command", "reason", "actor"}}
    if not args.get("clear", True):
        del args["clear"]
    return args
