"""Verify a stored run: chain, checkpoint, conservation; the governance timeline; replay.

The audit re-derives every shard's counters from the event log alone (each job's journey:
submitted, spilled, assigned, requeued, completed or failed) and compares them with the
checkpoint's counters at its seq. An event that describes an impossible move — a job
assigned that was not queued, completed that was not running — is an integrity failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from .audit_authority import AuthorityCheck
from .audit_chain import ChainCheck
from .errors import IntegrityError
from .fabric.inputs import CommandInput
from .fabric.state import COUNTERS
from .ledger.canonical import split_event_line
from .ledger.chain import scan_events, verify_against_chain
from .run.acyclic import rarely_collected
from .run.lifecycle import simulate
from .run.loading import LoadedRun, load_run
from .store import Store
from .store.files import EVENTS

TALLIES = (*COUNTERS, "queued", "in_flight")
_CHUNK = 1 << 20  # bytes of the log split into lines at a time


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


# A shard's tallies, flat: the [count, value] of each of TALLIES in turn, from these offsets.
_AT = {name: 2 * i for i, name in enumerate(TALLIES)}
_SUBMITTED, _QUEUED, _IN_FLIGHT, _COMPLETED = (
    _AT[name] for name in ("submitted", "queued", "in_flight", "completed")
)
_FINAL = {
    "job.completed": _COMPLETED,
    "job.failed": _AT["failed"],
    "job.cancelled": _AT["cancelled"],
}


class _Ledger:
    """Counters per shard re-derived from events, and each live job's journey.

    A job is ``[shard, value, where, tallies]``, `tallies` being its shard's, so that a
    move updates them without looking the shard up. Every tally takes the same additions
    in the same order as counting event by event does, so even a float value sums alike.
    """

    def __init__(self) -> None:
        self.jobs: dict[str, list[Any]] = {}
        self.shards: dict[str, list[Any]] = {}

    def tallies(self, shard: str) -> list[Any]:
        tallies = self.shards.get(shard)
        if tallies is None:
            tallies = self.shards[shard] = [0] * (2 * len(TALLIES))
        return tallies

    def counters(self, shard: str) -> dict[str, list[Any]]:
        tallies = self.shards.get(shard) or [0] * (2 * len(TALLIES))
        return {name: tallies[at : at + 2] for name, at in _AT.items()}

    def apply(self, seq: int, kind: str, data: dict[str, Any]) -> None:
        """Apply one ``job.*`` event; raise `IntegrityError` for an impossible move."""
        job_id = data["job"]
        if kind == "job.submitted":
            if job_id in self.jobs:
                raise self._bad(seq, f"job {job_id} submitted twice")
            shard, value = data["shard"], data["value"]
            tallies = self.tallies(shard)
            self.jobs[job_id] = [shard, value, "queued", tallies]
            _add(tallies, _SUBMITTED, value)
            _add(tallies, _QUEUED, value)
            return
        job = self.jobs.get(job_id)
        if job is None:
            raise self._bad(seq, f"{kind} for job {job_id}, which is not live")
        shard, value, where, tallies = job
        if kind == "job.deferred":
            self._expect(seq, job_id, where, "queued", kind)
        elif kind == "job.spilled":
            if shard != data["from"]:
                raise self._bad(seq, f"job {job_id} spilled from {data['from']} but is in {shard}")
            to = self.tallies(data["to"])
            _take(tallies, _AT[where], value)
            _add(tallies, _AT["spilled_out"], value)
            _add(to, _AT["spilled_in"], value)
            _add(to, _QUEUED, value)
            job[0], job[2], job[3] = data["to"], "queued", to
        elif kind == "job.assigned":
            self._expect(seq, job_id, where, "queued", kind)
            _take(tallies, _QUEUED, value)
            _add(tallies, _IN_FLIGHT, value)
            job[2] = "in_flight"
        elif kind in ("job.requeued", "job.rejected"):
            self._expect(seq, job_id, where, "in_flight", kind)
            _take(tallies, _IN_FLIGHT, value)
            _add(tallies, _QUEUED, value)
            job[2] = "queued"
        elif kind in _FINAL:
            if kind == "job.completed":
                self._expect(seq, job_id, where, "in_flight", kind)
            _take(tallies, _AT[where], value)
            _add(tallies, _FINAL[kind], value)
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


def _add(tallies: list[Any], at: int, value: Any) -> None:
    tallies[at] += 1
    tallies[at + 1] += value


def _take(tallies: list[Any], at: int, value: Any) -> None:
    tallies[at] -= 1
    tallies[at + 1] -= value


@dataclass(slots=True)
class _Walk:
    """What one pass over the events found."""

    ledger: _Ledger
    by_type: dict[str, int]
    governance: list[dict[str, Any]]
    recorded: list[tuple[int, CommandInput]]  # the inputs a replay re-applies, with ticks


def _walk(data: bytes, end: int, count: int, authority: AuthorityCheck) -> _Walk:
    """Apply the first `count` events of ``data[:end]`` in order to the ledger, the
    authority check and the timeline.

    Most events are a job assigned, submitted or completed: their valid moves are applied
    here, inline, and anything else goes to `_Ledger.apply`, which raises when the move is
    impossible. Only ``owner.*`` and ``governance.*`` events concern authority.
    """
    with rarely_collected():  # each event's dicts, each live job's record (acyclic.py)
        return _walk_events(_line_chunks(data, end), count, authority)


def _line_chunks(data: bytes, end: int) -> Iterator[list[bytes]]:
    """``data[:end].split(b"\\n")``, a megabyte at a time: each line is parsed while it is
    in the cache, and the lines of a big log are never all in memory at once."""
    position = 0
    while (stop := data.find(b"\n", min(position + _CHUNK, end), end)) >= 0:
        yield data[position:stop].split(b"\n")
        position = stop + 1
    yield data[position:end].split(b"\n")


def _walk_events(chunks: Iterable[list[bytes]], count: int, authority: AuthorityCheck) -> _Walk:
    ledger = _Ledger()
    jobs, shards = ledger.jobs, ledger.shards
    walk = _Walk(ledger, {}, [], [])
    by_type = walk.by_type
    assigned = submitted = completed = 0  # by_type's commonest kinds, counted apart
    loads = orjson.loads
    seq = 0
    for lines in chunks:
        if seq >= count:
            break
        for line in lines[: count - seq] if seq + len(lines) > count else lines:
            seq += 1
            event = loads(line)
            kind, data, tick = event["type"], event["data"], event["tick"]
            if kind == "job.assigned":
                assigned += 1
                job = jobs.get(data["job"])
                if job is not None and job[2] == "queued":
                    tallies, value = job[3], job[1]
                    tallies[_QUEUED] -= 1
                    tallies[_QUEUED + 1] -= value
                    tallies[_IN_FLIGHT] += 1
                    tallies[_IN_FLIGHT + 1] += value
                    job[2] = "in_flight"
                else:
                    ledger.apply(seq, kind, data)
            elif kind == "job.submitted":
                submitted += 1
                job_id = data["job"]
                if job_id not in jobs:
                    shard, value = data["shard"], data["value"]
                    tallies = shards.get(shard) or ledger.tallies(shard)
                    jobs[job_id] = [shard, value, "queued", tallies]
                    tallies[_SUBMITTED] += 1
                    tallies[_SUBMITTED + 1] += value
                    tallies[_QUEUED] += 1
                    tallies[_QUEUED + 1] += value
                else:
                    ledger.apply(seq, kind, data)
            elif kind == "job.completed":
                completed += 1
                job_id = data["job"]
                job = jobs.get(job_id)
                if job is not None and job[2] == "in_flight":
                    tallies, value = job[3], job[1]
                    tallies[_IN_FLIGHT] -= 1
                    tallies[_IN_FLIGHT + 1] -= value
                    tallies[_COMPLETED] += 1
                    tallies[_COMPLETED + 1] += value
                    del jobs[job_id]
                else:
                    ledger.apply(seq, kind, data)
            else:
                by_type[kind] = by_type.get(kind, 0) + 1
                if kind.startswith("job."):
                    ledger.apply(seq, kind, data)
                elif kind.startswith(("owner.", "governance.")):
                    authority.check(seq, kind, data)
                    if (
                        kind.startswith("owner.") or kind == "governance.refused"
                    ) and "input" in data:
                        walk.governance.append(_timeline_entry(seq, tick, kind, data, authority))
                    if authority.is_entry(kind, data):
                        walk.recorded.append((tick, CommandInput.from_json(data["input"])))
    for kind, number in (
        ("job.assigned", assigned),
        ("job.submitted", submitted),
        ("job.completed", completed),
    ):
        if number:
            by_type[kind] = number
    return walk


def audit(store: Store, *, replay: bool = False, bridge: Any = None) -> AuditReport:
    """Verify `store`; with `replay`, re-run its plan in memory (with `bridge`, a
    BridgeSettings, when the run used an external executor) and compare chain heads.

    The log is loaded as `status` loads it (the part the checkpoint's digest covers hashed
    at once), and every line from seq 1 is re-hashed beside the walk of the events
    (`ChainCheck`). A broken chain is reported as if found before the walk: an error the
    walk meets waits for the chain's verdict, and gives way to the chain's error.
    """
    try:
        loaded = load_run(store)
    except Exception:
        # The full scan may meet a broken line before what failed here: its error stands.
        return _audited(store, load_run(store, full_scan=True), replay, bridge)
    if loaded.checkpoint is None:  # then load_run scanned every line
        return _audited(store, loaded, replay, bridge)
    examined: tuple[AuditReport, _Walk] | None = None
    with ChainCheck(loaded.events, loaded.seq, loaded.scan.mark_bytes) as chain:
        try:
            examined = _examine(store, loaded)
        except Exception:
            if chain.holds():
                raise  # the chain holds: this is the first error the audit meets
        held = chain.holds()
    if not held or examined is None:
        return _rescanned(store, loaded, replay, bridge)
    report, walk = examined
    if replay:
        _add_replay(report, loaded, walk, bridge)
    return report


def _rescanned(store: Store, loaded: LoadedRun, replay: bool, bridge: Any) -> AuditReport:
    """The audit once the chain check has refused a line: the full scan names the first bad
    line, as `load_run(store, full_scan=True)` would have; or it takes the line after all (a
    seq written 07), and the audit is done again on what it found."""
    assert loaded.checkpoint is not None
    scan = scan_events(loaded.events, loaded.seq, f"{store.location}/{EVENTS}")
    verify_against_chain(loaded.checkpoint, scan)
    return _audited(store, replace(loaded, scan=scan), replay, bridge)


def _audited(store: Store, loaded: LoadedRun, replay: bool, bridge: Any) -> AuditReport:
    """The audit of a run whose whole log `load_run` has verified, in this process."""
    report, walk = _examine(store, loaded)
    if replay:
        _add_replay(report, loaded, walk, bridge)
    return report


def _examine(store: Store, loaded: LoadedRun) -> tuple[AuditReport, _Walk]:
    """Everything but the replay."""
    checkpoint = loaded.checkpoint
    if checkpoint is None:
        raise IntegrityError(f"{store.location}: no checkpoint", "resume or re-run the scenario")
    loaded.engine()  # restorable: every job row of the checkpoint is checked as it is read
    authority = AuthorityCheck(loaded.plan, loaded.run_id)
    walk = _walk(loaded.events, loaded.scan.mark_bytes, loaded.seq, authority)
    conservation = _check_conservation(walk.ledger, checkpoint)
    report = AuditReport(
        location=store.location,
        events=loaded.scan.count,
        head=loaded.scan.head,
        checkpoint_seq=loaded.seq,
        checkpoint_tick=int(checkpoint["tick"]),
        after_checkpoint=loaded.scan.count - loaded.seq,
        torn_bytes=loaded.scan.torn_bytes,
        by_type=dict(sorted(walk.by_type.items())),
        governance=walk.governance,
        sessions=store.read_sessions(),
        conservation=conservation,
    )
    report.authority = _authority_summary(authority)
    from .run.sessions import runner_is_live

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
    return report, walk


def _add_replay(report: AuditReport, loaded: LoadedRun, walk: _Walk, bridge: Any) -> None:
    executed = bool(walk.by_type.get("executor.receipts"))
    report.replay = _replay(loaded, walk.recorded, bridge, executed and bridge is None)


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
        derived = ledger.counters(shard)
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
