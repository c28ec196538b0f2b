"""Verify a stored run: chain, checkpoint, conservation; the governance timeline; replay.

The audit re-derives every shard's counters from the event log alone (each job's journey:
submitted, spilled, assigned, requeued, completed or failed) and compares them with the
checkpoint's counters at its seq. An event that describes an impossible move — a job
assigned that was not queued, completed that was not running — is an integrity failure.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import IntegrityError
from ..ledger.chain import scan_events, verify_against_chain
from ..run.loading import LoadedRun, load_run
from ..store import Store
from ..store.files import EVENTS
from .authority import AuthorityCheck
from .chain import ChainCheck
from .replay import replay
from .report import AuditReport, authority_summary
from .walk import Walk, check_conservation, walk_log


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
    examined: tuple[AuditReport, Walk] | None = None
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


def _examine(store: Store, loaded: LoadedRun) -> tuple[AuditReport, Walk]:
    """Everything but the replay."""
    checkpoint = loaded.checkpoint
    if checkpoint is None:
        raise IntegrityError(f"{store.location}: no checkpoint", "resume or re-run the scenario")
    loaded.engine()  # restorable: every job row of the checkpoint is checked as it is read
    authority = AuthorityCheck(loaded.plan, loaded.run_id)
    walk = walk_log(loaded.events, loaded.scan.mark_bytes, loaded.seq, authority)
    conservation = check_conservation(walk.ledger, checkpoint)
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
    report.authority = authority_summary(authority)
    from ..run.sessions import runner_is_live

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


def _add_replay(report: AuditReport, loaded: LoadedRun, walk: Walk, bridge: Any) -> None:
    executed = bool(walk.by_type.get("executor.receipts"))
    report.replay = replay(loaded, walk.recorded, bridge, executed and bridge is None)
