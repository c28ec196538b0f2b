"""A plan: the document `agijobs plan` writes and a run stores, and its identities.

Loading a plan file from outside validates it in full (`agijobs.scenario`, pydantic).
A storage's own run-plan.json can also be read without pydantic (`stored_plan`): its
`plan_id` proves the document is the one planned, and it was validated when planned.
`status` and owner commands at rest read it so (they never tick, so they never need the
scenario's models); anything that ticks validates the scenario first
(`FabricInputs.scenario`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .errors import BadInput
from .fabric.inputs import FabricInputs
from .ledger.canonical import dumps, sha256_hex

if TYPE_CHECKING:
    from .scenario import Expectations, Scenario

PLAN_FORMAT = 1
REPLAN = "re-plan from the scenario"


@dataclass(frozen=True, slots=True)
class Plan:
    """A scenario with its identities, ready to run or to write."""

    inputs: FabricInputs  # the scenario's document, and its model once validated
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
        return self.inputs.scenario

    @property
    def expect(self) -> Expectations:
        if self.validated_expect is not None:
            return self.validated_expect
        from .scenario import Expectations

        return Expectations.model_validate(self.document["expect"])

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


def stored_plan(label: str, data: bytes) -> Plan:
    """A storage's run-plan.json, proved by its plan_id and not validated again: for
    `status` and owner commands at rest. Its scenario is validated if something ticks."""
    raw = decode_plan(label, data)
    check_identity(label, raw)
    scenario = raw.get("scenario")
    try:
        inputs = FabricInputs(scenario, label=label)  # type: ignore[arg-type]
    except Exception:
        # Not what `agijobs plan` writes (a missing key, a wrong type, a count of 0 that
        # divides): the full validation says what is wrong.
        from .scenario import plan_from_bytes

        return plan_from_bytes(label, data)
    return Plan(
        inputs,
        sha256_hex(dumps(scenario)),
        str(raw["plan_id"]),
        {k: v for k, v in raw.items() if k != "signatures"},
        signatures=check_signatures(label, raw),
        intents=tuple(raw.get("intents", ())),
        sources=tuple(raw.get("sources", ())),
    )
