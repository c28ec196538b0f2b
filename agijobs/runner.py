"""Drive the engine against a store: run, resume, live commands, checkpoints.

The runner is the only place that meets the outside world while a fabric runs: it numbers
and hash-chains the engine's events, writes checkpoints, takes live owner commands from the
inbox and records sessions. Wall-clock time appears only in sessions, run.json and the
inputs of live commands, never in anything derived from the engine.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .acyclic import rarely_collected, uncollected
from .errors import BadInput, Conflict, IntegrityError, Refused
from .fabric.engine import Engine
from .fabric.inputs import CommandInput
from .fabric.snapshot import check_state
from .ledger import jobtable
from .ledger.canonical import GENESIS_HASH, dumps, encode_event
from .ledger.chain import ChainScan, scan_events, scan_from_checkpoint, verify_against_chain
from .ledger.checkpoint import decode_checkpoint, encode_checkpoint
from .observe import REPORTED, Observer, prometheus_text
from .spec.plan import Plan, stored_plan
from .store import Store, crashpoints
from .store.files import CHECKPOINT, EVENTS, PROMETHEUS, RUN_PLAN
from .summary import build_summary, check_expectations, fabric_view, planned_jobs

if TYPE_CHECKING:
    from .bridge import BridgeExecutor, BridgeSettings
    from .keys import LoadedKey

Progress = Callable[[Engine, int], None]
# Owner events that record no applied command (an executor has nothing to submit for them).
_NOT_APPLIED = frozenset({"owner.rejected", "owner.proposal", "owner.approval"})
# Session records that open or close a process's hold on the run; a run whose last one is
# not "stopped" was left by a process that died.
LIFECYCLE = frozenset({"started", "resumed", "stopped"})


def wall_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def host() -> str:
    """This machine's name: with a shared store, a pid alone does not say whose process."""
    return os.uname().nodename


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


@dataclass(slots=True)
class RunOptions:
    stop_after_ticks: int | None = None
    tick_ms: int = 0
    wait: bool = False
    progress: Progress | None = None
    # An external executor's settings (agijobs.bridge); None: in process, which accepts
    # everything. The runner starts it (handshake first) and owns it as `executor`.
    bridge: BridgeSettings | None = None
    executor: BridgeExecutor | None = None


@dataclass(slots=True)
class Outcome:
    status: str  # finished | stopped | paused | interrupted
    reason: str
    summary: dict[str, Any]
    expect_failures: list[str] = field(default_factory=list)
    # (entry index, tick, error) of schedule entries refused when they came due
    schedule_rejections: list[tuple[int, int, str]] = field(default_factory=list)
    refusal: Refused | None = None  # the owner authority refused `resume`'s lift of the pause
    proposal: dict[str, Any] | None = None  # ... or recorded it as a proposal (its effect)
    report: str | None = None  # where report.html was written


@dataclass(slots=True)
class LoadedRun:
    """A stored run, verified: its plan, checkpoint and the scan of its log."""

    plan: Plan
    checkpoint: dict[str, Any] | None
    scan: ChainScan
    events: bytes
    run_id: str | None = None  # from run.json: what signed commands must name
    checkpoint_bytes: bytes | None = None  # exactly the bytes verified (`export` copies them)
    job_table: bytes | None = None  # the checkpoint's job table, verified against its digest
    job_table_name: str = ""  # where it was read, for messages

    def engine(self, *, jobs: bool = True) -> Engine:
        """The engine at the checkpoint (`jobs=False`: see `Engine.restore`)."""
        if self.checkpoint is None:
            engine = Engine(self.plan.inputs)
        elif jobs:
            with uncollected():  # a backlog's rows and jobs: acyclic (acyclic.py)
                engine = Engine.restore(self.plan.inputs, self.full_state())
        else:
            engine = Engine.restore(self.plan.inputs, self.checkpoint["state"], jobs=False)
        engine.run_id = self.run_id
        return engine

    def full_state(self) -> dict[str, Any]:
        """The checkpoint's state with its job rows (read from its job table)."""
        assert self.checkpoint is not None and self.job_table is not None
        return jobtable.attach(self.checkpoint["state"], self.job_table, self.job_table_name)

    @property
    def seq(self) -> int:
        return 0 if self.checkpoint is None else int(self.checkpoint["seq"])

    @property
    def engine_tick(self) -> int:
        return 0 if self.checkpoint is None else int(self.checkpoint["tick"])


def load_run(store: Store, *, full_scan: bool = False, check_plan: bool = True) -> LoadedRun:
    """Read and verify plan, checkpoint and event chain; raise `IntegrityError` on mismatch.

    The log up to the checkpoint is verified by the digest the checkpoint records, and
    line by line after it; `full_scan` (the audit) re-hashes every line from seq 1.
    Without `check_plan` the stored plan is proved by its plan_id but not validated again
    (`plan.stored_plan`): for `status` and owner commands at rest, which never tick."""
    plan_bytes = store.read_document(RUN_PLAN)
    if plan_bytes is None:
        if store.has_run():
            raise IntegrityError(
                f"{store.location}/{RUN_PLAN}: missing", "the storage is incomplete; re-run"
            )
        raise Conflict(f"no run in {store.location}", "start one with `agijobs run SCENARIO`")
    try:
        label = f"{store.location}/{RUN_PLAN}"
        if check_plan:
            plan = plan_from_store(store, plan_bytes)
        else:
            plan = stored_plan(label, plan_bytes, lambda: plan_from_store(store, plan_bytes))
    except BadInput as error:
        raise IntegrityError(error.message, "the stored plan was altered; re-run") from None
    raw, checkpoint, table = _read_checkpoint(store)
    table_name = ""
    events = store.read_events()
    seq = 0 if checkpoint is None else int(checkpoint["seq"])
    if checkpoint is None or full_scan:
        scan = scan_events(events, seq, f"{store.location}/{EVENTS}")
    else:
        scan = scan_from_checkpoint(events, checkpoint, f"{store.location}/{EVENTS}")
    if checkpoint is not None:
        if checkpoint["inputs_id"] != plan.inputs_id:
            raise IntegrityError(
                f"{store.location}/{CHECKPOINT}: belongs to inputs {checkpoint['inputs_id'][:12]}…,"
                f" plan.json is {plan.inputs_id[:12]}…",
                "the plan or checkpoint was replaced; re-run",
            )
        verify_against_chain(checkpoint, scan)
        check_state(
            checkpoint["state"],
            plan.inputs.shard_ids,
            plan.inputs.keyed,
            f"{store.location}/{CHECKPOINT}",
        )
        table_name = f"{store.location}/jobs/{jobtable.digest(checkpoint['state'])}.json"
        jobtable.verify(checkpoint["state"], table, table_name)
    elif scan.error is not None:
        raise IntegrityError(scan.error, "the log was altered")
    elif scan.count > 1:
        # The runner checkpoints right after run.started, so only a log holding nothing but
        # that event can lack a checkpoint; anything more means the checkpoint was lost.
        raise IntegrityError(
            f"{store.location}/{CHECKPOINT}: missing, but the log holds {scan.count} events",
            "restore checkpoint.json from a backup; resuming would discard the run",
        )
    info = read_json(store, "run.json") or {}
    run_id = info.get("run_id")
    return LoadedRun(
        plan,
        checkpoint,
        scan,
        events,
        run_id if isinstance(run_id, str) else None,
        raw,
        table,
        table_name,
    )


def _read_checkpoint(store: Store) -> tuple[bytes | None, dict[str, Any] | None, bytes | None]:
    """The checkpoint (bytes, integrity-checked document) and the job table it names (None
    if missing or if the checkpoint names none; the caller checks its shape first).

    A live runner replaces both while they are read: a checkpoint whose table has gone
    meanwhile is read again, since a newer one has replaced it."""
    raw, checkpoint, table = None, None, None
    for _ in range(20):
        raw = store.read_checkpoint()
        if raw is None:
            return None, None, None
        checkpoint = decode_checkpoint(raw, f"{store.location}/{CHECKPOINT}")
        digest = jobtable.named_digest(checkpoint.get("state"))
        table = None if digest is None else store.read_job_table(digest)
        if table is not None or digest is None or store.read_checkpoint() == raw:
            break
    return raw, checkpoint, table


def plan_from_store(store: Store, data: bytes) -> Plan:
    """The storage's plan, validated in full."""
    from .spec.loading import plan_from_bytes

    return plan_from_bytes(f"{store.location}/{RUN_PLAN}", data)


class Runner:
    """One process driving one fabric run on one store (holding its lock)."""

    def __init__(
        self,
        store: Store,
        plan: Plan,
        engine: Engine,
        options: RunOptions,
        loaded: LoadedRun | None = None,
    ) -> None:
        """Start a fresh log, or continue `loaded`'s log from its checkpoint seq."""
        self.store = store
        self.plan = plan
        self.engine = engine
        self.options = options
        if loaded is None:
            self.seq, self.head, keep = 0, GENESIS_HASH, 0
            self.digest = hashlib.sha256()
        else:
            self.seq, self.head = loaded.seq, loaded.scan.mark_head
            keep = loaded.scan.mark_bytes
            hashed = loaded.scan.prefix_hash
            self.digest = (
                hashed.copy()
                if hashed is not None
                else hashlib.sha256(memoryview(loaded.events)[:keep])
            )
        self.log_bytes = keep  # the log's length; with `digest`, recorded in checkpoints
        self.sink = store.open_events(keep, self.seq)
        # The per-tick metrics series (agijobs.observe), flushed with each checkpoint.
        self.observer = Observer(engine) if store.observed else None
        if self.observer is not None and loaded is not None:
            store.trim_metrics(loaded.engine_tick)
        self.replay: deque[dict[str, Any]] = deque()
        self.journaled: set[str] = set()
        self.stop_requested = False
        # Replays re-apply recorded commands: live ones at their tick, at-rest ones after it.
        self.scripted_live: dict[int, list[CommandInput]] = {}
        self.scripted_rest: dict[int, list[CommandInput]] = {}
        self.until_tick: int | None = None
        self.heads: list[str] | None = None  # every event's hash, kept only by replays
        # `agijobs resume` lifts the pause once the acknowledged live commands a crashed
        # runner left in its journal have been re-applied at their ticks.
        self.lift_pause: CommandInput | None = None
        self.proposal: dict[str, Any] | None = None
        self._published = 0.0

    # ----------------------------------------------------------- event log

    def write(self, tick: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        lines: list[bytes] = []
        head, seq = self.head, self.seq
        observer, heads, add = self.observer, self.heads, lines.append
        for kind, data in events:  # once per event: the run's hottest loop
            seq += 1
            line, head = encode_event(head, seq, tick, kind, data)
            add(line)
            if heads is not None:
                heads.append(head)
            if observer is not None and kind in REPORTED:
                observer.note(tick, kind, data)
        if lines:
            chunk = b"\n".join(lines) + b"\n"
            self.digest.update(chunk)
            self.log_bytes += len(chunk)
            self.sink.append(lines, chunk)
        self.head, self.seq = head, seq

    def checkpoint(self) -> None:
        self.engine.state.checkpoint_requested = False
        self.sink.sync()
        observer = self.observer
        if observer is not None and observer.rows:
            self.store.append_metrics(observer.rows)  # never ahead of a checkpoint for long:
            observer.rows = []  # resume trims what a crash left past the checkpoint
        state, table = jobtable.split(self.engine.snapshot())
        self.store.write_checkpoint(
            encode_checkpoint(
                inputs_id=self.plan.inputs_id,
                seq=self.seq,
                head=self.head,
                state=state,
                events=(self.log_bytes, self.digest.hexdigest()),
            ),
            jobtable.digest(state),
            table,
        )
        if observer is not None:
            self.store.write_document(PROMETHEUS, prometheus_text(self.plan.name, self.engine))

    # ----------------------------------------------------------- live inbox

    def _live_commands(self, tick: int) -> tuple[list[CommandInput], list[dict[str, Any]]]:
        scripted = self.scripted_live.pop(tick, [])
        if scripted:
            return scripted, []
        taken = []
        while self.replay and self.replay[0]["tick"] == tick:
            taken.append(self.replay.popleft())
        fresh = []
        if not self.replay:
            for command_id, raw in self.store.pending_commands():
                if command_id in self.journaled:  # journaled just before a crash
                    self.store.drop_pending(command_id)
                    continue
                fresh.append(
                    {"id": command_id, "tick": tick, "index": len(self.journaled), "command": raw}
                )
                self.journaled.add(command_id)
            if fresh:
                self.store.journal(fresh)  # durable before anyone is told
                if crashpoints.reached("ack"):
                    crashpoints.kill()
        entries = taken + fresh
        return [_live_input(entry) for entry in entries], entries

    def _acknowledge(self, entries: list[dict[str, Any]], events: list[Any]) -> None:
        outcomes: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for kind, data in events:
            if (kind.startswith("owner.") or kind == "governance.refused") and data["input"].get(
                "id"
            ):
                outcomes.setdefault(data["input"]["id"], []).append((kind, data))
        for entry in entries:
            results = outcomes[entry["id"]]  # one per command of a batch
            kind, data = results[0]
            ack: dict[str, Any] = {"tick": entry["tick"], "event": kind}
            if kind in ("owner.rejected", "governance.refused"):
                ack["error"] = data["error"]
            else:
                ack["effect"] = data["effect"]
                ack["results"] = [{"event": k, "effect": d["effect"]} for k, d in results]
            self.store.acknowledge(entry["id"], ack)

    # ----------------------------------------------------------- the loop

    def loop(self) -> Outcome:
        previous = _install_stop_handler(self)
        try:
            with rarely_collected():  # the ticks' millions of acyclic objects (acyclic.py)
                return self._tick_until_stopped()
        finally:
            _restore_stop_handler(previous)
            self.sink.close()

    def _tick_until_stopped(self) -> Outcome:
        engine, state, options = self.engine, self.engine.state, self.options
        max_ticks = self.plan.scenario.run.max_ticks
        budget = options.stop_after_ticks
        ran = 0
        while True:
            for command in self.scripted_rest.pop(state.tick, ()):
                try:
                    self.write(state.tick, engine.apply_at_rest(command))
                except Refused:  # a recorded refusal replays as the same event
                    self.write(state.tick, engine.events)
            if self.lift_pause is not None and not self.replay:
                if state.paused:
                    refusal = self._lift_pause(self.lift_pause)
                    if refusal is not None:
                        outcome = self.stop("paused", "resume refused")
                        outcome.refusal = refusal
                        return outcome
                self.lift_pause = None
            if self.until_tick is not None and state.tick >= self.until_tick:
                return self.stop("stopped", "replayed")
            if engine.is_done() and not self._inputs_remain():
                return self.stop("finished", "all jobs done")
            if state.tick >= max_ticks:
                return self.stop("stopped", "max-ticks")
            if budget is not None and ran >= budget:
                return self.stop("stopped", "stop-after-ticks")
            if self.stop_requested:
                return self.stop("stopped", "interrupted")
            if self._paused_idle():
                if not options.wait:
                    return self.stop("paused", "paused and idle")
                # Waiting may last hours: let status and what-ifs see this very tick.
                self.checkpoint()
                self._publish(force=True)
                if not self._wait_for_command():
                    return self.stop("stopped", "interrupted")
            tick = state.tick + 1
            live, entries = self._live_commands(tick)
            if live:
                state.journal_applied += len(live)
            if options.executor is None:
                events = engine.run_tick(live)
            else:
                events = self._executed_tick(options.executor, live)
            self.write(tick, events)
            if entries:
                self.sink.sync()
                self._publish(force=True)  # a proposal is visible before it is acknowledged
                self._acknowledge(entries, events)
            ran += 1
            if self.observer is not None:
                self.observer.observe()
            if crashpoints.reached("tick", at=tick):
                self.sink.flush()  # what the OS holds survives a process kill
                crashpoints.kill()
            if state.checkpoint_requested or tick % state.checkpoint_every == 0:
                self.checkpoint()
            self._publish(force=False)
            if options.progress is not None:
                options.progress(engine, self.seq)
            if options.tick_ms:
                time.sleep(options.tick_ms / 1000)

    def _executed_tick(
        self, executor: BridgeExecutor, live: list[CommandInput]
    ) -> list[tuple[str, dict[str, Any]]]:
        """A tick whose assignments an external executor answers between routing and
        progress. Receipts that differ from an in-process acceptance are recorded (a digest
        per tick, and each rejection or new duration), so a replay with the same bridge
        verifies it answered the same way; default ones leave the log as in process."""
        engine = self.engine
        engine.collect_dispatch = True
        events = engine.begin_tick(live)
        tick = engine.state.tick
        jobs = engine.dispatched
        govern = [
            data["input"]
            for kind, data in events
            if kind.startswith("owner.") and kind not in _NOT_APPLIED
        ]
        if jobs or govern:
            attempts = engine.state.attempts
            dispatch = [
                {
                    "job": job.id,
                    "node": job.node,
                    "shard": job.shard,
                    "skills": list(job.skills),
                    "duration": job.remaining,
                    "value": job.value,
                    "attempt": attempts.get(job.id, 0) + 1,
                }
                for job in jobs
            ]
            answer = executor.tick(tick, dispatch, govern)
            receipts = answer["receipts"]
            unusual = [r for r in receipts if not _is_default_receipt(r)]
            if unusual:
                engine.emit(
                    "executor.receipts",
                    {
                        "digest": hashlib.sha256(dumps(receipts)).hexdigest(),
                        "receipts": len(receipts),
                        "not_default": len(unusual),
                    },
                )
            engine.settle(receipts, self.plan.scenario.run.max_attempts)
            for command, entry in zip(govern, answer.get("govern") or [], strict=False):
                self.store.append_session(
                    session_record(
                        "governance.payload",
                        tick=tick,
                        command=command["command"],
                        payload=entry.get("payload") if isinstance(entry, dict) else entry,
                    )
                )
        return engine.end_tick()

    def _lift_pause(self, command: CommandInput) -> Refused | None:
        """`agijobs resume`'s lift of the pause: an owner action outside the journal, made
        durable at once. On a fabric with keys it may become a proposal, or be refused."""
        tick = self.engine.state.tick
        try:
            events = self.engine.apply_at_rest(command)
        except Refused as refusal:
            self.write(tick, self.engine.events)  # the refused attempt is on record
            self.checkpoint()
            return refusal
        self.write(tick, events)
        self.checkpoint()
        for kind, data in events:
            if kind == "owner.proposal":
                self.proposal = data["effect"]
        return None

    def _publish(self, *, force: bool) -> None:
        """Tell `status` where the live run is now (not part of the run's record)."""
        now = time.monotonic()
        if not force and now - self._published < 0.2:
            return
        self._published = now
        state = self.engine.state
        view = {
            "tick": state.tick,
            "paused": state.paused,
            "seq": self.seq,
            **fabric_view(self.engine),
        }
        if state.governance is not None:  # `agijobs approve` reads pending proposals here
            view["governance"] = state.governance.to_json()
        self.store.write_document("live.json", dumps(view))

    def _inputs_remain(self) -> bool:
        return bool(self.replay or self.scripted_live or self.scripted_rest)

    def _paused_idle(self) -> bool:
        engine = self.engine
        state = engine.state
        if not state.paused or self._inputs_remain():
            return False
        if state.tick < engine.last_input_tick:
            return False
        return all(shard.in_flight.count == 0 for shard in state.shards.values())

    def _wait_for_command(self) -> bool:
        while not self.stop_requested:
            if any(cid not in self.journaled for cid, _ in self.store.pending_commands()):
                return True
            self.store.wait_for_commands(0.5)
        return False

    def stop(self, status: str, reason: str) -> Outcome:
        self.checkpoint()
        summary = build_summary(self.plan, self.engine, self.seq, self.head, status, reason)
        summary["events_digest"] = self.digest.hexdigest()
        failures: list[str] = []
        if status == "finished" or reason == "max-ticks":
            failures, skipped = check_expectations(self.plan, summary)
            summary["expect"] = {"held": not failures, "failures": failures, "skipped": skipped}
        self.store.write_document("summary.json", dumps(summary) + b"\n")
        report = None
        if self.store.observed:
            from .reporting import REPORT_HTML, write_reports

            write_reports(self.store, summary, self.engine)
            report = f"{self.store.location}/{REPORT_HTML}"
        self.store.append_session(
            session_record("stopped", tick=self.engine.state.tick, status=status, reason=reason)
        )
        info = read_json(self.store, "run.json")
        if info is not None and (info.get("pid"), info.get("host")) == (os.getpid(), host()):
            # No longer the live runner, whatever process later reuses this pid.
            self.store.write_document("run.json", dumps({**info, "role": "stopped"}) + b"\n")
        return Outcome(
            status,
            reason,
            summary,
            failures,
            self.engine.schedule_rejections,
            proposal=self.proposal,
            report=report,
        )


def _is_default_receipt(receipt: dict[str, Any]) -> bool:
    """An acceptance with nothing to add: what the in-process executor would have said."""
    return receipt.get("status") == "accepted" and set(receipt) <= {"job", "attempt", "status"}


def record_recovery(store: Store, loaded: LoadedRun) -> bool:
    """Record in sessions.ndjson that a process died holding the run (if it did) and what
    recovery drops: the events it wrote after its checkpoint. Returns whether it died."""
    tick = 0 if loaded.checkpoint is None else int(loaded.checkpoint["tick"])
    lifecycle = [s for s in store.read_sessions() if s.get("event") in LIFECYCLE]
    crashed = bool(lifecycle) and lifecycle[-1]["event"] != "stopped"
    if crashed:
        last_tick = max(loaded.scan.last_tick, tick)
        store.append_session(
            session_record("crash-detected", tick=last_tick, previous_pid=lifecycle[-1].get("pid"))
        )
    dropped = loaded.scan.count - loaded.seq
    if dropped or loaded.scan.torn_bytes:
        store.append_session(
            session_record(
                "recovered",
                tick=tick,
                checkpoint_seq=loaded.seq,
                dropped_events=dropped,
                torn_bytes=loaded.scan.torn_bytes,
            )
        )
    return crashed


def _install_stop_handler(runner: Runner) -> Any:
    def request_stop(signum: int, frame: Any) -> None:
        runner.stop_requested = True

    # Ctrl-C and SIGTERM finish the current tick, write a checkpoint, the summary and a
    # "stopped" session, so the run is resumable and never looks crashed.
    try:
        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (tests driving the runner in a thread)
        return None


def _restore_stop_handler(previous: Any) -> None:
    if previous is not None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _live_input(entry: dict[str, Any]) -> CommandInput:
    raw = entry["command"]
    return CommandInput(
        name=raw["command"],
        args=raw["args"],
        reason=raw["reason"],
        actor=raw["actor"],
        source="live",
        issued_at=raw.get("issued_at"),
        id=entry["id"],
        auth=raw.get("auth"),
    )


def session_record(event: str, **data: Any) -> dict[str, Any]:
    return {"event": event, "at": wall_now(), "pid": os.getpid(), **data}


def _run_info(store: Store, plan: Plan, run_id: str, source: str) -> bytes:
    info = {
        "run_id": run_id,
        "pid": os.getpid(),
        "host": host(),
        "role": "runner",
        "started_at": wall_now(),
        "scenario": source,
        "name": plan.scenario.name,
        "plan_id": plan.plan_id,
    }
    session = store.lock_session()
    if session is not None:  # a shared store: the session that holds the lock for it
        info["session"] = session
    return dumps(info) + b"\n"


# ---------------------------------------------------------------- entry points


def start_run(
    store: Store, plan: Plan, source: str, options: RunOptions, *, fresh: bool = False
) -> Outcome:
    """`agijobs run`: a new run from tick 0 into an empty storage."""
    check_plan_signatures(plan)  # before anything is written
    with _executor(options, plan):  # a bridge that cannot shake hands writes nothing
        return _start_run(store, plan, source, options, fresh=fresh)


def _start_run(
    store: Store, plan: Plan, source: str, options: RunOptions, *, fresh: bool
) -> Outcome:
    store.ensure()
    with store.run_lock():
        archived = None
        if store.has_run():
            info = read_json(store, "run.json")
            run_id = str(info.get("run_id", "unknown")) if info else "unknown"
            if not fresh:
                raise Conflict(
                    f"storage {store.location} holds run {run_id}",
                    "continue it with `agijobs resume`, or start over with `--fresh` "
                    "(moves it to archive/)",
                )
            archived = store.archive(run_id)
        # Unique per start (time to the microsecond and pid), recognisable by its inputs.
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        run_id = f"{started}-{os.getpid()}-{plan.inputs_id[:8]}"
        store.write_document(RUN_PLAN, plan.to_bytes())
        store.write_document("run.json", _run_info(store, plan, run_id, source))
        store.append_session(
            session_record("started", run_id=run_id, scenario=source, archived_previous=archived)
        )
        engine = Engine(plan.inputs)
        engine.run_id = run_id
        if options.stop_after_ticks is None:  # the scenario's planned stop, unless overridden
            options.stop_after_ticks = plan.scenario.run.stop_after_ticks
        runner = Runner(store, plan, engine, options)
        runner.write(0, [started_event(plan)])
        runner.checkpoint()
        return runner.loop()


def check_plan_signatures(plan: Plan) -> list[str]:
    """On a fabric that declares keys, the plan (its schedule, its very fabric) must carry
    the default threshold of owner signatures. Returns the signers' names."""
    from .fabric.authority import plan_signers
    from .spec.plan import governance_of

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


def started_event(plan: Plan) -> tuple[str, dict[str, Any]]:
    scenario = plan.scenario
    return (
        "run.started",
        {
            "name": scenario.name,
            "seed": scenario.seed,
            "inputs_id": plan.inputs_id,
            "jobs": planned_jobs(plan),
            "shards": sorted(s.id for s in scenario.fabric.shards),
            "nodes": sorted(n.id for n in scenario.fabric.nodes),
        },
    )


def simulate(
    plan: Plan,
    recorded: Sequence[tuple[int, CommandInput]] = (),
    until_tick: int | None = None,
    heads: list[str] | None = None,
    run_id: str | None = None,
    bridge: BridgeSettings | None = None,
) -> Outcome:
    """Run `plan` in memory, with recorded live/at-rest commands at their ticks.

    This is the runner itself on a store that keeps nothing, so a dry run predicts the
    chain head and events digest of a real run exactly.
    """

    engine = Engine(plan.inputs)
    engine.run_id = run_id
    options = RunOptions(bridge=bridge)
    with _executor(options, plan):
        return _simulate(plan, engine, options, recorded, until_tick, heads)


def _simulate(
    plan: Plan,
    engine: Engine,
    options: RunOptions,
    recorded: Sequence[tuple[int, CommandInput]],
    until_tick: int | None,
    heads: list[str] | None,
) -> Outcome:
    from .store.memory import MemoryStore

    runner = Runner(MemoryStore(), plan, engine, options)
    for tick, command in recorded:
        book = runner.scripted_rest if command.source == "at-rest" else runner.scripted_live
        book.setdefault(tick, []).append(command)
    runner.until_tick = until_tick
    runner.heads = heads
    runner.write(0, [started_event(plan)])
    return runner.loop()


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
        raise Conflict(f"no run in {store.location}", "start one with `agijobs run SCENARIO`")
    from .keys import load_key

    signer = None if key is None else load_key(key)  # a bad --key changes nothing
    if options.bridge is None:
        return _resume_run(store, options, reason, keep_paused, actor, signer)
    plan = load_run(store).plan  # the seed the bridge's backoff derives from
    with _executor(options, plan):
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
        engine = loaded.engine()
        plan = loaded.plan
        journal = store.read_journal()
        pending_replay = journal[engine.state.journal_applied :]
        over = (engine.is_done() and not pending_replay) or (
            engine.state.tick >= plan.scenario.run.max_ticks
        )
        lifecycle = [s for s in store.read_sessions() if s.get("event") in LIFECYCLE]
        stopped_cleanly = bool(lifecycle) and lifecycle[-1]["event"] == "stopped"
        if over and stopped_cleanly and store.read_document("summary.json") is not None:
            ending = "finished" if engine.is_done() else "reached max_ticks"
            raise Conflict(
                f"the run in {store.location} {ending} at tick {engine.state.tick}; "
                "there is nothing to resume",
                "start a new one with `agijobs run SCENARIO --fresh`",
            )
        # Over but not cleanly stopped (died writing its summary): the loop stops at once
        # and writes the same checkpoint, summary and session a clean stop would have.
        record_recovery(store, loaded)
        info = read_json(store, "run.json") or {}
        run_id = str(info.get("run_id", "unknown"))
        scenario = str(info.get("scenario", ""))
        store.write_document("run.json", _run_info(store, plan, run_id, scenario))
        store.append_session(session_record("resumed", run_id=run_id, tick=engine.state.tick))
        runner = Runner(store, plan, engine, options, loaded)
        runner.replay = deque(pending_replay)
        runner.journaled = {e["id"] for e in journal}
        if loaded.checkpoint is None:  # died before its first checkpoint: start over
            runner.write(0, [started_event(plan)])
            runner.checkpoint()
        if not keep_paused:
            runner.lift_pause = _lift_command(engine, reason, actor, signer, run_id)
        if loaded.scan.count > loaded.seq or loaded.scan.torn_bytes:
            runner.checkpoint()
        return runner.loop()


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


@contextlib.contextmanager
def _executor(options: RunOptions, plan: Plan) -> Iterator[None]:
    """Start the configured bridge (handshake) for the run, and stop it after."""
    if options.bridge is None:
        yield
        return
    from .bridge import BridgeExecutor

    executor = BridgeExecutor(options.bridge, plan.scenario.seed)
    executor.start()
    options.executor = executor
    try:
        yield
    finally:
        options.executor = None
        executor.close()


def read_json(store: Store, name: str) -> dict[str, Any] | None:
    data = store.read_document(name)
    if data is None:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
