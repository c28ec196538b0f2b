"""The state of owner authority: the key set and thresholds in force, the proposals waiting
for approvals, and the nonces already used. The checks that read and change it are
`agijobs.fabric.authority`'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ledger.signing import fingerprint, parse_public_key
from .inputs import CommandInput

DEFAULT = "default"  # the threshold of every command that has none of its own


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    public_key: str
    raw: bytes
    fingerprint: str
    roles: frozenset[str]

    @property
    def is_owner(self) -> bool:
        return "owner" in self.roles

    @property
    def is_runner(self) -> bool:
        return "runner" in self.roles


@dataclass(slots=True)
class Proposal:
    id: str
    command: CommandInput  # as proposed; its auth holds every signature so far
    needed: int
    expires_tick: int
    signers: list[str]  # key names, in signing order


@dataclass(slots=True)
class Governance:
    """The key set and thresholds in force, pending proposals and the nonces used."""

    keys: dict[str, Key]  # by fingerprint, in config order
    approvals: dict[str, int]
    operator_may: frozenset[str]
    expiry_ticks: int
    proposals: dict[str, Proposal] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Governance:
        keys = {}
        for entry in config["keys"]:
            raw = parse_public_key(entry["public_key"])
            key = Key(
                entry["name"], entry["public_key"], raw, fingerprint(raw), frozenset(entry["roles"])
            )
            keys[key.fingerprint] = key
        return cls(
            keys=keys,
            approvals=dict(config["approvals"]),
            operator_may=frozenset(config["operator_may"]),
            expiry_ticks=config["proposal_expiry_ticks"],
        )

    def config_json(self) -> dict[str, Any]:
        return {
            "keys": [
                {"name": k.name, "public_key": k.public_key, "roles": sorted(k.roles)}
                for k in self.keys.values()
            ],
            "approvals": dict(sorted(self.approvals.items())),
            "operator_may": sorted(self.operator_may),
            "proposal_expiry_ticks": self.expiry_ticks,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.config_json(),
            "proposals": [
                {
                    "id": p.id,
                    "command": p.command.to_json(),
                    "needed": p.needed,
                    "expires_tick": p.expires_tick,
                    "signers": p.signers,
                }
                for p in self.proposals.values()
            ],
            "nonces": sorted(self.nonces),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Governance:
        governance = cls.from_config(raw)
        for p in raw["proposals"]:
            command = CommandInput.from_json(p["command"])
            governance.proposals[p["id"]] = Proposal(
                p["id"], command, p["needed"], p["expires_tick"], list(p["signers"])
            )
        governance.nonces = set(raw["nonces"])
        return governance

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Adopt a new key set and thresholds; pending proposals and used nonces stay."""
        fresh = Governance.from_config(config)
        self.keys = fresh.keys
        self.approvals = fresh.approvals
        self.operator_may = fresh.operator_may
        self.expiry_ticks = fresh.expiry_ticks

    def threshold(self, name: str) -> int:
        default = self.approvals.get(DEFAULT, 1)
        if name == "governance.update":  # key changes always need the default threshold
            return default
        return self.approvals.get(name, default)

    def by_name(self, name: str) -> Key | None:
        return next((k for k in self.keys.values() if k.name == name), None)

    def owners(self) -> int:
        return sum(1 for k in self.keys.values() if k.is_owner)
