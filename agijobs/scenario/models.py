"""A scenario: the fabric, its workload, faults and schedule, how to run it, what to expect."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_serializer, model_validator

from ..fabric.commands import canonical_name
from ..fabric.inputs import arrivals_per_tick, first_arrival_tick
from .base import (
    Amount,
    Flag,
    Int,
    Model,
    Name,
    NonNegativeInt,
    PositiveInt,
    Ratio,
    RequiredText,
    Skills,
    Text,
    Tick,
    Ticks,
)
from .commands import OwnerCommand
from .limits import MAX_JOBS_PER_GROUP
from .topology import FabricSpec

DEFAULT_MAX_ATTEMPTS = 3


class Arrival(Model):
    start: NonNegativeInt = 1
    per_tick: PositiveInt | None = None


class WorkGroup(Model):
    prefix: Name
    # A group of one job may name it exactly; otherwise jobs are `{prefix}-{n:06d}`.
    id: Name | None = None
    note: Text | None = None
    shard: Name
    skills: Skills
    count: Annotated[int, Field(strict=True, gt=0, le=MAX_JOBS_PER_GROUP)]
    duration: Ticks
    value: NonNegativeInt = 0
    value_step: Int = 0
    arrive: Arrival = Arrival()

    @model_validator(mode="after")
    def _values_stay_non_negative(self) -> WorkGroup:
        if self.value + (self.count - 1) * self.value_step < 0:
            raise ValueError("value + (count - 1) * value_step must not be negative")
        if self.id is not None and self.count != 1:
            raise ValueError(f"`id` names a single job; count is {self.count} (drop `id`)")
        return self

    def job_id(self, index: int) -> str:
        return self.id if self.id is not None else f"{self.prefix}-{index + 1:06d}"

    @property
    def first_tick(self) -> int:
        return first_arrival_tick(self.arrive.start)

    @property
    def per_tick(self) -> int:
        return arrivals_per_tick(self.arrive.per_tick, self.count)


class Fault(Model):
    tick: Tick
    node: Name
    kind: Literal["outage", "latency"]
    until: Tick | None = None
    latency_ms: NonNegativeInt | None = None

    @model_validator(mode="after")
    def _shape(self) -> Fault:
        if self.until is not None and self.until <= self.tick:
            raise ValueError(f"until ({self.until}) must be after tick ({self.tick})")
        if self.kind == "latency" and self.latency_ms is None:
            raise ValueError("a latency fault needs latency_ms")
        if self.kind == "outage" and self.latency_ms is not None:
            raise ValueError("latency_ms belongs to latency faults, not outages")
        return self


class Trigger(Model):
    """A condition on the fabric, checked at the start of every tick (before commands)."""

    shard: Name | None = None
    queue_above: NonNegativeInt | None = None
    any_shard: Literal["critical", "degraded"] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Trigger:
        shard_form = self.shard is not None and self.queue_above is not None
        if shard_form == (self.any_shard is not None) or (
            not shard_form and (self.shard is not None or self.queue_above is not None)
        ):
            raise ValueError("give either {shard, queue_above} or {any_shard: critical|degraded}")
        return self

    def describe(self) -> str:
        if self.any_shard is not None:
            return f"any shard is {self.any_shard}"
        return f"{self.shard} queue > {self.queue_above}"


_ENTRY_KEYS = frozenset({"tick", "note", "when", "repeat"})


class ScheduleEntry(Model):
    """A command at a tick, or (`when`) the first tick a condition holds: a trigger, which
    fires once, or at every tick the condition becomes true again with `repeat`."""

    tick: Tick | None = None
    when: Trigger | None = None
    repeat: Flag = False
    command: OwnerCommand
    note: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, raw: Any) -> Any:
        """Schedule entries are written flat: ``{tick, command: NAME, note, ...arguments}``."""
        if isinstance(raw, dict) and isinstance(raw.get("command"), str):
            body = {k: v for k, v in raw.items() if k not in _ENTRY_KEYS}
            body["command"] = canonical_name(body["command"])
            flat = {k: raw[k] for k in _ENTRY_KEYS if k in raw}
            flat["command"] = body
            return flat
        return raw

    @model_validator(mode="after")
    def _tick_or_when(self) -> ScheduleEntry:
        if (self.tick is None) == (self.when is None):
            raise ValueError("give either `tick` or `when` (a trigger), not both or neither")
        if self.repeat and self.when is None:
            raise ValueError("`repeat` belongs to triggers (entries with `when`)")
        return self

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> Any:
        # Tick entries serialise as before triggers existed: the same inputs id.
        data = handler(self)
        for name, empty in (("when", None), ("repeat", False), ("tick", None)):
            if name in data and data[name] == empty:
                del data[name]
        return data


class ApplyEntry(Model):
    """A command given to `agijobs apply`: a schedule entry without a tick."""

    command: OwnerCommand

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("command"), str):
            return {"command": {**raw, "command": canonical_name(raw["command"])}}
        return raw


class RunSettings(Model):
    max_ticks: Ticks = 10_000
    checkpoint_every: Ticks = 20
    # `agijobs run` stops (resumably) after this many ticks, as if given --stop-after-ticks.
    stop_after_ticks: Ticks | None = None
    # An external executor may reject a dispatch; the job fails at this many rejections.
    max_attempts: PositiveInt = DEFAULT_MAX_ATTEMPTS

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> Any:
        # Scenarios written before executors existed keep their inputs id.
        data = handler(self)
        if data.get("max_attempts") == DEFAULT_MAX_ATTEMPTS:
            del data["max_attempts"]
        return data


class Reporting(Model):
    label: Name = "latest"


class Expectations(Model):
    min_completed_ratio: Ratio | None = None
    max_failed_ratio: Ratio | None = None
    events_digest: Annotated[str, Field(strict=True, pattern=r"^[0-9a-f]{64}$")] | None = None
    # Every job done (completed, failed or cancelled) by this tick.
    drained_by_tick: Tick | None = None
    # Spend: each node's price_per_job × the jobs it completed, summed.
    max_cost: Amount | None = None

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> Any:
        # Plans written before these keys existed keep their plan_id.
        data = handler(self)
        for name in ("drained_by_tick", "max_cost"):
            if name in data and data[name] is None:
                del data[name]
        return data


class Scenario(Model):
    name: Name
    seed: Int = 0
    fabric: FabricSpec
    workload: list[WorkGroup] = []
    faults: list[Fault] = []
    schedule: list[ScheduleEntry] = []
    run: RunSettings = RunSettings()
    reporting: Reporting = Reporting()


class ScenarioFile(Scenario):
    """The file shape: a scenario plus its expectations; `fabric` may be a relative path."""

    expect: Expectations = Expectations()
    # Operator sentences (`agijobs plan --intent` reads the same): translated into schedule
    # entries, triggers, faults and expectations when the file is loaded.
    intents: list[RequiredText] = []
