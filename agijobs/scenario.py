"""Load and validate scenario and plan files: the pydantic boundary of agijobs.

A scenario file (YAML or JSON) describes a whole drill. `load_plan` turns one, or a plan
file written by `agijobs plan`, into a `Plan`: the validated scenario in canonical form,
its expectations, and the two identities derived from it:

- ``inputs_id``: sha256 of the canonical scenario without ``expect``. It is recorded in the
  event log and the checkpoint, so a golden ``events_digest`` in ``expect`` is never part of
  the bytes it describes.
- ``plan_id``: sha256 of the canonical plan document without ``plan_id``.

Every error names the file, the key path inside it and the fix, and nothing is written.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_serializer,
    model_validator,
)

from .errors import BadInput, Conflict
from .fabric.inputs import FabricInputs, arrivals_per_tick, first_arrival_tick
from .ledger.canonical import dumps, sha256_hex
from .plan import PLAN_FORMAT, Plan, check_identity, check_signatures, decode_plan

M = TypeVar("M", bound=BaseModel)
MAX_JOBS_PER_GROUP = 100_000_000
MAX_TICKS = 10_000_000

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Tick = Annotated[int, Field(ge=1, le=MAX_TICKS)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
Skills = Annotated[list[Name], Field(min_length=1)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Role = Literal["owner", "operator"]
DEFAULT_PROPOSAL_EXPIRY = 100
DEFAULT_MAX_ATTEMPTS = 3


class OwnerKey(Model):
    """A key allowed to sign owner commands: `keys new` prints this line."""

    name: Name
    public_key: str
    roles: Annotated[list[Role], Field(min_length=1)] = ["owner"]

    @model_validator(mode="after")
    def _ed25519(self) -> OwnerKey:
        from .ledger.signing import parse_public_key

        try:
            parse_public_key(self.public_key)
        except ValueError as error:
            raise ValueError(f"public_key {error}") from None
        return self


class Owner(Model):
    """Who may change the fabric. With `keys`, only signed commands do (see README,
    "Owner authority"); without, the fabric runs in open mode: unauthenticated."""

    name: str = Field(min_length=1)
    # Anything else the operator keeps about the owner (addresses, roles): shown, not used.
    metadata: dict[str, Any] = {}
    keys: list[OwnerKey] = []
    # Owner signatures each command needs: command name (or `default`) -> count.
    approvals: dict[str, PositiveInt] = {}
    operator_may: list[str] = []  # break-glass: commands an operator key may issue alone
    proposal_expiry_ticks: PositiveInt = DEFAULT_PROPOSAL_EXPIRY

    @model_validator(mode="before")
    @classmethod
    def _canonical_names(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        raw = dict(raw)
        if isinstance(raw.get("approvals"), dict):
            raw["approvals"] = {canonical_name(k): v for k, v in raw["approvals"].items()}
        if isinstance(raw.get("operator_may"), list):
            raw["operator_may"] = [canonical_name(n) for n in raw["operator_may"]]
        return raw

    @model_validator(mode="after")
    def _consistent(self) -> Owner:
        problems = governance_problems(
            [k.model_dump() for k in self.keys], self.approvals, self.operator_may
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> Any:
        # An open-mode owner serialises as before keys existed: same bytes, same inputs id.
        data = handler(self)
        for name, empty in (
            ("keys", []),
            ("approvals", {}),
            ("operator_may", []),
            ("proposal_expiry_ticks", DEFAULT_PROPOSAL_EXPIRY),
        ):
            if data.get(name) == empty:
                del data[name]
        return data

    def authority_config(self) -> dict[str, Any]:
        return {
            "keys": [k.model_dump() for k in self.keys],
            "approvals": {"default": 1, **self.approvals},
            "operator_may": self.operator_may,
            "proposal_expiry_ticks": self.proposal_expiry_ticks,
        }


def governance_problems(
    keys: list[dict[str, Any]], approvals: dict[str, int], operator_may: list[str]
) -> list[str]:
    """What makes a key set and its thresholds unusable (empty when it is sound)."""
    from .ledger.signing import parse_public_key

    problems = []
    if not keys:
        if approvals or operator_may:
            problems.append("approvals and operator_may need keys: declare owner keys first")
        return problems
    for what in ("name", "public_key"):
        seen = [k[what] for k in keys]
        twice = sorted({v for v in seen if seen.count(v) > 1})
        if twice:
            problems.append(f"keys: {what} {', '.join(twice)} listed twice")
    raw = []
    for k in keys:
        try:
            raw.append(parse_public_key(k["public_key"]))
        except ValueError as error:
            problems.append(f"keys: {k['name']}: public_key {error}")
    owners = sum(1 for k in keys if "owner" in k["roles"])
    if owners == 0:
        problems.append("keys: at least one key must have role owner")
    known = {*COMMAND_NAMES, "default"}
    for name, count in approvals.items():
        if name not in known:
            problems.append(
                f"approvals: unknown command `{name}`{_did_you_mean(name, sorted(known))}"
            )
        elif owners and count > owners:
            problems.append(
                f"approvals: {name} needs {count} owner signatures but only {owners} "
                "owner key(s) exist"
            )
    for name in operator_may:
        if name not in COMMAND_NAMES:
            problems.append(
                f"operator_may: unknown command `{name}`{_did_you_mean(name, COMMAND_NAMES)}"
            )
    return problems


class SpilloverPolicy(Model):
    target: Name
    threshold: NonNegativeInt
    max_drain_per_tick: PositiveInt
    required_skills: list[Name] = []


class ShardSpec(Model):
    id: Name
    name: str | None = None
    latency_budget_ms: PositiveInt
    max_queue: PositiveInt
    alert_threshold: PositiveInt | None = None
    spillover: list[SpilloverPolicy] = []

    @model_validator(mode="after")
    def _alert_within_queue(self) -> ShardSpec:
        if self.alert_threshold is not None and self.alert_threshold > self.max_queue:
            raise ValueError(
                f"alert_threshold ({self.alert_threshold}) must not exceed "
                f"max_queue ({self.max_queue})"
            )
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def effective_alert_threshold(self) -> int:
        """Default: 70% of max_queue, so a shard turns degraded well before it is full."""
        if self.alert_threshold is not None:
            return self.alert_threshold
        return max(1, self.max_queue * 7 // 10)


class NodeSpec(Model):
    id: Name
    shard: Name
    slots: PositiveInt
    skills: Skills
    latency_ms: NonNegativeInt = 0
    heartbeat_ticks: PositiveInt = 1
    price_per_job: Annotated[float, Field(ge=0)] | None = None
    metadata: dict[str, Any] = {}


class FabricSpec(Model):
    owner: Owner
    shards: Annotated[list[ShardSpec], Field(min_length=1)]
    nodes: list[NodeSpec] = []


class Arrival(Model):
    start: NonNegativeInt = 1
    per_tick: PositiveInt | None = None


class WorkGroup(Model):
    prefix: Name
    # A group of one job may name it exactly; otherwise jobs are `{prefix}-{n:06d}`.
    id: Name | None = None
    note: str | None = None
    shard: Name
    skills: Skills
    count: Annotated[int, Field(gt=0, le=MAX_JOBS_PER_GROUP)]
    duration: Annotated[int, Field(gt=0, le=MAX_TICKS)]
    value: NonNegativeInt = 0
    value_step: int = 0
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


class CommandBase(Model):
    reason: str = Field(min_length=1)
    actor: str | None = None


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
    clear: bool = False

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
    ms: Annotated[int, Field(gt=0, le=3_600_000)]


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
    name: str | None = None
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
    heartbeat_ticks: PositiveInt | None = None
    price_per_job: Annotated[float, Field(ge=0)] | None = None
    metadata: dict[str, Any] | None = None

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


class Locator(Model):
    """A job by its place in a shard's line: `offset` 0 is the newest queued job; with
    `include_in_flight`, running jobs count too, at their place in the line (FIFO order)."""

    kind: Literal["tail"]
    shard: Name
    offset: NonNegativeInt
    include_in_flight: bool = False


class JobCommand(CommandBase):
    job: Name | None = None
    locator: Locator | None = None

    @model_validator(mode="after")
    def _one_target(self) -> JobCommand:
        if (self.job is None) == (self.locator is None):
            raise ValueError("give exactly one of `job` (an id) or `locator`")
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
    every: PositiveInt


class ReportingConfigure(CommandBase):
    command: Literal["reporting.configure"]
    label: Name


class GovernanceUpdate(CommandBase):
    """Change the key set or thresholds in force; always needs the default threshold."""

    command: Literal["governance.update"]
    keys: list[OwnerKey] | None = None
    approvals: dict[str, PositiveInt] | None = None
    operator_may: list[str] | None = None
    proposal_expiry_ticks: PositiveInt | None = None

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
COMMAND_NAMES = tuple(COMMAND_MODELS)
# The reference demo's names for the two fabric-wide commands.
ALIASES = {"system.pause": "pause-all", "system.resume": "resume"}


def canonical_name(name: Any) -> Any:
    return ALIASES.get(name, name) if isinstance(name, str) else name


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
    repeat: bool = False
    command: OwnerCommand
    note: str | None = None

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
    max_ticks: Annotated[int, Field(gt=0, le=MAX_TICKS)] = 10_000
    checkpoint_every: PositiveInt = 20
    # `agijobs run` stops (resumably) after this many ticks, as if given --stop-after-ticks.
    stop_after_ticks: PositiveInt | None = None
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
    min_completed_ratio: Annotated[float, Field(ge=0, le=1)] | None = None
    max_failed_ratio: Annotated[float, Field(ge=0, le=1)] | None = None
    events_digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    # Every job done (completed, failed or cancelled) by this tick.
    drained_by_tick: Tick | None = None
    # Spend: each node's price_per_job × the jobs it completed, summed.
    max_cost: Annotated[float, Field(ge=0)] | None = None

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
    seed: int = 0
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
    intents: list[str] = []


# --------------------------------------------------------------------------- loading


def load_plan(
    path: Path,
    blueprint: Path | None = None,
    owner_commands: Path | None = None,
    intents: Sequence[str] = (),
) -> Plan:
    """Load a scenario file, a plan file or a reference demo file (a mission plan, or a
    fabric config with `blueprint` and `owner_commands`), recognised by content. `intents`
    are operator sentences added to a scenario's own `intents:`."""
    raw = _read_document(path)
    if isinstance(raw, dict) and "plan_id" in raw and "format" in raw:
        _no_reference_options(path, "a plan file", blueprint, owner_commands)
        if intents:
            raise BadInput(
                f"--intent: {path} is a plan file, already reviewed",
                "give intents with the scenario it was planned from",
            )
        return _plan_from_document(path, raw)
    from . import reference

    kind = reference.kind_of(raw)
    if kind is not None:
        if intents:
            raise BadInput(
                f"--intent: {path} is a reference demo file",
                "migrate it with `agijobs plan FILE --emit-scenario S.yaml`, then plan S.yaml "
                "with intents",
            )
        if kind == "mission":
            _no_reference_options(path, "a reference mission plan", blueprint, owner_commands)
            translation = reference.translate_mission(path, raw)
        else:
            translation = reference.translate_fabric(path, raw, blueprint, owner_commands)
        plan = _plan_from_scenario(path, translation.scenario)
        sources = [source_digest(p) for p in (path, blueprint, owner_commands) if p is not None]
        plan = build_plan(plan.scenario, plan.expect, sources=sources)
        return dataclasses.replace(
            plan,
            notices=translation.notices,
            translated=translation.scenario,
            schedule_origins=translation.origins,
        )
    _no_reference_options(path, "an agijobs scenario", blueprint, owner_commands)
    return _plan_from_scenario(path, raw, intents)


def _no_reference_options(
    path: Path, what: str, blueprint: Path | None, owner_commands: Path | None
) -> None:
    given = [
        flag
        for flag, value in (("--blueprint", blueprint), ("--owner-commands", owner_commands))
        if value
    ]
    if given:
        raise BadInput(
            f"{' and '.join(given)}: only for a reference fabric config; {path} is {what}",
            "drop the option (a mission plan names its blueprint and commands itself)",
        )


def _plan_from_scenario(path: Path, raw: Any, more_intents: Sequence[str] = ()) -> Plan:
    if not isinstance(raw, dict):
        raise BadInput(
            f"{path}: expected a mapping at the top level (got {type(raw).__name__})",
            "a scenario starts with `name:`, `fabric:` and `workload:`",
        )
    sources = [source_digest(path)] if path.is_file() else []
    if isinstance(raw.get("fabric"), str):
        fabric_path = (path.parent / raw["fabric"]).resolve()
        fabric_raw = _read_document(fabric_path)
        _validate(fabric_path, FabricSpec, fabric_raw, prefix=())
        sources.append(source_digest(path.parent / raw["fabric"]))  # as named: portable
        raw = {**raw, "fabric": fabric_raw}
    parsed = _validate(path, ScenarioFile, raw, prefix=())
    scenario = Scenario.model_validate(
        {
            k: v
            for k, v in parsed.model_dump(by_alias=True).items()
            if k not in ("expect", "intents")
        }
    )
    check_references(path, scenario)
    expect = parsed.expect
    reviewed: list[dict[str, Any]] = []
    intents = [*parsed.intents, *more_intents]
    if intents:
        scenario, expect, reviewed = with_intents(path, scenario, expect, intents, now=None)
    return build_plan(scenario, expect, intents=reviewed, sources=sources)


def with_intents(
    label: Path,
    scenario: Scenario,
    expect: Expectations,
    intents: Sequence[str],
    now: int | None,
) -> tuple[Scenario, Expectations, list[dict[str, Any]]]:
    """The scenario and expectations with operator sentences translated into schedule
    entries, triggers, faults and expectations; and each sentence beside what it became."""
    from .intents import parse_intent

    shards = [s.id for s in scenario.fabric.shards]
    shards += [
        e.command.shard.id for e in scenario.schedule if isinstance(e.command, ShardRegister)
    ]
    nodes = [n.id for n in scenario.fabric.nodes]
    nodes += [e.command.node.id for e in scenario.schedule if isinstance(e.command, NodeRegister)]
    scenario_doc = scenario.model_dump(mode="json", by_alias=True)
    expect_doc = expect.model_dump(mode="json")
    reviewed = []
    for text in intents:
        intent = parse_intent(text, shards, nodes, now)
        if intent.kind in ("schedule", "trigger"):
            scenario_doc["schedule"].append(intent.entry)
        elif intent.kind == "fault":
            scenario_doc["faults"].append(intent.entry)
        else:
            expect_doc.update(intent.entry)
        reviewed.append(
            {"text": text, "kind": intent.kind, "became": intent.summary, "entry": intent.entry}
        )
    resolved = _validate(label, Scenario, scenario_doc, prefix=())
    check_references(label, resolved)
    return resolved, _validate(label, Expectations, expect_doc, prefix=("expect",)), reviewed


def plan_from_bytes(label: str, data: bytes) -> Plan:
    """Load a plan document held in memory (e.g. a storage's run-plan.json), validated."""
    return _plan_from_document(Path(label), decode_plan(label, data))


def validate_scenario_document(label: str, document: Any) -> Scenario:
    """A scenario document as a plan holds it, validated (`FabricInputs.scenario`)."""
    scenario = _validate(Path(label), Scenario, document, prefix=("scenario",))
    check_references(Path(label), scenario)
    return scenario


def build_plan(
    scenario: Scenario,
    expect: Expectations,
    predicted: dict[str, Any] | None = None,
    *,
    intents: Sequence[dict[str, Any]] = (),
    sources: Sequence[dict[str, str]] = (),
    version: str | None = None,
) -> Plan:
    """The plan document: the resolved scenario, its expectations, the operator intents it
    came from (each beside what it became), the prediction and the agijobs version;
    `plan_id` is the sha256 of all that. Beside it: the source files' digests, so `run` can
    tell a stale plan."""
    scenario_doc = scenario.model_dump(mode="json", by_alias=True)
    expect_doc = expect.model_dump(mode="json")
    document: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "scenario": scenario_doc,
        "expect": expect_doc,
    }
    if intents:
        document["intents"] = list(intents)
    if predicted is not None:
        document["predicted"] = predicted
    if version is not None:
        document["agijobs_version"] = version
    plan_id = sha256_hex(dumps(document))
    document["plan_id"] = plan_id
    if sources:
        # Provenance, outside plan_id (as signatures are): the same scenario saved under
        # another name is the same plan.
        document["sources"] = list(sources)
    return Plan(
        FabricInputs(scenario_doc, scenario),
        sha256_hex(dumps(scenario_doc)),
        plan_id,
        document,
        intents=tuple(intents),
        sources=tuple(sources),
        validated_expect=expect,
    )


def source_digest(path: Path) -> dict[str, str]:
    return {"path": str(path), "sha256": sha256_hex(path.read_bytes())}


def check_fresh(plan: Plan, label: Path) -> None:
    """`run PLAN` refuses a plan whose source files changed since planning (exit 4)."""
    for source in plan.sources:
        path = Path(source["path"])
        if path.is_file() and sha256_hex(path.read_bytes()) != source["sha256"]:
            raise Conflict(
                f"{label}: plan is stale: {path} changed since it was planned",
                f"re-run `agijobs plan {plan.sources[0]['path']}`",
            )


def _plan_from_document(path: Path, raw: dict[str, Any]) -> Plan:
    check_identity(str(path), raw)
    scenario = _validate(path, Scenario, raw.get("scenario"), prefix=("scenario",))
    expect = _validate(path, Expectations, raw.get("expect", {}), prefix=("expect",))
    check_references(path, scenario)
    plan = build_plan(
        scenario,
        expect,
        raw.get("predicted"),
        intents=raw.get("intents", ()),
        sources=raw.get("sources", ()),
        version=raw.get("agijobs_version"),
    )
    if plan.plan_id != raw["plan_id"]:
        raise BadInput(
            f"{path}: the plan is not in canonical form",
            "run `agijobs plan SCENARIO` again to write a fresh plan",
        )
    return dataclasses.replace(plan, signatures=check_signatures(str(path), raw))


def _read_document(path: Path) -> Any:
    if path.is_dir():
        raise BadInput(f"{path}: is a directory", "pass a scenario or plan file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file", "check the path") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})", "check the path") from None
    return parse_document(path, data)


def read_commands_document(path: Path, data: bytes | None) -> Any:
    """An `agijobs apply` document: from `path`, or `data` already read (stdin)."""
    return _read_document(path) if data is None else parse_document(path, data)


def parse_document(path: Path, data: bytes) -> Any:
    """YAML or JSON bytes (JSON when `path` ends in .json) as plain data."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{path}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        ) from None
    if not text.strip():
        raise BadInput(f"{path}: the file is empty", "write a scenario or command (see README)")
    if path.suffix.lower() == ".json":
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BadInput(
                f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})",
                "fix the JSON syntax",
            ) from None
    import yaml

    try:
        return yaml.load(text, Loader=_unique_key_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInput(f"{path}: {where}invalid YAML ({problem})", "fix the YAML syntax") from None


def _unique_key_loader() -> Any:
    """A SafeLoader that refuses a key given twice in one mapping (YAML keeps the last)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key `{key}`", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _validate(path: Path, model: type[M], raw: Any, prefix: Sequence[str]) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(path, error, model, prefix) for error in exc.errors()[:10]]
        raise BadInput("\n".join(lines), "fix the value(s) named above") from None


def _describe(path: Path, error: Any, model: type[BaseModel], prefix: Sequence[str]) -> str:
    loc = [*prefix, *(str(p) for p in error["loc"] if not _is_union_tag(p))]
    kind = error["type"]
    for i in range(2, len(loc)):
        # Schedule entries are written flat (schedule -> 1 -> from), so the command model's
        # own level is the entry, except where the `command` key itself is meant.
        if loc[i] == "command" and loc[i - 2] in {"schedule", "commands"}:
            if i < len(loc) - 1 or kind == "value_error":
                del loc[i]
            break
    where = " -> ".join(loc) if loc else "(top level)"
    if kind == "union_tag_invalid":
        tag = str(error.get("ctx", {}).get("tag", ""))
        hint = _did_you_mean(tag, COMMAND_NAMES)
        return f"{path}: {where}: unknown command `{tag}`{hint} (one of {', '.join(COMMAND_NAMES)})"
    if kind == "extra_forbidden":
        hint = _did_you_mean(str(error["loc"][-1]), _known_keys(model, error["loc"][:-1]))
        return f"{path}: {where}: unknown key{hint}"
    if kind == "missing":
        return f"{path}: {where}: required key is missing"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{path}: {where}: {message}{shown}"


def _is_union_tag(part: Any) -> bool:
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


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


# ----------------------------------------------------------------- cross references


def check_references(path: Path, scenario: Scenario) -> None:
    """Reject unknown or duplicate ids and impossible timings, naming the key path."""
    problems: list[str] = []
    fabric = scenario.fabric
    shard_ids = [s.id for s in fabric.shards]
    node_ids = [n.id for n in fabric.nodes]
    shards, nodes = set(shard_ids), set(node_ids)

    def unknown(where: str, kind: str, name: str, known: set[str]) -> None:
        hint = _did_you_mean(name, sorted(known))
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
    if problems:
        raise BadInput("\n".join(problems), "fix the reference(s) named above")


def _generated_by(job_id: str, groups: Sequence[WorkGroup]) -> int | None:
    """The index of the group whose generated ids include `job_id`, if any."""
    prefix, _, number = job_id.rpartition("-")
    if len(number) != 6 or not number.isdigit():
        return None
    for i, group in enumerate(groups):
        if group.id is None and group.prefix == prefix and 1 <= int(number) <= group.count:
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
            hint = _did_you_mean(when.shard, sorted(shards))
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
            hint = _did_you_mean(name, sorted(shards))
            problems.append(f"{base} -> {key}: unknown shard `{name}`{hint}")

        def node(key: str, name: str, base: str = base) -> None:
            if name not in nodes:
                hint = _did_you_mean(name, sorted(nodes))
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
        elif isinstance(command, NodeUpdate | NodeDeregister):
            node("node", command.node)
            if isinstance(command, NodeDeregister):
                nodes.discard(command.node)
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


# ------------------------------------------------------------------ owner commands


def command_args(model: CommandModel) -> dict[str, Any]:
    """The arguments of a validated owner command, as recorded in its event."""
    raw = model.model_dump(by_alias=True, exclude_none=True)
    args = {k: v for k, v in raw.items() if k not in {"command", "reason", "actor"}}
    if not args.get("clear", True):
        del args["clear"]
    return args


Part = tuple[str, dict[str, Any], str]  # (command, arguments, reason)


def parse_commands(
    path: Path, raw: Any, default_reason: str | None
) -> tuple[list[Part], list[str]]:
    """The commands of an `agijobs apply` document: one command, a list of them, or
    ``{commands: [...]}``; each in agijobs form (``command: NAME``, snake_case) or in the
    reference demo's form (``type: NAME``, camelCase). Nothing is applied here. Returns the
    commands and notices of what a reference-form command had that agijobs ignores."""
    entries = raw.get("commands") if isinstance(raw, dict) and "commands" in raw else raw
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise BadInput(
            f"{path}: expected a command, a list of commands or {{commands: [...]}}",
            "e.g. {command: shard.pause, shard: earth, reason: 'why'}",
        )
    parts: list[Part] = []
    notices: list[str] = []
    for i, entry in enumerate(entries):
        where = f"{path}: commands -> {i}"
        if not isinstance(entry, dict):
            raise BadInput(f"{where}: expected a mapping (got {entry!r})", "give one command")
        if isinstance(entry.get("command"), dict) and "type" in entry["command"]:
            entry = entry["command"]  # a reference schedule entry {tick, note, command}
        for key, fix in (
            ("tick", "apply runs commands now; scheduled commands belong in a scenario"),
            ("actor", "the actor is whoever runs apply: pass --actor"),
        ):
            if key in entry:
                raise BadInput(f"{where} -> {key}: not allowed here", fix)
        if "type" in entry and "command" not in entry:
            from .reference import command_from_reference

            entry, ignored = command_from_reference(path, i, entry)
            notices.extend(ignored)
        if default_reason and not entry.get("reason"):
            entry = {**entry, "reason": default_reason}
        model = _validate(path, ApplyEntry, entry, prefix=("commands", str(i))).command
        parts.append((model.command, command_args(model), model.reason))
    return parts, notices


# Validator messages name scenario fields; on the command line the same rules name flags.
_FLAGS = {
    "`clear: true`": "--clear",
    "`to`": "--to",
    "`from`": "--from",
    "`job`": "--job",
    "`backlog`": "--backlog",
    "to/backlog/job": "--to/--backlog/--job",
    "clear restores": "--clear restores",
}


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (`agijobs schema`)."""
    schema = ScenarioFile.model_json_schema()
    definitions = schema["$defs"]
    # Schedule entries are written flat ({tick, command: NAME, ...arguments}), not as the
    # nested model: one variant per command, its arguments beside tick/when/repeat/note.
    entry = definitions["ScheduleEntry"]["properties"]
    timing = {key: entry[key] for key in ("tick", "when", "repeat", "note")}
    variants = []
    for name, model in COMMAND_MODELS.items():
        command = definitions[model.__name__]
        variants.append(
            {
                "title": name,
                "type": "object",
                "properties": {**timing, **command["properties"]},
                "required": command.get("required", []),
                "additionalProperties": False,
            }
        )
    definitions["ScheduleEntry"] = {
        "description": "An owner command at `tick`, or a trigger (`when`)",
        "oneOf": variants,
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "agijobs scenario"
    # A scenario may name its fabric file instead of giving it inline.
    schema["properties"]["fabric"] = {
        "anyOf": [
            schema["properties"]["fabric"],
            {"type": "string", "description": "path of a fabric file"},
        ]
    }
    return schema


def validate_command(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate CLI input for an owner command with the same rules as schedule entries."""
    from pydantic import TypeAdapter

    raw = {**raw, "command": canonical_name(raw.get("command"))}
    try:
        model = TypeAdapter(OwnerCommand).validate_python(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(p) for p in error["loc"] if not _is_union_tag(p)]
            option = f"--{loc[-1].replace('_', '-')}: " if loc else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            for field, flag in _FLAGS.items():
                message = message.replace(field, flag)
            got = error.get("input")
            shown = f" (got {got!r})" if loc and not isinstance(got, dict) else ""
            problems.append(f"{option}{message}{shown}")
        raise BadInput(
            "; ".join(problems), "see `agijobs " + str(raw["command"]) + " --help`"
        ) from None
    return command_args(model)
