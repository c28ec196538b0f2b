"""Verify a stored run: chain, checkpoint, conservation; the governance timeline; replay.

The audit re-derives every shard's counters from the event log alone (each job's journey:
submitted, spilled, assigned, requeued, completed or failed) and compares them with the
checkpoint's counters at its seq. An event that describes an impossible move — a job
assigned that was not queued, completed that was not running — is an integrity failure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from .audit_authority import AuthorityCheck
from .canonical import split_event_line
from .errors import IntegrityError
from .fabric.commands import CommandInput
from .fabric.state import COUNTERS
from .runner import LoadedRun, load_run, simulate
from .store import Store

TALLIES = (*COUNTERS, "queued", "in_flight")


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
    replay: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    authority: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
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
        }


class _Ledger:
    """Counters per shard re-derived from events; each job's (shard, value, where)."""

    def __init__(self) -> None:
        self.jobs: dict[str, list[Any]] = {}
        self.shards: dict[str, dict[str, list[int]]] = {}

    def _add(self, shard: str, name: str, value: int, sign: int = 1) -> None:
        counters = self.shards.get(shard)
        if counters is None:
            counters = self.shards[shard] = {t: [0, 0] for t in TALLIES}
        tally = counters[name]
        tally[0] += sign
        tally[1] += sign * value

    def apply(self, seq: int, kind: str, data: dict[str, Any]) -> None:
        if not kind.startswith("job."):
            return
        job_id = data["job"]
        if kind == "job.submitted":
            if job_id in self.jobs:
                raise self._bad(seq, f"job {job_id} submitted twice")
            self.jobs[job_id] = [data["shard"], data["value"], "queued"]
            self._add(data["shard"], "submitted", data["value"])
            self._add(data["shard"], "queued", data["value"])
            return
        job = self.jobs.get(job_id)
        if job is None:
            raise self._bad(seq, f"{kind} for job {job_id}, which is not live")
        shard, value, where = job
        if kind == "job.deferred":
            self._expect(seq, job_id, where, "queued", kind)
        elif kind == "job.spilled":
            if shard != data["from"]:
                raise self._bad(seq, f"job {job_id} spilled from {data['from']} but is in {shard}")
            self._add(shard, where, value, -1)
            self._add(shard, "spilled_out", value)
            self._add(data["to"], "spilled_in", value)
            self._add(data["to"], "queued", value)
            job[0], job[2] = data["to"], "queued"
        elif kind == "job.assigned":
            self._expect(seq, job_id, where, "queued", kind)
            self._add(shard, "queued", value, -1)
            self._add(shard, "in_flight", value)
            job[2] = "in_flight"
        elif kind in ("job.requeued", "job.rejected"):
            self._expect(seq, job_id, where, "in_flight", kind)
            self._add(shard, "in_flight", value, -1)
            self._add(shard, "queued", value)
            job[2] = "queued"
        elif kind in ("job.completed", "job.failed", "job.cancelled"):
            final = {"job.completed": "completed", "job.failed": "failed"}.get(kind, "cancelled")
            if kind == "job.completed":
                self._expect(seq, job_id, where, "in_flight", kind)
            self._add(shard, where, value, -1)
            self._add(shard, final, value)
            del self.jobs[job_id]

    def _expect(self, seq: int, job_id: str, where: str, wanted: str, kind: str) -> None:
        if where != wanted:
            raise self._bad(seq, f"{kind} for job {job_id}, which is {where}, not {wanted}")

    @staticmethod
    def _bad(seq: int, what: str) -> IntegrityError:
        return IntegrityError(
            f"events.ndjson: line {seq} (seq {seq}): {what}",
            "the log does not describe a valid run",
        )


def audit(store: Store, *, replay: bool = False, bridge: Any = None) -> AuditReport:
    """Verify `store`; with `replay`, re-run its plan in memory (with `bridge`, a
    BridgeSettings, when the run used an external executor) and compare chain heads."""
    loaded = load_run(store, full_scan=True)
    checkpoint = loaded.checkpoint
    if checkpoint is None:
        raise IntegrityError(f"{store.location}: no checkpoint", "resume or re-run the scenario")
    loaded.engine()  # restorable: every job row of the checkpoint is checked as it is read
    ledger = _Ledger()
    authority = AuthorityCheck(loaded.plan, loaded.run_id)
    by_type: Counter[str] = Counter()
    governance: list[dict[str, Any]] = []
    recorded: list[tuple[int, CommandInput]] = []
    lines = loaded.events[: loaded.scan.mark_bytes].split(b"\n")
    for seq, line in enumerate(lines[: loaded.seq], start=1):
        event = orjson.loads(line)
        kind, data, tick = event["type"], event["data"], event["tick"]
        by_type[kind] += 1
        ledger.apply(seq, kind, data)
        authority.check(seq, kind, data)
        if (kind.startswith("owner.") or kind == "governance.refused") and "input" in data:
            governance.append(_timeline_entry(seq, tick, kind, data, authority))
        if authority.is_entry(kind, data):
            recorded.append((tick, CommandInput.from_json(data["input"])))
    conservation = _check_conservation(ledger, checkpoint)
    report = AuditReport(
        location=store.location,
        events=loaded.scan.count,
        head=loaded.scan.head,
        checkpoint_seq=loaded.seq,
        checkpoint_tick=int(checkpoint["tick"]),
        after_checkpoint=loaded.scan.count - loaded.seq,
        torn_bytes=loaded.scan.torn_bytes,
        by_type=dict(sorted(by_type.items())),
        governance=governance,
        sessions=store.read_sessions(),
        conservation=conservation,
    )
    report.authority = _authority_summary(authority)
    from .owner import runner_is_live

    if runner_is_live(store):
        report.notes.append(
            f"a runner is live: it has written {report.after_checkpoint} event(s) since its "
            f"last checkpoint (seq {loaded.seq}); this audit covers the log up to there"
        )
    elif report.after_checkpoint or report.torn_bytes:
        report.notes.append(
            f"a crashed process left {report.after_checkpoint} event(s) and {report.torn_bytes} "
            f"torn byte(s) after the checkpoint (seq {loaded.seq}); `agijobs resume` drops "
            "and regenerates them"
        )
    if not authority.keyed:
        report.notes.append(
            "the fabric is UNAUTHENTICATED (open mode): its owner declares no keys, so commands "
            "are not signed and each actor is as claimed"
        )
    if replay:
        executed = bool(by_type.get("executor.receipts"))
        report.replay = _replay(loaded, recorded, bridge, executed and bridge is None)
    return report


_OUTCOMES = {
    "owner.rejected": "rejected",
    "owner.proposal": "proposed",
    "owner.approval": "approved",
    "governance.refused": "refused",
}


def _timeline_entry(
    seq: int, tick: int, kind: str, data: dict[str, Any], authority: AuthorityCheck
) -> dict[str, Any]:
    """One row of the governance timeline: who, verb, object, outcome (as Kubernetes audits)."""
    command = data["input"]
    outcome = _OUTCOMES.get(kind, "applied")
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


def _authority_summary(authority: AuthorityCheck) -> dict[str, Any]:
    if authority.governance is None:
        return {"mode": "open", "authenticated": False}
    return {
        "mode": "signed",
        "authenticated": True,
        "plan_signed_by": authority.plan_signers,
        "keys_in_force": authority.governance.config_json(),
        "signatures_verified": True,
    }


def _check_conservation(ledger: _Ledger, checkpoint: dict[str, Any]) -> dict[str, Any]:
    totals = {name: [0, 0] for name in TALLIES}
    for raw in checkpoint["state"]["shards"]:
        shard = raw["id"]
        stored = raw["counters"]
        derived = ledger.shards.get(shard, {t: [0, 0] for t in TALLIES})
        for name in TALLIES:
            if list(stored[name]) != derived[name]:
                raise IntegrityError(
                    f"checkpoint.json: shard {shard} {name} is {stored[name]} "
                    f"but the log gives {derived[name]}",
                    "the checkpoint does not match the log",
                )
            totals[name][0] += stored[name][0]
            totals[name][1] += stored[name][1]
        inflow = [stored["submitted"][i] + stored["spilled_in"][i] for i in (0, 1)]
        outflow = [
            sum(
                stored[n][i]
                for n in ("completed", "failed", "cancelled", "queued", "in_flight", "spilled_out")
            )
            for i in (0, 1)
        ]
        if inflow != outflow:
            raise IntegrityError(
                f"checkpoint.json: shard {shard} does not conserve jobs "
                f"(in {inflow}, accounted {outflow})",
                "the checkpoint is inconsistent",
            )
    accounted = [
        sum(totals[n][i] for n in ("completed", "failed", "cancelled", "queued", "in_flight"))
        for i in (0, 1)
    ]
    if accounted != totals["submitted"]:
        raise IntegrityError(
            f"checkpoint.json: {totals['submitted']} submitted but {accounted} accounted for",
            "the checkpoint is inconsistent",
        )
    return {"holds": True, "totals": totals}


def _replay(
    loaded: LoadedRun,
    recorded: list[tuple[int, CommandInput]],
    bridge: Any = None,
    needs_bridge: bool = False,
) -> dict[str, Any]:
    assert loaded.checkpoint is not None
    tick = int(loaded.checkpoint["tick"])
    heads: list[str] = []
    outcome = simulate(
        loaded.plan, recorded, until_tick=tick, heads=heads, run_id=loaded.run_id, bridge=bridge
    )
    summary = outcome.summary
    if summary["seq"] != loaded.seq or summary["head"] != loaded.checkpoint["head"]:
        lines = loaded.events[: loaded.scan.mark_bytes].split(b"\n")
        first = next(
            (
                seq
                for seq, (line, head) in enumerate(zip(lines, heads, strict=False), start=1)
                if split_event_line(line)[1] != head
            ),
            min(len(heads), loaded.seq) + 1,
        )
        raise IntegrityError(
            f"replay diverges at seq {first} (events.ndjson line {first}): re-running the plan "
            f"to tick {tick} gives {summary['seq']} events, head {summary['head'][:12]}…; "
            f"the log has {loaded.seq}, head {loaded.checkpoint['head'][:12]}…",
            "the run's external executor answered differently from in process: replay with "
            "--executor bridge (and the same bridge)"
            if needs_bridge
            else "the log was not produced by this plan and these owner commands",
        )
    return {"matches": True, "tick": tick, "seq": summary["seq"], "head": summary["head"]}
