"""Starting, continuing and simulating runs: `agijobs run`, `agijobs resume` at rest, and
the dry runs of `plan` and `audit --replay`. Each sets a runner up and lets it loop."""

from __future__ import annotations

import os
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import Conflict, IntegrityError, Refused
from ..fabric.engine import Engine
from ..fabric.inputs import CommandInput
from ..ledger.journal import journal_head
from ..scenario.plan import Plan
from ..store import Store, no_run
from ..store.files import RUN_PLAN
from .capacity import check_memory
from .derivation import verify_state
from .journal import pending_entries
from .keys import HeadSigner, runner_key
from .loading import LoadedRun, load_run, read_json
from .runner import Outcome, Runner, RunOptions
from .sessions import LIFECYCLE, default_actor, record_recovery, run_info, session_record, wall_now
from .simulation import bridge_started, started_event

if TYPE_CHECKING:
    from .keys import LoadedKey


def start_run(
    store: Store, plan: Plan, source: str, options: RunOptions, *, fresh: bool = False
) -> Outcome:
    """`agijobs run`: a new run from tick 0 into an empty storage."""
    check_plan_signatures(plan)  # before anything is written
    key = runner_key(plan, options.runner_key)
    check_memory(plan, source)
    with bridge_started(options, plan):  # a bridge that cannot shake hands writes nothing
        return _start_run(store, plan, source, options, key, fresh=fresh)


def _start_run(
    store: Store,
    plan: Plan,
    source: str,
    options: RunOptions,
    key: tuple[str, LoadedKey] | None,
    *,
    fresh: bool,
) -> Outcome:
    store.ensure()
    with store.run_lock():
        archived = None
        if store.has_run():
            info = read_json(store, "run.json")
            run_id = str(info.get("run_id", "unknown")) if info else "unknown"
            if not fresh:
                raise _holds_run(store, run_id)
            archived = store.archive(run_id)
        # Unique per start (time to the microsecond and pid), recognisable by its inputs.
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        run_id = f"{started}-{os.getpid()}-{plan.inputs_id[:8]}"
        store.write_document(RUN_PLAN, plan.to_bytes())
        store.write_document("run.json", run_info(store, plan, run_id, source))
        store.append_session(
            session_record("started", run_id=run_id, scenario=source, archived_previous=archived)
        )
        engine = Engine(plan.inputs)
        engine.run_id = run_id
        if options.stop_after_ticks is None:  # the scenario's planned stop, unless overridden
            options.stop_after_ticks = plan.scenario.run.stop_after_ticks
        runner = Runner(store, plan, engine, options)
        if key is not None:
            runner.recorder.signer = HeadSigner(plan.name, run_id, key)
        runner.recorder.write(0, [started_event(plan)])
        runner.recorder.checkpoint()
        return runner.loop()


def check_plan_signatures(plan: Plan) -> list[str]:
    """On a fabric that declares keys, the plan (its schedule, its very fabric) must carry
    the default threshold of owner signatures. Returns the signers' names."""
    from ..fabric.authority import plan_signers
    from ..scenario.plan import governance_of

    governance = governance_of(plan.scenario)
    if governance is None:
        return []
    signers = plan_signers(governance, plan.plan_id, list(plan.signatures))
    needed = governance.threshold("default")
    if len(signers) < needed:
        how = (
            "write one with `agijobs plan SCENARIO --sign KEY`"
            if not plan.signatures and "predicted" not in plan.document
            else "add signatures with `agijobs plan PLAN --out PLAN --sign KEY`"
        )
        raise Refused(
            f"this fabric declares owner keys, so it runs only from a plan signed by "
            f"{needed} owner(s); the plan carries {len(signers)} valid owner signature(s)"
            + (f" ({', '.join(signers)})" if signers else ""),
            how,
        )
    return signers


def _holds_run(store: Store, run_id: str) -> Conflict:
    """`run` into a storage that holds a run: resume continues one that is not over; one
    that ended (finished, or at max_ticks, and stopped cleanly) has nothing to resume."""
    summary = read_json(store, "summary.json") or {}
    lifecycle = [s for s in store.read_sessions() if s.get("event") in LIFECYCLE]
    ended = summary.get("status") == "finished" or summary.get("reason") == "max-ticks"
    if ended and lifecycle and lifecycle[-1]["event"] == "stopped":
        how = "finished" if summary.get("status") == "finished" else "reached max_ticks"
        return Conflict(
            f"storage {store.location} holds run {run_id}, which {how} at tick "
            f"{summary.get('tick')}",
            "start over with `agijobs run SCENARIO --fresh` (moves it to archive/), or prove "
            "it with `agijobs audit`",
        )
    return Conflict(
        f"storage {store.location} holds run {run_id}",
        "continue it with `agijobs resume`, or start over with `--fresh` (moves it to archive/)",
    )


def resume_run(
    store: Store,
    options: RunOptions,
    *,
    reason: str | None,
    keep_paused: bool,
    actor: str | None,
    key: str | None = None,
) -> Outcome:
    """`agijobs resume` with no live runner: verify, recover, lift the pause, continue."""
    if not store.has_run():
        raise no_run(store)
    from .keys import load_key

    signer = None if key is None else load_key(key)  # a bad --key changes nothing
    if options.bridge is None:
        return _resume_run(store, options, reason, keep_paused, actor, signer)
    plan = load_run(store).plan  # the seed the bridge's backoff derives from
    with bridge_started(options, plan):
        return _resume_run(store, options, reason, keep_paused, actor, signer)


def _resume_run(
    store: Store,
    options: RunOptions,
    reason: str | None,
    keep_paused: bool,
    actor: str | None,
    signer: LoadedKey | None,
) -> Outcome:
    # An at-rest owner command may hold the lock for a moment: wait for it, briefly.
    with store.run_lock(wait=5.0):
        loaded = load_run(store)
        at_rest = loaded.engine(jobs=False)  # the state without its job rows: cheap
        plan = loaded.plan
        journal = store.read_journal()  # verified, and what is pending checked, or exit 3
        pending_replay = pending_entries(store, journal, at_rest, plan)
        done = loaded.checkpoint is not None and at_rest.is_done()  # jobless: it knows
        over = (done and not pending_replay) or at_rest.state.tick >= plan.scenario.run.max_ticks
        lifecycle = [s for s in store.read_sessions() if s.get("event") in LIFECYCLE]
        stopped_cleanly = bool(lifecycle) and lifecycle[-1]["event"] == "stopped"
        if over and stopped_cleanly and store.read_document("summary.json") is not None:
            ending = "finished" if done else "reached max_ticks"
            raise Conflict(
                f"the run in {store.location} {ending} at tick {at_rest.state.tick}; "
                "there is nothing to resume",
                "start a new one with `agijobs run SCENARIO --fresh`",
            )
        engine = _verified_engine(store, loaded, options)
        key = runner_key(plan, options.runner_key)
        # Over but not cleanly stopped (died writing its summary): the loop stops at once
        # and writes the same checkpoint, summary and session a clean stop would have.
        record_recovery(store, loaded)
        info = read_json(store, "run.json") or {}
        run_id = str(info.get("run_id", "unknown"))
        scenario = str(info.get("scenario", ""))
        store.write_document("run.json", run_info(store, plan, run_id, scenario))
        store.append_session(session_record("resumed", run_id=run_id, tick=engine.state.tick))
        runner = Runner(store, plan, engine, options, loaded)
        if key is not None:
            runner.recorder.signer = HeadSigner(plan.name, run_id, key)
        runner.replay = deque(pending_replay)
        runner.journaled = {e["id"] for e in journal}
        runner.journal_head = journal_head(journal)
        if loaded.checkpoint is None:  # died before its first checkpoint: start over
            runner.recorder.write(0, [started_event(plan)])
            runner.recorder.checkpoint()
        if not keep_paused:
            runner.lift_pause = _lift_command(engine, reason, actor, signer, run_id)
        if loaded.scan.count > loaded.seq or loaded.scan.torn_bytes:
            runner.recorder.checkpoint()
        return runner.loop()


def _verified_engine(store: Store, loaded: LoadedRun, options: RunOptions) -> Engine:
    """The engine to continue with: the run re-made to the checkpoint, once its state is
    proved equal to the checkpoint's (never act on a state the log does not imply), so the
    checkpoint's job rows need not be restored too. When they differ, a malformed row is
    named as restoring it names it."""
    try:
        derived = verify_state(store, loaded, options.bridge)
    except IntegrityError:
        loaded.engine()  # raises its own error for a job row of the wrong shape
        raise
    return derived if derived is not None else loaded.engine()


def _lift_command(
    engine: Engine, reason: str | None, actor: str | None, key: LoadedKey | None, run_id: str
) -> CommandInput:
    """`resume`'s lift of the pause; signed with `key` on a fabric that declares keys."""
    why, issued_at = reason or "resumed by operator", wall_now()
    governance = engine.state.governance
    if governance is None or key is None:
        return CommandInput("resume", {}, why, actor or default_actor(), "at-rest", issued_at)
    from .keys import sign_command

    known = governance.keys.get(key.fingerprint)
    name = actor or (known.name if known else key.path.stem)
    auth = sign_command(key, name, "resume", {}, why, issued_at, run_id)
    return CommandInput("resume", {}, why, name, "at-rest", issued_at, auth=auth)
