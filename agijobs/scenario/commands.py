"""The owner commands' arguments as the boundary validates them: one model per command.

The vocabulary itself (which commands exist, in which order) is the fabric's
(`agijobs.fabric.commands.COMMAND_NAMES`); these models cover exactly it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import (
    Flag,
    Metadata,
    Model,
    Name,
    NonNegativeInt,
    PositiveInt,
    Price,
    RequiredText,
    Skills,
    Text,
    Ticks,
)
from .limits import MAX_BUDGET_MS, MAX_JOBS_PER_SUBMIT, MAX_TOTAL_VALUE
from .topology import NodeSpec, OwnerKey, ShardSpec, SpilloverPolicy


class CommandBase(Model):
    reason: RequiredText
    actor: RequiredText | None = None


class PauseAll(CommandBase):
    command: Literal["pause-all"]


class Resume(CommandBase):
    command: Literal["resume"]


class Reroute(CommandBase):
    command: Literal["reroute"]
    from_: Name = Field(alias="from")
    to: Name | None = None
    backlog: Literal["all"] | NonNegativeInt | None = None
    job: Name | None = None
    clear: Flag = False

    @model_validator(mode="after")
    def _shape(self) -> Reroute:
        if self.clear:
            if self.to is not None or self.backlog is not None or self.job is not None:
                raise ValueError("clear restores the configured targets; drop to/backlog/job")
        elif self.to is None:
            raise ValueError("reroute needs `to` (or `clear: true`)")
        elif self.to == self.from_:
            raise ValueError("`to` must differ from `from`")
        if self.job is not None and self.backlog is not None:
            raise ValueError("give either `job` or `backlog`, not both")
        return self


class SetLatency(CommandBase):
    command: Literal["set-latency"]
    shard: Name
    ms: Annotated[int, Field(strict=True, gt=0, le=MAX_BUDGET_MS)]


class ShardPause(CommandBase):
    command: Literal["shard.pause"]
    shard: Name


class ShardResume(CommandBase):
    command: Literal["shard.resume"]
    shard: Name


class ShardRegister(CommandBase):
    command: Literal["shard.register"]
    shard: ShardSpec


class Redistribution(Model):
    """Where a deregistered shard's jobs go: to `target`, or cancelled."""

    mode: Literal["spillover", "cancel"]
    target: Name | None = None

    @model_validator(mode="after")
    def _shape(self) -> Redistribution:
        if self.mode == "spillover" and self.target is None:
            raise ValueError("mode `spillover` needs `target` (the shard that takes the jobs)")
        if self.mode == "cancel" and self.target is not None:
            raise ValueError("mode `cancel` takes no `target`")
        return self


class ShardDeregister(CommandBase):
    command: Literal["shard.deregister"]
    shard: Name
    redistribution: Redistribution


class ShardChanges(Model):
    name: Text | None = None
    latency_budget_ms: PositiveInt | None = None
    max_queue: PositiveInt | None = None
    alert_threshold: PositiveInt | None = None
    spillover: list[SpilloverPolicy] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ShardChanges:
        if not self.model_fields_set:
            raise ValueError("update changes nothing; name at least one field")
        return self


class ShardUpdate(CommandBase):
    command: Literal["shard.update"]
    shard: Name
    update: ShardChanges


class NodeRegister(CommandBase):
    command: Literal["node.register"]
    node: NodeSpec


class NodeChanges(Model):
    slots: PositiveInt | None = None
    skills: Skills | None = None
    latency_ms: NonNegativeInt | None = None
    heartbeat_ticks: Ticks | None = None
    price_per_job: Price | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> NodeChanges:
        if not self.model_fields_set:
            raise ValueError("update changes nothing; name at least one field")
        return self


class NodeUpdate(CommandBase):
    command: Literal["node.update"]
    node: Name
    update: NodeChanges


class NodeDeregister(CommandBase):
    command: Literal["node.deregister"]
    node: Name


# Node operations (agijobs.fabric.nodes)


class NodeCordon(CommandBase):
    """The node takes no new work; its running jobs carry on."""

    command: Literal["node.cordon"]
    node: Name


class NodeUncordon(CommandBase):
    """The node takes work again (a drain in progress ends)."""

    command: Literal["node.uncordon"]
    node: Name


class NodeDrain(CommandBase):
    """Cordon the node; jobs still running on it `deadline_ticks` ticks after the command
    go back to their shard's queue."""

    command: Literal["node.drain"]
    node: Name
    deadline_ticks: Ticks


class Locator(Model):
    """A job by its place in a shard's line: `offset` 0 is the newest queued job; with
    `include_in_flight`, running jobs count too, at their place in the line (FIFO order)."""

    kind: Literal["tail"]
    shard: Name
    offset: NonNegativeInt
    include_in_flight: Flag = False


class JobCommand(CommandBase):
    job: Name | None = None
    locator: Locator | None = None

    @model_validator(mode="after")
    def _one_target(self) -> JobCommand:
        if (self.job is None) == (self.locator is None):
            raise ValueError("give exactly one of `job` (an id) or `locator`")
        return self


class SubmittedJobs(Model):
    """Jobs submitted by `job.submit`, as a workload group gives them (the same types and
    bounds): one job named by `id`, or `count` jobs `<prefix>-000001`, `<prefix>-000002`…"""

    id: Name | None = None
    prefix: Name | None = None
    count: Annotated[int, Field(strict=True, gt=0, le=MAX_JOBS_PER_SUBMIT)] | None = None
    shard: Name
    skills: Skills
    duration: Ticks
    value: NonNegativeInt = 0

    @model_validator(mode="after")
    def _one_form(self) -> SubmittedJobs:
        if self.id is not None and (self.prefix is not None or self.count is not None):
            raise ValueError("give either `id` (one job) or `prefix` and `count`, not both")
        if self.id is None and (self.prefix is None or self.count is None):
            raise ValueError("give `id` (one job), or `prefix` and `count` (count jobs)")
        return self

    @property
    def jobs(self) -> int:
        return 1 if self.count is None else self.count


class JobSubmit(CommandBase):
    """New jobs into the fabric, all or none: each joins the back of its shard's queue."""

    command: Literal["job.submit"]
    jobs: Annotated[list[SubmittedJobs], Field(min_length=1)]

    @model_validator(mode="after")
    def _within_limits(self) -> JobSubmit:
        count = sum(entry.jobs for entry in self.jobs)
        if count > MAX_JOBS_PER_SUBMIT:
            raise ValueError(
                f"{count:,} jobs in one submission, more than {MAX_JOBS_PER_SUBMIT:,} "
                '(docs/scenario-format.md, "Limits"); split it'
            )
        value = sum(entry.jobs * entry.value for entry in self.jobs)
        if value > MAX_TOTAL_VALUE:
            raise ValueError(f"the jobs' values add up to {value:,}, more than {MAX_TOTAL_VALUE:,}")
        return self


class JobCancel(JobCommand):
    command: Literal["job.cancel"]


class JobReroute(JobCommand):
    command: Literal["job.reroute"]
    to: Name


class CheckpointSave(CommandBase):
    command: Literal["checkpoint.save"]


class CheckpointConfigure(CommandBase):
    command: Literal["checkpoint.configure"]
    every: Ticks


class ReportingConfigure(CommandBase):
    command: Literal["reporting.configure"]
    label: Name


class GovernanceUpdate(CommandBase):
    """Change the key set or thresholds in force; always needs the default threshold."""

    command: Literal["governance.update"]
    keys: list[OwnerKey] | None = None
    approvals: dict[str, PositiveInt] | None = None
    operator_may: list[str] | None = None
    proposal_expiry_ticks: Ticks | None = None

    @model_validator(mode="after")
    def _something(self) -> GovernanceUpdate:
        if all(
            v is None
            for v in (self.keys, self.approvals, self.operator_may, self.proposal_expiry_ticks)
        ):
            raise ValueError(
                "give at least one of keys, approvals, operator_may, proposal_expiry_ticks"
            )
        return self


CommandModel = (
    PauseAll
    | Resume
    | Reroute
    | SetLatency
    | ShardPause
    | ShardResume
    | ShardRegister
    | ShardDeregister
    | ShardUpdate
    | NodeRegister
    | NodeUpdate
    | NodeDeregister
    | NodeCordon
    | NodeUncordon
    | NodeDrain
    | JobSubmit
    | JobCancel
    | JobReroute
    | CheckpointSave
    | CheckpointConfigure
    | ReportingConfigure
    | GovernanceUpdate
)
OwnerCommand = Annotated[CommandModel, Field(discriminator="command")]


COMMAND_MODELS: dict[str, type[CommandBase]] = {
    model.model_fields["command"].annotation.__args__[0]: model for model in CommandModel.__args__
}
