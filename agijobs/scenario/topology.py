"""The fabric a scenario declares: its owner (and the owner's keys), shards and nodes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_serializer, model_validator

from ..fabric.authority import governance_problems
from ..fabric.commands import COMMAND_NAMES, canonical_name
from .base import (
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

Role = Literal["owner", "operator", "runner"]
DEFAULT_PROPOSAL_EXPIRY = 100


class OwnerKey(Model):
    """A key allowed to sign owner commands (`owner`, `operator`), or the one the runner
    signs checkpoints with (`runner`): `keys new` prints this line."""

    name: Name
    public_key: str
    roles: Annotated[list[Role], Field(min_length=1)] = ["owner"]

    @model_validator(mode="after")
    def _ed25519(self) -> OwnerKey:
        from ..ledger.signing import parse_public_key

        try:
            parse_public_key(self.public_key)
        except ValueError as error:
            raise ValueError(f"public_key {error}") from None
        return self


class Owner(Model):
    """Who may change the fabric. With `keys`, only signed commands do (see
    docs/owner-authority.md); without, the fabric runs in open mode: unauthenticated."""

    name: RequiredText
    # Anything else the operator keeps about the owner (addresses, roles): shown, not used.
    metadata: Metadata = {}
    keys: list[OwnerKey] = []
    # Owner signatures each command needs: command name (or `default`) -> count.
    approvals: dict[str, PositiveInt] = {}
    operator_may: list[str] = []  # break-glass: commands an operator key may issue alone
    proposal_expiry_ticks: Ticks = DEFAULT_PROPOSAL_EXPIRY

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
            [k.model_dump() for k in self.keys], self.approvals, self.operator_may, COMMAND_NAMES
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


class SpilloverPolicy(Model):
    target: Name
    threshold: NonNegativeInt
    max_drain_per_tick: PositiveInt
    required_skills: list[Name] = []


class ShardSpec(Model):
    id: Name
    name: Text | None = None
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
    heartbeat_ticks: Ticks = 1
    price_per_job: Price | None = None
    metadata: Metadata = {}


class FabricSpec(Model):
    owner: Owner
    shards: Annotated[list[ShardSpec], Field(min_length=1)]
    nodes: list[NodeSpec] = []
