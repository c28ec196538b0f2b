"""The audit's proof of owner authority: every governance event re-checked from the log.

Walking the log in order, it keeps the key set and thresholds in force (starting from the
plan's, changed only by applied `governance.update` events) and checks that:

- the plan carries the default threshold of owner signatures (schedule entries ride on it);
- every `governance.authorized` command verifies against keys in force, names this storage's
  run, uses a fresh nonce and carries enough owner approvals (or is an operator's
  break-glass command that `operator_may` allows);
- every outside `owner.*` event is exactly what such an authorisation signed;
- every proposal and approval signature verifies over the proposal's bytes.

Any failure is an `IntegrityError` naming the seq: a forged, altered or under-approved
governance event. Signatures are what make an edit that re-computes the hash chain visible.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ..errors import IntegrityError
from ..fabric.authority import command_names, envelope_of, plan_signers, records_input
from ..fabric.governance import Governance
from ..fabric.inputs import BATCH, CommandInput
from ..ledger.signing import command_message, verify
from ..scenario.plan import Plan, governance_of


class AuthorityCheck:
    def __init__(self, plan: Plan, run_id: str | None) -> None:
        self.governance: Governance | None = governance_of(plan.scenario)
        self.run_id = run_id
        self.plan_signers: list[str] = []
        self.proposals: dict[str, tuple[bytes, str]] = {}  # id -> (signed bytes, nonce)
        self.nonces: set[str] = set()
        # nonce -> the (command, args, reason, actor) parts an authorisation still covers
        self.expected: dict[str, deque[tuple[str, Any, str, str]]] = {}
        self.signed_by: dict[str, list[str]] = {}  # nonce -> signers, for the timeline
        if self.governance is not None:
            self.plan_signers = plan_signers(self.governance, plan.plan_id, list(plan.signatures))
            needed = self.governance.threshold("default")
            if len(self.plan_signers) < needed:
                raise IntegrityError(
                    f"plan.json: carries {len(self.plan_signers)} valid owner signature(s) of the "
                    f"{needed} this fabric requires",
                    "the run's plan was not approved by its owners, or was altered",
                )

    @property
    def keyed(self) -> bool:
        return self.governance is not None

    def is_entry(self, kind: str, data: dict[str, Any]) -> bool:
        """Whether an event records an input to re-apply in a derivation (not a consequence)."""
        return records_input(self.keyed, kind, data)

    def check(self, seq: int, kind: str, data: dict[str, Any]) -> None:
        governance = self.governance
        if governance is None:
            return
        if kind == "governance.authorized":
            self._authorized(seq, governance, data)
        elif kind == "owner.proposal":
            command = CommandInput.from_json(data["input"])
            message = self._signed(seq, governance, command, command.auth or {}, message=None)
            nonce = str((command.auth or {}).get("nonce"))
            self._fresh(seq, nonce)
            self.proposals[data["effect"]["proposal"]] = (message, nonce)
        elif kind == "owner.approval":
            pid = data["effect"]["proposal"]
            if pid not in self.proposals:
                raise _bad(seq, f"approves proposal {pid}, which is not pending")
            command = CommandInput.from_json(data["input"])
            self._signed(seq, governance, command, command.auth or {}, self.proposals[pid][0])
        elif kind == "governance.expired":
            self.proposals.pop(data["proposal"], None)
        elif kind.startswith("owner.") and data["input"]["source"] != "schedule":
            self._covered(seq, kind, data)

    def _authorized(self, seq: int, governance: Governance, data: dict[str, Any]) -> None:
        command = CommandInput.from_json(data["input"])
        auth = command.auth or {}
        nonce = str(auth.get("nonce"))
        pid = data["proposal"]
        if pid is None:
            message = self._signed(seq, governance, command, auth, message=None)
            self._fresh(seq, nonce)
        else:
            if pid not in self.proposals or self.proposals[pid][1] != nonce:
                raise _bad(seq, f"applies proposal {pid}, which is not pending")
            message = self.proposals.pop(pid)[0]
        signers = self._verify_all(seq, governance, auth.get("signatures"), message)
        names = command_names(command)
        owners = sum(1 for key in signers if key.is_owner)
        needed = max(governance.threshold(n) for n in names)
        operators_allowed = all(n in governance.operator_may for n in names)
        if owners < needed and not (operators_allowed and any(not k.is_owner for k in signers)):
            raise _bad(
                seq,
                f"{command.name} carries {owners} owner approval(s); {needed} are required",
            )
        if any(not k.is_owner for k in signers) and not operators_allowed:
            raise _bad(seq, f"an operator key signed {command.name}, which operators may not issue")
        parts: deque[tuple[str, Any, str, str]] = deque()
        if command.name == BATCH:
            for part in command.args["commands"]:
                parts.append((part["command"], part["args"], part["reason"], command.actor))
        else:
            parts.append((command.name, command.args, command.reason, command.actor))
        self.expected[nonce] = parts
        self.signed_by[nonce] = [k.name for k in signers]

    def _covered(self, seq: int, kind: str, data: dict[str, Any]) -> None:
        raw = data["input"]
        nonce = str((raw.get("auth") or {}).get("nonce"))
        parts = self.expected.get(nonce)
        if kind == "owner.rejected":  # authorised, then found invalid: nothing applied
            if parts is None:
                raise _bad(seq, "records an outside command that no authorisation covers")
            del self.expected[nonce]
            return
        if not parts:
            raise _bad(seq, f"{kind} is an outside command with no signed authorisation before it")
        wanted = parts.popleft()
        found = (raw["command"], raw["args"], raw["reason"], raw["actor"])
        if found != wanted:
            raise _bad(seq, f"{kind} differs from the command its owners signed")
        if not parts:
            del self.expected[nonce]
        if kind == "owner.governance.update":
            assert self.governance is not None
            self.governance.reconfigure(data["effect"]["after"])

    def _signed(
        self,
        seq: int,
        governance: Governance,
        command: CommandInput,
        auth: dict[str, Any],
        message: bytes | None,
    ) -> bytes:
        if message is None:
            if auth.get("run_id") != self.run_id:
                raise _bad(seq, f"was signed for run {auth.get('run_id')}, not {self.run_id}")
            message = command_message(envelope_of(command))
        self._verify_all(seq, governance, auth.get("signatures"), message)
        return message

    def _verify_all(
        self, seq: int, governance: Governance, signatures: Any, message: bytes
    ) -> list[Any]:
        if not isinstance(signatures, list) or not signatures:
            raise _bad(seq, "carries no signature")
        signers = []
        for entry in signatures:
            key = governance.keys.get(str(entry.get("fingerprint")))
            if key is None:
                raise _bad(seq, f"is signed by {entry.get('fingerprint')}, not a key in force")
            if not verify(key.raw, str(entry.get("signature")), message):
                raise _bad(seq, f"the signature by key {key.name} does not verify")
            if key in signers:
                raise _bad(seq, f"counts key {key.name} twice")
            signers.append(key)
        return signers

    def _fresh(self, seq: int, nonce: str) -> None:
        if nonce in self.nonces:
            raise _bad(seq, f"reuses nonce {nonce} (a replayed signature)")
        self.nonces.add(nonce)


def _bad(seq: int, what: str) -> IntegrityError:
    return IntegrityError(
        f"events.ndjson: line {seq} (seq {seq}): governance event {what}",
        "the governance record was forged or altered",
    )
