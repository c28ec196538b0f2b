"""What an audit found, as the CLI prints it and `--json` gives it: the counts, the
governance timeline (who, verb, object, outcome, as Kubernetes audits), the authority."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..views.describe import outcome_of
from .authority import AuthorityCheck

# What re-making a run cannot prove in open mode; a witness's heads close it up to them.
OPEN_MODE_GAP = (
    "who issued each owner command, and why (open mode: unsigned, as recorded); a log "
    "rewritten with other commands re-makes as well: a witness holds its heads"
)


@dataclass(slots=True)
class AuditReport:
    location: str
    events: int
    head: str
    checkpoint_seq: int
    checkpoint_tick: int
    after_checkpoint: int  # complete events a crashed process wrote after the checkpoint
    torn_bytes: int
    by_type: dict[str, int]
    governance: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    conservation: dict[str, Any]
    replay: dict[str, Any] | None = None  # the derivation's result (mode "derived")
    notes: list[str] = field(default_factory=list)
    authority: dict[str, Any] = field(default_factory=dict)
    mode: str = "derived"  # or "quick"
    proved: list[str] = field(default_factory=list)
    not_proved: list[str] = field(default_factory=list)
    # What `audit --witness` checked: the witness, its records of this run, the highest seq
    # proved (audit.witness); None without one.
    witness: dict[str, Any] | None = None
    # The filters the governance timeline was cut by (`audit --actor …`), and how many rows
    # it had before; None when it is whole. They never change what was proved.
    timeline_filter: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        document = {
            "ok": True,
            "mode": self.mode,
            "proved": self.proved,
            "not_proved": self.not_proved,
            "storage": self.location,
            "events": self.events,
            "head": self.head,
            "checkpoint": {"seq": self.checkpoint_seq, "tick": self.checkpoint_tick},
            "after_checkpoint": self.after_checkpoint,
            "torn_bytes": self.torn_bytes,
            "by_type": self.by_type,
            "governance": self.governance,
            "sessions": self.sessions,
            "conservation": self.conservation,
            "replay": self.replay,
            "notes": self.notes,
            "authority": self.authority,
            "witness": self.witness,
        }
        if self.timeline_filter is not None:  # only when the timeline was cut
            document["timeline_filter"] = self.timeline_filter
        return document


def timeline_entry(
    seq: int, tick: int, kind: str, data: dict[str, Any], authority: AuthorityCheck
) -> dict[str, Any]:
    """One row of the governance timeline: who, verb, object, outcome (as Kubernetes audits)."""
    command = data["input"]
    outcome = outcome_of(kind)
    entry = {
        "seq": seq,
        "tick": tick,
        "command": command["command"],
        "args": command["args"],
        "actor": command["actor"],
        "reason": command["reason"],
        "source": command["source"],
        "issued_at": command["issued_at"],
        "outcome": outcome,
        "effect": data.get("effect", data.get("error")),
    }
    if authority.keyed:
        if command["source"] == "schedule":
            entry["authorised_by"] = {"plan_signed_by": authority.plan_signers}
        elif outcome == "refused":
            entry["refusal"] = data["reason"]
        elif outcome in ("proposed", "approved"):
            entry["signed_by"] = data["effect"]["signed_by"]
            entry["approvals"] = f"{data['effect']['approvals']} of {data['effect']['needed']}"
        else:
            nonce = str((command.get("auth") or {}).get("nonce"))
            entry["signed_by"] = authority.signed_by.get(nonce, [])
            entry["signatures_verified"] = True
    return entry


def authority_summary(authority: AuthorityCheck) -> dict[str, Any]:
    if authority.governance is None:
        return {"mode": "open", "authenticated": False}
    return {
        "mode": "signed",
        "authenticated": True,
        "plan_signed_by": authority.plan_signers,
        "keys_in_force": authority.governance.config_json(),
        "signatures_verified": True,
    }


def filter_timeline(
    report: AuditReport,
    actor: str | None,
    command: str | None,
    since_tick: int | None,
    until_tick: int | None,
) -> None:
    """Keep the governance timeline's rows that match every filter given (the run was
    proved whole before: the filters choose what is shown, never what is checked)."""
    given = {"actor": actor, "command": command, "since_tick": since_tick, "until_tick": until_tick}
    given = {key: value for key, value in given.items() if value is not None}
    if not given:
        return
    whole = len(report.governance)
    report.governance = [
        entry
        for entry in report.governance
        if (actor is None or entry["actor"] == actor)
        and (command is None or entry["command"] == command)
        and (since_tick is None or entry["tick"] >= since_tick)
        and (until_tick is None or entry["tick"] <= until_tick)
    ]
    report.timeline_filter = {**given, "rows": len(report.governance), "of": whole}
