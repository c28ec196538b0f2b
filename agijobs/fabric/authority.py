"""Owner authority: who may change the fabric, checked before any command takes effect.

A fabric whose owner declares `keys` accepts a command from outside the plan (live or at
rest) only when it is signed: each signature covers the command's canonical envelope (type,
arguments, reason, actor, issue time, the storage's run id, a nonce). A command needing more
owner approvals than it carries becomes a proposal that other owners approve; operators may
issue the commands listed in `operator_may` alone (break-glass). Everything else is refused,
and the refusal is an event (`governance.refused`), as Kubernetes audits denied requests.

Events this module writes:

- `governance.authorized`: the signed command and who signed it, just before its `owner.*`
  events (which carry `auth: {nonce, signed_by}` to link back to it);
- `owner.proposal` / `owner.approval`: a proposal recorded, an approval added;
- `governance.expired`: a proposal that ran out of ticks;
- `governance.refused`: an attempt refused, with its reason code.

Checking a signature is deterministic, so a replay of the recorded inputs gives the same
events. Schedule entries are authorised once, by the plan's signatures (see `plan_signers`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, Refused, did_you_mean
from ..ledger.signing import command_message, envelope, parse_public_key, plan_message, verify
from .governance import Governance, Key, Proposal
from .inputs import BATCH, CommandInput

if TYPE_CHECKING:
    from .moves import Moves

APPROVE = "approve"


def governance_problems(
    keys: list[dict[str, Any]],
    approvals: dict[str, int],
    operator_may: list[str],
    commands: Sequence[str],
) -> list[str]:
    """What makes a key set and its thresholds unusable (empty when it is sound);
    `commands` are the owner commands' names."""
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
    runners = [k["name"] for k in keys if "runner" in k["roles"]]
    if len(runners) != 1:
        problems.append(
            "keys: exactly one key must have role runner (the key the runner signs its "
            f"checkpoints with; `agijobs keys new NAME --role runner`), found {len(runners)}"
        )
    for k in keys:
        if "runner" in k["roles"] and len(k["roles"]) > 1:
            problems.append(f"keys: {k['name']}: a runner key has no other role")
    known = {*commands, "default"}
    for name, count in approvals.items():
        if name not in known:
            problems.append(
                f"approvals: unknown command `{name}`{did_you_mean(name, sorted(known))}"
            )
        elif owners and count > owners:
            problems.append(
                f"approvals: {name} needs {count} owner signatures but only {owners} "
                "owner key(s) exist"
            )
    for name in operator_may:
        if name not in commands:
            problems.append(f"operator_may: unknown command `{name}`{did_you_mean(name, commands)}")
    return problems


def command_names(command: CommandInput) -> list[str]:
    if command.name == BATCH:
        return [part["command"] for part in command.args["commands"]]
    return [command.name]


def envelope_of(command: CommandInput) -> dict[str, Any]:
    auth = command.auth or {}
    return envelope(
        command.name,
        command.args,
        command.reason,
        command.actor,
        command.issued_at,
        str(auth.get("run_id")),
        str(auth.get("nonce")),
    )


def proposal_id(message: bytes) -> str:
    return "p-" + hashlib.sha256(message).hexdigest()[:12]


# ------------------------------------------------------------------ the decision


def authorize(engine: Moves, command: CommandInput) -> CommandInput | None:
    """The command to apply now, or None when it was recorded as a proposal (or an approval
    that did not yet meet the threshold). Raises `Refused` after recording the refusal."""
    governance = engine.state.governance
    assert governance is not None
    if command.name == APPROVE:
        return _approve(engine, governance, command)
    auth = command.auth or {}
    if not auth.get("signatures"):
        raise refuse(
            engine,
            command,
            "unsigned",
            f"{command.name} is not signed, and this fabric accepts only signed commands",
            "pass --key NAME (a key listed under owner.keys) or set AGIJOBS_KEY",
        )
    if auth.get("run_id") != engine.run_id:
        raise refuse(
            engine,
            command,
            "other-run",
            f"{command.name} was signed for run {auth.get('run_id')}, but this storage holds "
            f"run {engine.run_id}",
            "sign the command against this storage",
        )
    nonce = auth.get("nonce")
    if not isinstance(nonce, str) or not nonce or nonce in governance.nonces:
        raise refuse(
            engine,
            command,
            "replayed",
            f"{command.name}: this signed command was already used (nonce {nonce})",
            "a signature is good once: issue the command again to sign it afresh",
        )
    message = command_message(envelope_of(command))
    signers = _verified_signers(engine, governance, command, auth["signatures"], message)
    names = command_names(command)
    _check_roles(engine, governance, command, signers, names)
    needed = max(governance.threshold(n) for n in names)
    approvals = sum(1 for k in signers if k.is_owner)
    governance.nonces.add(nonce)
    break_glass = approvals < needed and all(n in governance.operator_may for n in names)
    if approvals >= needed or break_glass:
        return _authorized(engine, command, signers, needed, None, break_glass)
    pid = proposal_id(message)
    expires = engine.state.tick + governance.expiry_ticks
    governance.proposals[pid] = Proposal(pid, command, needed, expires, [k.name for k in signers])
    engine.emit(
        "owner.proposal",
        {
            "input": command.to_json(),
            "effect": {
                "proposal": pid,
                "signed_by": [k.name for k in signers],
                "approvals": approvals,
                "needed": needed,
                "expires_tick": expires,
            },
        },
    )
    return None


def _approve(engine: Moves, governance: Governance, command: CommandInput) -> CommandInput | None:
    pid = str(command.args.get("proposal"))
    proposal = governance.proposals.get(pid)
    if proposal is None:
        raise refuse(
            engine,
            command,
            "unknown-proposal",
            f"no pending proposal {pid}: it was applied, expired, or never made in this run",
            "see the pending proposals in `agijobs status`",
        )
    signatures = (command.auth or {}).get("signatures")
    if not signatures:
        raise refuse(
            engine,
            command,
            "unsigned",
            f"the approval of {pid} is not signed",
            "pass --key NAME (a key listed under owner.keys) or set AGIJOBS_KEY",
        )
    message = command_message(envelope_of(proposal.command))
    signers = _verified_signers(engine, governance, command, signatures, message)
    for key in signers:
        if key.name in proposal.signers:
            raise refuse(
                engine,
                command,
                "duplicate-approval",
                f"key {key.name} has already approved proposal {pid}",
                "another owner must approve it",
            )
    names = command_names(proposal.command)
    _check_roles(engine, governance, command, signers, names)
    proposal.signers.extend(k.name for k in signers)
    auth = dict(proposal.command.auth or {})
    auth["signatures"] = [*auth["signatures"], *signatures]
    proposal.command = proposal.command.with_auth(auth)
    approvals = sum(1 for name in proposal.signers if _is_owner(governance, name))
    break_glass = any(not k.is_owner for k in signers)  # roles checked: operator_may holds
    met = approvals >= proposal.needed or break_glass
    engine.emit(
        "owner.approval",
        {
            "input": command.to_json(),
            "effect": {
                "proposal": pid,
                "command": proposal.command.name,
                "signed_by": [k.name for k in signers],
                "approvals": approvals,
                "needed": proposal.needed,
                "threshold_met": met,
            },
        },
    )
    if not met:
        return None
    del governance.proposals[pid]
    everyone = [k for name in proposal.signers if (k := governance.by_name(name)) is not None]
    final = CommandInput(
        proposal.command.name,
        proposal.command.args,
        proposal.command.reason,
        proposal.command.actor,
        command.source,
        proposal.command.issued_at,
        command.id,  # the approving invocation is the one acknowledged
        auth,
    )
    return _authorized(engine, final, everyone, proposal.needed, pid, break_glass)


def _authorized(
    engine: Moves,
    command: CommandInput,
    signers: list[Key],
    needed: int,
    proposal: str | None,
    break_glass: bool,
) -> CommandInput:
    names = [k.name for k in signers]
    engine.emit(
        "governance.authorized",
        {
            "input": command.to_json(),
            "signed_by": names,
            "approvals": sum(1 for k in signers if k.is_owner),
            "needed": needed,
            "proposal": proposal,
            "break_glass": break_glass,
        },
    )
    nonce = (command.auth or {}).get("nonce")
    return command.with_auth({"nonce": nonce, "signed_by": names})


def _verified_signers(
    engine: Moves,
    governance: Governance,
    command: CommandInput,
    signatures: Any,
    message: bytes,
) -> list[Key]:
    """The keys whose signatures of `message` verify; refused unless all do, each key once,
    and the first is the actor the command claims."""
    signers: list[Key] = []
    for entry in signatures if isinstance(signatures, list) else [signatures]:
        claimed = entry.get("fingerprint") if isinstance(entry, dict) else None
        key = governance.keys.get(str(claimed))
        if key is None:
            label = entry.get("key") if isinstance(entry, dict) else None
            raise refuse(
                engine,
                command,
                "unknown-key",
                f"{command.name} is signed by a key this fabric does not know "
                f"({label or '?'}, {claimed})",
                "use a key listed under owner.keys, or have the owners add it (governance.update)",
            )
        if not verify(key.raw, str(entry.get("signature")), message):
            raise refuse(
                engine,
                command,
                "bad-signature",
                f"{command.name}: the signature by key {key.name} does not verify",
                "the command was altered after signing, or signed for something else; "
                "issue it again",
            )
        if key in signers:
            raise refuse(
                engine,
                command,
                "duplicate-approval",
                f"{command.name} carries key {key.name}'s signature twice",
                "each key approves once",
            )
        signers.append(key)
    if command.actor != signers[0].name:
        raise refuse(
            engine,
            command,
            "actor-mismatch",
            f"{command.name} claims actor {command.actor!r} but is signed by key {signers[0].name}",
            "drop --actor: a signed command's actor is its key's name",
        )
    return signers


def _check_roles(
    engine: Moves,
    governance: Governance,
    command: CommandInput,
    signers: list[Key],
    names: list[str],
) -> None:
    for key in signers:
        if key.is_owner:
            continue
        forbidden = [n for n in names if n not in governance.operator_may]
        if forbidden or "operator" not in key.roles:
            allowed = ", ".join(sorted(governance.operator_may)) or "nothing"
            raise refuse(
                engine,
                command,
                "role",
                f"key {key.name} has role {'/'.join(sorted(key.roles))}, which may not issue "
                f"{', '.join(forbidden or names)}",
                f"ask an owner to sign it (operators may issue: {allowed})",
            )


def _is_owner(governance: Governance, name: str) -> bool:
    key = governance.by_name(name)
    return key is not None and key.is_owner


def refuse(engine: Moves, command: CommandInput, code: str, message: str, hint: str) -> Refused:
    """Record the refused attempt and return the error to raise."""
    if command.source != "schedule":
        engine.state.outside_commands += 1
    engine.emit(
        "governance.refused",
        {"input": command.to_json(), "reason": code, "error": f"{message} — {hint}"},
    )
    error = Refused(message, hint)
    error.reason = code
    return error


def expire(engine: Moves, tick: int) -> None:
    """Drop proposals whose time ran out (start of a tick), recording each."""
    governance = engine.state.governance
    assert governance is not None
    for pid in [p.id for p in governance.proposals.values() if p.expires_tick <= tick]:
        proposal = governance.proposals.pop(pid)
        engine.emit(
            "governance.expired",
            {
                "proposal": pid,
                "command": proposal.command.name,
                "signed_by": proposal.signers,
                "needed": proposal.needed,
            },
        )


def plan_signers(governance: Governance, plan_id: str, signatures: list[Any]) -> list[str]:
    """Names of the owner keys whose signatures on `plan_id` verify (each counted once)."""
    message = plan_message(plan_id)
    names: list[str] = []
    for entry in signatures:
        if not isinstance(entry, dict):
            continue
        key = governance.keys.get(str(entry.get("fingerprint")))
        if key is None or not key.is_owner or key.name in names:
            continue
        if verify(key.raw, str(entry.get("signature")), message):
            names.append(key.name)
    return names


def check_open(command: CommandInput) -> None:
    """In open mode there is nothing to approve."""
    if command.name == APPROVE:
        raise BadInput(
            "approve: this fabric declares no keys (open mode), so nothing needs approval",
            "commands apply as soon as they are issued",
        )


# On a fabric with keys, the events that record an outside command as it came in (the rest
# of its events are consequences a derivation re-makes).
_INPUT_KINDS = frozenset(
    {"governance.authorized", "owner.proposal", "owner.approval", "governance.refused"}
)


def records_input(keyed: bool, kind: str, data: dict[str, Any]) -> bool:
    """Whether an event records an outside owner command to re-apply at its tick when the
    run is re-made (`simulate`), rather than a consequence the engine writes again."""
    if not kind.startswith(("owner.", "governance.")) or "input" not in data:
        return False
    if data["input"]["source"] == "schedule":
        return False
    if keyed:
        return kind in _INPUT_KINDS and not (
            kind == "governance.authorized" and data["proposal"] is not None
        )
    return kind != "governance.authorized"
