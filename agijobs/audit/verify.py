"""Verify a stored run: derive it from its inputs (the default), or check it quickly.

The default audit proves every line it prints: it re-makes the run from its plan and the
owner commands the log records (`derive`), and compares every event, the checkpoint's whole
state and the summary with what is stored, byte for byte. The governance timeline comes
from the log's owner events, each signature re-checked (`authority`).

The quick audit (`quick=True`) trusts what it cannot re-compute cheaply: it re-hashes the
whole chain, re-derives every shard's counters from the events alone (each job's journey)
and holds them against the checkpoint's, and re-checks authority. Its report lists what it
did not prove: a forger who re-chains the log and re-seals the checkpoint passes it.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from typing import Any

from ..errors import IntegrityError
from ..fabric.snapshot import conservation
from ..ledger.chain import scan_events, verify_against_chain
from ..run.derivation import EXECUTOR_INPUTS, derive, stored_prefix
from ..run.loading import LoadedRun, load_run
from ..run.sessions import runner_is_live
from ..store import Store
from ..store.files import EVENTS
from ..store.witness import Witness
from .authority import AuthorityCheck
from .chain import ChainCheck
from .report import OPEN_MODE_GAP, AuditReport, authority_summary
from .walk import Walk, compare_counters, walk_inputs, walk_log
from .witness import check_witness


def audit(
    store: Store, *, quick: bool = False, bridge: Any = None, witness: Witness | None = None
) -> AuditReport:
    """Verify `store`: by derivation (with `bridge`, a BridgeSettings, when the run used an
    external executor), or with `quick`, by the chain, the counters and authority only;
    then, with `witness`, that the log extends every head it holds for this run."""
    report = _quick(store) if quick else _derived(store, bridge)
    return report if witness is None else check_witness(store, report, witness)


def _derived(store: Store, bridge: Any) -> AuditReport:
    """The full audit. A log damaged carelessly (a line that no longer chains, a log cut
    short) is reported as `status` reports it, naming the line that breaks the chain: a
    difference the derivation meets is checked against the chain first."""
    try:
        return _derivation(store, bridge)
    except IntegrityError:
        load_run(store)  # raises the chain's own error if it is broken
        raise


def _derivation(store: Store, bridge: Any) -> AuditReport:
    """The cheap checks `status` makes but on the log before the checkpoint, which the
    derivation compares byte for byte instead; then the derivation."""
    loaded = load_run(store, derived=True)
    checkpoint = loaded.checkpoint
    if checkpoint is None:
        raise IntegrityError(
            f"{store.location}: no checkpoint",
            "continue it with `agijobs runner start`, or re-run the scenario",
        )
    loaded.engine()  # restorable: every job row of the checkpoint is checked as it is read
    authority = AuthorityCheck(loaded.plan, loaded.run_id)
    with closing(stored_prefix(store, loaded.scan.mark_bytes)) as pieces:
        inputs = walk_inputs(pieces, loaded.seq, authority)
    receipts = sum(inputs.by_type.get(kind, 0) for kind in EXECUTOR_INPUTS)
    if receipts and bridge is None:
        return _quick_instead(store, receipts)
    derivation = derive(store, loaded, inputs.recorded, bridge)
    live = runner_is_live(store)
    after = loaded.scan.count - loaded.seq
    if derivation.over and not live and (after or loaded.scan.torn_bytes):
        raise IntegrityError(
            f"{store.location}/{EVENTS}: {after} event(s) and {loaded.scan.torn_bytes} byte(s) "
            f"after the final checkpoint (seq {loaded.seq}) of a run that had ended: no runner "
            "or owner command writes there",
            "they were appended after the run: restore the log from a backup (or a witness)",
        )
    report = _report(
        store, loaded, derivation.by_type, inputs, conservation(checkpoint["state"]), live
    )
    report.mode = "derived"
    report.replay = derivation.to_json()
    report.proved = [
        f"events 1-{loaded.seq} are what the plan and the recorded owner commands give, "
        f"byte for byte (the run re-made to tick {derivation.tick})",
        "the checkpoint's whole state (shards, nodes, queues, jobs, counters) is what the "
        "log implies, byte for byte",
    ]
    report.not_proved = _not_proved(authority.keyed, after, live)
    if derivation.summary == "identical":
        report.proved.append("summary.json is what the re-made run writes, byte for byte")
    else:
        report.not_proved.insert(0, f"summary.json: {derivation.summary}")
    if authority.keyed:
        report.proved[1:1] = [
            f"the checkpoint is signed by the runner's key ({_runner_key(loaded)})",
            "every owner command was signed by keys in force, with enough owner approvals",
        ]
    return report


def _runner_key(loaded: LoadedRun) -> str:
    from ..ledger.signing import fingerprint, parse_public_key
    from ..scenario.plan import runner_key_of

    declared = runner_key_of(loaded.plan)
    assert declared is not None
    return f"{declared[0]}, {fingerprint(parse_public_key(declared[1]))}"


def _quick_instead(store: Store, receipts: int) -> AuditReport:
    """A run whose external executor's answers are on record re-makes only with that
    executor: without it, the quick audit, saying so."""
    report = _quick(store)
    report.not_proved.insert(
        0,
        f"that the events are what the plan, the owner commands and the external executor's "
        f"answers give ({receipts} of its answers on record): audit with --executor "
        "bridge (and the same bridge) to re-make the run",
    )
    return report


def _not_proved(keyed: bool, after: int, live: bool) -> list[str]:
    """What even the derivation takes as stored."""
    gaps = []
    if not keyed:
        gaps.append(OPEN_MODE_GAP)
    if after:
        gaps.append(
            f"the {after} event(s) after the checkpoint ("
            + (
                "the live runner's, not yet checkpointed)"
                if live
                else "a crash's debris, which `agijobs runner start` drops)"
            )
        )
    gaps.append("sessions.ndjson and run.json (operational records, outside the chain)")
    return gaps


def _quick(store: Store) -> AuditReport:
    """The quick audit. The log is loaded as `status` loads it (the part the checkpoint's
    digest covers hashed at once), and every line from seq 1 is re-hashed beside the walk
    of the events (`ChainCheck`). A broken chain is reported as if found before the walk:
    an error the walk meets waits for the chain's verdict, and gives way to the chain's
    error."""
    try:
        loaded = load_run(store)
    except Exception:
        # The full scan may meet a broken line before what failed here: its error stands.
        return _walked(store, load_run(store, full_scan=True))
    if loaded.checkpoint is None:  # then load_run scanned every line
        return _walked(store, loaded)
    walked: AuditReport | None = None
    with ChainCheck(loaded.events, loaded.seq, loaded.scan.mark_bytes) as chain:
        try:
            walked = _walked(store, loaded)
        except Exception:
            if chain.holds():
                raise  # the chain holds: this is the first error the audit meets
        held = chain.holds()
    if not held or walked is None:
        return _rescanned(store, loaded)
    return walked


def _rescanned(store: Store, loaded: LoadedRun) -> AuditReport:
    """The quick audit once the chain check has refused a line: the full scan names the
    first bad line, as `load_run(store, full_scan=True)` would have; or it takes the line
    after all (a seq written 07), and the audit is done again on what it found."""
    assert loaded.checkpoint is not None
    scan = scan_events(loaded.events, loaded.seq, f"{store.location}/{EVENTS}")
    verify_against_chain(loaded.checkpoint, scan)
    return _walked(store, replace(loaded, scan=scan))


def _walked(store: Store, loaded: LoadedRun) -> AuditReport:
    """The quick audit of a run whose log `load_run` has verified: the walk of every event,
    the counters it derives against the checkpoint's, authority."""
    checkpoint = loaded.checkpoint
    if checkpoint is None:
        raise IntegrityError(
            f"{store.location}: no checkpoint",
            "continue it with `agijobs runner start`, or re-run the scenario",
        )
    loaded.engine()  # restorable: every job row of the checkpoint is checked as it is read
    authority = AuthorityCheck(loaded.plan, loaded.run_id)
    walk = walk_log(loaded.events, loaded.scan.mark_bytes, loaded.seq, authority)
    compare_counters(walk.ledger, checkpoint)
    report = _report(
        store, loaded, walk.by_type, walk, conservation(checkpoint["state"]), runner_is_live(store)
    )
    report.mode = "quick"
    report.proved = [
        f"the hash chain of all {loaded.scan.count} events, from seq 1",
        "every job's journey in the log is a possible one, and every shard's counters in "
        "the checkpoint are what the log's events add up to",
    ]
    if authority.keyed:
        report.proved.append(
            "every owner command was signed by keys in force and enough owners approved"
        )
    report.not_proved = [
        "that the events are what the plan and the owner commands give (a log edited and "
        "re-chained, with the checkpoint re-sealed, passes): run `agijobs audit` without "
        "--quick",
        "the checkpoint's state beyond the shard counters (nodes, queues, pause, latency, "
        "budgets, governance, ordinals)",
        "summary.json",
        *_not_proved(authority.keyed, report.after_checkpoint, runner_is_live(store)),
    ]
    return report


def _report(
    store: Store,
    loaded: LoadedRun,
    by_type: dict[str, int],
    walk: Walk,
    balance: dict[str, Any],
    live: bool,
) -> AuditReport:
    """The report both audits give: counts, timeline, sessions, authority, notes."""
    checkpoint = loaded.checkpoint
    assert checkpoint is not None
    report = AuditReport(
        location=store.location,
        events=loaded.scan.count,
        head=loaded.scan.head,
        checkpoint_seq=loaded.seq,
        checkpoint_tick=int(checkpoint["tick"]),
        after_checkpoint=loaded.scan.count - loaded.seq,
        torn_bytes=loaded.scan.torn_bytes,
        by_type=dict(sorted(by_type.items())),
        governance=walk.governance,
        sessions=store.read_sessions(),
        conservation=balance,
    )
    authority = walk.authority
    report.authority = authority_summary(authority)
    if live:
        report.notes.append(
            f"a runner is live: it has written {report.after_checkpoint} event(s) since its "
            f"last checkpoint (seq {loaded.seq}); this audit covers the log up to there"
        )
    elif report.after_checkpoint or report.torn_bytes:
        report.notes.append(
            f"a crashed process left {report.after_checkpoint} event(s) and {report.torn_bytes} "
            f"torn byte(s) after the checkpoint (seq {loaded.seq}); `agijobs runner start` drops "
            "and regenerates them"
        )
    if not authority.keyed:
        report.notes.append(
            "the fabric is UNAUTHENTICATED (open mode): its owner declares no keys, so commands "
            "are not signed and each actor is as claimed"
        )
    return report
