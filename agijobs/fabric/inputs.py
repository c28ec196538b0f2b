"""What the engine reads: a scenario compiled into plain data, and owner commands as issued.

The engine never validates and never imports the scenario models: the boundary
(`agijobs.scenario`) compiles a validated scenario into a `Setup` (the fabric at tick 0) and
`Timed` inputs (what arrives, fails or is commanded at which tick), and hands the engine
`FabricInputs`. A stored run's engine is restored from its checkpoint, and then the
scenario matters only when the engine ticks: `status` and owner commands at rest never
tick, so their `FabricInputs` carry only what the stored plan's document says at a glance,
and `compile` (which validates) runs the first time a tick or a fresh engine needs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

SkillKey = tuple[str, ...]  # a job's needed skills, sorted, each once (`skill_key`)
# (name, shard, skills, duration, value, value step, first tick, per tick, count, named)
Group = tuple[str, str, SkillKey, int, int, int, int, int, int, bool]


def first_arrival_tick(start: int) -> int:
    """Tick 0 is the state before the run, so `start: 0` means the first tick."""
    return max(1, start)


def arrivals_per_tick(per_tick: int | None, count: int) -> int:
    """A group without `per_tick` arrives all at once."""
    return per_tick or count


def skill_key(skills: Iterable[str]) -> SkillKey:
    """The one form of a set of skills: sorted, each once."""
    return tuple(sorted(set(skills)))


@dataclass(frozen=True, slots=True)
class CommandInput:
    """An owner command as issued: the name, its arguments and its provenance."""

    name: str
    args: dict[str, Any]
    reason: str
    actor: str
    source: str  # "schedule" | "live" | "at-rest"
    issued_at: str | None = None
    id: str | None = None
    # Signatures and their context (run id, nonce) on a fabric that declares keys; after
    # authorisation, the link {nonce, signed_by} to its `governance.authorized` event.
    auth: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        raw = {
            "command": self.name,
            "args": self.args,
            "reason": self.reason,
            "actor": self.actor,
            "source": self.source,
            "issued_at": self.issued_at,
            "id": self.id,
        }
        if self.auth is not None:  # open-mode events keep their bytes
            raw["auth"] = self.auth
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CommandInput:
        return cls(
            name=raw["command"],
            args=dict(raw["args"]),
            reason=raw["reason"],
            actor=raw["actor"],
            source=raw["source"],
            issued_at=raw.get("issued_at"),
            id=raw.get("id"),
            auth=raw.get("auth"),
        )

    def with_source(self, source: str) -> CommandInput:
        return dataclasses.replace(self, source=source)

    def with_auth(self, auth: dict[str, Any] | None) -> CommandInput:
        return dataclasses.replace(self, auth=auth)


BATCH = "batch"  # a list of commands applied together, all or none


class TriggerRule(NamedTuple):
    """A condition on the fabric checked at the start of every tick: a shard's queue above
    a size, or any shard at a health."""

    shard: str | None
    queue_above: int | None
    any_shard: str | None  # "critical" | "degraded"
    text: str  # as `trigger.fired` events describe it


class FaultInput(NamedTuple):
    node: str
    kind: str  # "outage" | "latency"
    latency_ms: int | None


class Timed(NamedTuple):
    """The timed inputs, in the order a tick applies them."""

    groups: list[Group]
    schedule: dict[int, list[tuple[int, CommandInput]]]  # tick -> (entry index, command)
    triggers: list[tuple[int, TriggerRule, bool, CommandInput]]  # (entry index, when, repeat, …)
    faults: dict[int, list[tuple[int, int, FaultInput]]]  # tick -> (1 starts / 0 ends, index, …)


class Setup(NamedTuple):
    """The fabric at tick 0."""

    # Shard and node specs, each as `shard.register` / `node.register` carries one.
    shards: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    checkpoint_every: int
    report_label: str
    # The owner's authority config (keys, approvals, operator_may, proposal expiry); None in
    # open mode (no keys).
    governance: dict[str, Any] | None


class Planned(NamedTuple):
    """The workload at a glance: each group's (name, count, named) — a named group is one
    job whose id is its name, any other is `<name>-000001`… — and how many jobs it plans."""

    groups: tuple[tuple[str, int, bool], ...] = ()
    jobs: int = 0


class Compiled(NamedTuple):
    setup: Setup
    timed: Timed


class FabricInputs:
    """A scenario as the engine reads it: what a stored plan says at a glance, and the rest
    compiled on first use by `compile`, which the boundary provides."""

    __slots__ = (
        "_compile",
        "_compiled",
        "keyed",
        "last_input_tick",
        "max_ticks",
        "name",
        "planned",
        "shard_ids",
        "trigger_count",
    )

    def __init__(
        self,
        *,
        name: str,
        max_ticks: int,
        shard_ids: list[str],
        keyed: bool,
        last_input_tick: int,
        trigger_count: int,
        compile: Callable[[], Compiled],
        planned: Planned = Planned(),
    ) -> None:
        self.name = name
        self.max_ticks = max_ticks
        self.shard_ids = shard_ids
        self.keyed = keyed  # whether the owner declares keys
        self.last_input_tick = last_input_tick
        self.trigger_count = trigger_count  # schedule entries with `when`
        self.planned = planned  # the workload's job ids (submitted jobs must not reuse them)
        self._compile = compile
        self._compiled: Compiled | None = None

    def compiled(self) -> Compiled:
        if self._compiled is None:
            self._compiled = self._compile()
        return self._compiled

    def timed(self) -> Timed:
        return self.compiled().timed
