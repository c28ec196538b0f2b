"""A scenario as the engine reads it: its timed inputs, compiled when a tick first needs them.

A run's engine is built from its validated scenario; a stored run's is restored from its
checkpoint, and then the scenario matters only when the engine ticks: arrivals, schedule
entries, triggers and faults. `status` and owner commands at rest never tick, so they
restore the engine from the stored plan's scenario *document* and never import pydantic
and the scenario models (most of what such a command cost to start). The document is
validated the first time a tick needs the timed inputs.

Everything else is read from the document, which is the scenario exactly as pydantic
dumped it when the plan was made (a plan's `plan_id` covers it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError
from .commands import CommandInput

if TYPE_CHECKING:
    from ..scenario import Fault, Scenario, ScheduleEntry, Trigger

SkillKey = tuple[str, ...]
# (name, shard, skills, duration, value, value step, first tick, per tick, count, named)
Group = tuple[str, str, SkillKey, int, int, int, int, int, int, bool]


def first_arrival_tick(start: int) -> int:
    """Tick 0 is the state before the run, so `start: 0` means the first tick."""
    return max(1, start)


def arrivals_per_tick(per_tick: int | None, count: int) -> int:
    """A group without `per_tick` arrives all at once."""
    return per_tick or count


def skill_key(skills: Iterable[str]) -> SkillKey:
    return tuple(sorted(set(skills)))


@dataclass(slots=True)
class Timed:
    """The timed inputs, in the order a tick applies them."""

    groups: list[Group]
    schedule: dict[int, list[tuple[int, CommandInput]]]  # tick -> (entry index, command)
    triggers: list[tuple[int, Trigger, bool, CommandInput]]  # (entry index, when, repeat, …)
    faults: dict[int, list[tuple[int, int, Fault]]]  # tick -> (1 starts / 0 ends, index, …)


class FabricInputs:
    """A scenario's document, its validated model (made on first use unless given), its
    timed inputs (compiled on first use) and the last tick any input falls on."""

    __slots__ = (
        "_scenario",
        "_timed",
        "document",
        "keyed",
        "label",
        "last_input_tick",
        "max_ticks",
        "name",
        "shard_ids",
        "trigger_count",
    )

    def __init__(
        self, document: dict[str, Any], scenario: Scenario | None = None, label: str = "plan"
    ) -> None:
        self.document = document
        self.label = label  # where the document was read, for messages
        self._scenario = scenario
        self._timed: Timed | None = None
        # What a command at rest and `status` read, read now: a document that lacks any of
        # it fails here, where `stored_plan` falls back to the full validation's message.
        self.name = str(document["name"])
        self.max_ticks = int(document["run"]["max_ticks"])
        self.shard_ids = [str(shard["id"]) for shard in document["fabric"]["shards"]]
        # Whether the owner declares keys (an open-mode owner's document names none).
        self.keyed = bool(document["fabric"]["owner"].get("keys"))
        self.last_input_tick = _last_input_tick(document)
        # Schedule entries with `when` (a tick entry's document has no `when`).
        self.trigger_count = sum(1 for entry in document["schedule"] if "when" in entry)

    @classmethod
    def of(cls, scenario: Scenario) -> FabricInputs:
        return cls(scenario.model_dump(mode="json", by_alias=True), scenario)

    @property
    def scenario(self) -> Scenario:
        if self._scenario is None:
            from ..errors import BadInput
            from ..scenario import validate_scenario_document

            try:
                self._scenario = validate_scenario_document(self.label, self.document)
            except BadInput as error:
                raise IntegrityError(error.message, "the stored plan was altered; re-run") from None
        return self._scenario

    def timed(self) -> Timed:
        if self._timed is None:
            self._timed = _compile(self.scenario)
        return self._timed


def _last_input_tick(document: dict[str, Any]) -> int:
    ticks = [0]
    for group in document["workload"]:
        arrive, count = group["arrive"], group["count"]
        first = first_arrival_tick(arrive["start"])
        ticks.append(first + (count - 1) // arrivals_per_tick(arrive["per_tick"], count))
    ticks.extend(entry["tick"] for entry in document["schedule"] if entry.get("tick") is not None)
    for fault in document["faults"]:
        ticks.append(fault["tick"])
        if fault["until"] is not None:
            ticks.append(fault["until"])
    return max(ticks)


def _compile(scenario: Scenario) -> Timed:
    groups = [
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
    triggers: list[tuple[int, Trigger, bool, CommandInput]] = []
    for index, entry in enumerate(scenario.schedule):
        command = scheduled_command(entry, scenario.fabric.owner.name)
        if entry.when is not None:
            triggers.append((index, entry.when, entry.repeat, command))
        else:
            assert entry.tick is not None
            schedule.setdefault(entry.tick, []).append((index, command))
    faults: dict[int, list[tuple[int, int, Fault]]] = {}
    for index, fault in enumerate(scenario.faults):
        faults.setdefault(fault.tick, []).append((1, index, fault))
        if fault.until is not None:
            faults.setdefault(fault.until, []).append((0, index, fault))
    for actions in faults.values():
        actions.sort(key=lambda action: (action[0], action[1]))
    return Timed(groups, schedule, triggers, faults)


def scheduled_command(entry: ScheduleEntry, owner: str) -> CommandInput:
    from ..scenario import command_args

    model = entry.command
    return CommandInput(
        name=model.command,
        args=command_args(model),
        reason=model.reason,
        actor=model.actor or owner,
        source="schedule",
    )
