"""A plan: the document `agijobs plan` writes and a run stores, and its identities.

Loading a plan file from outside validates it in full (`agijobs.scenario.loading`, pydantic).
A storage's own run-plan.json can also be read without pydantic (`stored_plan`): its
`plan_id` proves the document is the one planned, and it was validated when planned.
`status` and owner commands at rest read it so (they never tick, so they never need the
scenario's models); whatever asks for more (the validated scenario, its expectations, the
compiled inputs a tick reads) gets it from the full validation, made then. This module
never imports the models: the plan's reader says how to validate in full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import BadInput, IntegrityError
from ..fabric.governance import Governance
from ..fabric.inputs import FabricInputs, Planned, arrivals_per_tick, first_arrival_tick
from ..ledger.canonical import dumps, sha256_hex
from .compile import authority_config, compile_scenario

if TYPE_CHECKING:
    from .models import Expectations, Scenario

PLAN_FORMAT = 1
REPLAN = "re-plan from the scenario"


@dataclass(frozen=True, slots=True)
class Plan:
    """A scenario with its identities, ready to run or to write."""

    source: ScenarioSource  # the scenario's document, and its model once validated
    inputs: FabricInputs  # what the engine reads of it
    inputs_id: str
    plan_id: str
    document: dict[str, Any]
    # What translating a reference demo file ignored or defaulted (not part of the plan).
    notices: tuple[str, ...] = ()
    # The translated scenario document, when the source was a reference demo file.
    translated: dict[str, Any] | None = None
    schedule_origins: tuple[str, ...] = ()  # "file: commands -> i" per translated entry
    # Owner signatures over plan_id ({key, fingerprint, signature}); outside plan_id.
    signatures: tuple[dict[str, Any], ...] = ()
    # Operator sentences and what each became ({text, kind, became, entry}).
    intents: tuple[dict[str, Any], ...] = ()
    # The files the plan was made from ({path, sha256}), to refuse a stale plan.
    sources: tuple[dict[str, str], ...] = ()
    validated_expect: Expectations | None = field(default=None, repr=False)

    @property
    def scenario(self) -> Scenario:
        """The validated scenario (validated now if the plan was read as stored)."""
        return self.source.model()

    @property
    def expect(self) -> Expectations:
        if self.validated_expect is not None:
            return self.validated_expect
        return self.source.validated().expect

    @property
    def name(self) -> str:
        return self.inputs.name

    def to_bytes(self) -> bytes:
        if not self.signatures:
            return dumps(self.document) + b"\n"
        return dumps({**self.document, "signatures": list(self.signatures)}) + b"\n"


def plan_body(raw: dict[str, Any]) -> dict[str, Any]:
    """What `plan_id` is the sha256 of: the document without its id, signatures and
    sources (provenance, outside the plan's identity)."""
    return {k: v for k, v in raw.items() if k not in ("plan_id", "signatures", "sources")}


def check_identity(label: str, raw: dict[str, Any]) -> None:
    """The plan is the one `agijobs plan` wrote (its plan_id) in a format this agijobs reads."""
    if raw.get("plan_id") != sha256_hex(dumps(plan_body(raw))):
        raise BadInput(
            f"{label}: plan_id does not match the plan's content (edited after `agijobs plan`?)",
            "run `agijobs plan SCENARIO` again to write a fresh plan",
        )
    if raw.get("format") != PLAN_FORMAT:
        raise BadInput(
            f"{label}: format: plan format {raw.get('format')!r} is not supported",
            f"this agijobs reads format {PLAN_FORMAT}; {REPLAN}",
        )


def check_signatures(label: str, raw: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    signatures = raw.get("signatures", [])
    if not isinstance(signatures, list) or not all(isinstance(e, dict) for e in signatures):
        raise BadInput(
            f"{label}: signatures: expected a list of signatures",
            "re-sign the plan with `agijobs plan PLAN --out PLAN --sign KEY`",
        )
    return tuple(signatures)


def decode_plan(label: str, data: bytes) -> dict[str, Any]:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"{label}: invalid JSON ({exc.msg})", REPLAN) from None
    if not isinstance(raw, dict):
        raise BadInput(f"{label}: not a plan document", REPLAN)
    return raw


def stored_plan(label: str, data: bytes, validated: Callable[[], Plan]) -> Plan:
    """A storage's run-plan.json, proved by its plan_id and not validated again: for
    `status` and owner commands at rest. `validated` reads the same bytes in full, for
    whatever asks for the validated scenario (something that ticks)."""
    raw = decode_plan(label, data)
    check_identity(label, raw)
    scenario = raw.get("scenario")
    source = ScenarioSource(scenario, label, validated=validated)  # type: ignore[arg-type]
    try:
        inputs = source.inputs()
    except Exception:
        # Not what `agijobs plan` writes (a missing key, a wrong type, a count of 0 that
        # divides): the full validation says what is wrong.
        return validated()
    return Plan(
        source,
        inputs,
        sha256_hex(dumps(scenario)),
        str(raw["plan_id"]),
        {k: v for k, v in raw.items() if k != "signatures"},
        signatures=check_signatures(label, raw),
        intents=tuple(raw.get("intents", ())),
        sources=tuple(raw.get("sources", ())),
    )


# ------------------------------------------------------------------ the scenario


class ScenarioSource:
    """A scenario document as a plan holds it (exactly as pydantic dumped the validated
    scenario: a plan's `plan_id` covers it), and its validated model: given, or made on
    first use by validating the whole plan (`validated`)."""

    __slots__ = ("_model", "_validated", "_validating", "document", "label")

    def __init__(
        self,
        document: dict[str, Any],
        label: str = "plan",
        model: Scenario | None = None,
        validated: Callable[[], Plan] | None = None,
    ) -> None:
        self.document = document
        self.label = label  # where the document was read, for messages
        self._model = model
        self._validating = validated
        self._validated: Plan | None = None

    def model(self) -> Scenario:
        if self._model is None:
            self._model = self.validated().scenario
        return self._model

    def validated(self) -> Plan:
        """The plan this scenario belongs to, validated in full."""
        if self._validated is None:
            if self._validating is None:
                raise ValueError(f"{self.label}: a plan made without its scenario's model")
            try:
                self._validated = self._validating()
            except BadInput as error:
                raise IntegrityError(error.message, "the stored plan was altered; re-run") from None
        return self._validated

    def inputs(self) -> FabricInputs:
        """What the engine reads: what a command at rest and `status` need, read from the
        document now (a document that lacks any of it fails here, where `stored_plan` falls
        back to the full validation's message); the rest compiled when a tick needs it."""
        document = self.document
        return FabricInputs(
            name=str(document["name"]),
            max_ticks=int(document["run"]["max_ticks"]),
            shard_ids=[str(shard["id"]) for shard in document["fabric"]["shards"]],
            # An open-mode owner's document names no keys.
            keyed=bool(document["fabric"]["owner"].get("keys")),
            last_input_tick=_last_input_tick(document),
            # Schedule entries with `when` (a tick entry's document has no `when`).
            trigger_count=sum(1 for entry in document["schedule"] if "when" in entry),
            compile=lambda: compile_scenario(self.model()),
            planned=_planned(document),
        )


def governance_of(scenario: Scenario) -> Governance | None:
    """The governance a scenario's owner declares; None in open mode (no keys)."""
    config = authority_config(scenario)
    return None if config is None else Governance.from_config(config)


def fabric_inputs(scenario: Scenario) -> FabricInputs:
    """What the engine reads of a validated scenario."""
    return ScenarioSource(scenario.model_dump(mode="json", by_alias=True), model=scenario).inputs()


def _planned(document: dict[str, Any]) -> Planned:
    groups = tuple(
        (str(g.get("id") or g["prefix"]), int(g["count"]), g.get("id") is not None)
        for g in document["workload"]
    )
    return Planned(groups, sum(count for _, count, _ in groups))


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


def runner_key_of(plan: Plan) -> tuple[str, str] | None:
    """The key the fabric's runner signs its checkpoints with, as the plan declares it
    (name, `ed25519:` public key); None in open mode. Read from the plan's document, which
    its plan_id proves, so that `status` and commands at rest need no validation."""
    owner = plan.document["scenario"]["fabric"]["owner"]
    for key in owner.get("keys") or ():
        if "runner" in key.get("roles", ()):
            return str(key["name"]), str(key["public_key"])
    return None
