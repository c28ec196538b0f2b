"""The tick loop: one process driving one fabric run on one store, holding its lock.

The runner meets the outside world while a fabric runs: it takes live owner commands from
the inbox (journaled before they are acknowledged), pauses and waits, hands assignments to
an external executor, publishes where the run is for `status`, and stops cleanly on a signal.
Its `Recorder` numbers, hash-chains and stores the events, and writes the checkpoints.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError, Refused, WitnessUnavailable
from ..fabric.engine import Engine
from ..fabric.inputs import CommandInput
from ..ledger.canonical import GENESIS_HASH, dumps
from ..ledger.journal import seal_entries
from ..scenario.plan import Plan
from ..store import Store, crashpoints
from ..store.witness import Witness, head_record
from ..views.metrics import sample
from ..views.summary import build_summary, check_expectations, fabric_view
from .acyclic import rarely_collected
from .journal import refusal
from .loading import LoadedRun, read_json
from .recorder import Recorder
from .sessions import host, session_record

if TYPE_CHECKING:
    from .bridge import BridgeExecutor, BridgeSettings
    from .exporter import Exporter


Progress = Callable[[Engine, int], None]


# Owner events that record no applied command (an executor has nothing to submit for them).
_NOT_APPLIED = frozenset({"owner.rejected", "owner.proposal", "owner.approval"})


@dataclass(slots=True)
class RunOptions:
    stop_after_ticks: int | None = None
    tick_ms: int = 0
    wait: bool = False
    progress: Progress | None = None
    # An external executor's settings (agijobs.run.bridge); None: in process, which accepts
    # everything. The runner starts it (handshake first) and owns it as `executor`.
    bridge: BridgeSettings | None = None
    executor: BridgeExecutor | None = None
    # The runner's key on a fabric that declares keys: a name under the key directory or a
    # path (`--runner-key`); None: $AGIJOBS_RUNNER_KEY, else the name the plan declares.
    runner_key: str | None = None
    # Where each checkpoint's head is published, outside the storage (store.witness); the
    # caller opens and closes it.
    witness: Witness | None = None
    # A live `/metrics` (`--metrics-addr`), fed a sample at each checkpoint and about once a
    # second; the caller opens and closes it.
    exporter: Exporter | None = None


@dataclass(slots=True)
class Outcome:
    status: str  # finished | stopped | paused | interrupted
    reason: str
    summary: dict[str, Any]
    expect_failures: list[str] = field(default_factory=list)
    # (entry index, tick, error) of schedule entries refused when they came due
    schedule_rejections: list[tuple[int, int, str]] = field(default_factory=list)
    report: str | None = None  # where report.html was written
    # The signal that stopped the run (SIGINT, SIGTERM), if one did: the CLI exits 128 + it.
    signal: int | None = None


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
        self.recorder = Recorder(store, plan, engine, loaded)
        self.replay: deque[dict[str, Any]] = deque()
        self.journaled: set[str] = set()
        self.journal_head = GENESIS_HASH  # the journal's chain head (ledger.journal)
        self.stop_requested = False
        self.stop_signal: int | None = None  # the signal that asked for the stop
        # Replays re-apply recorded commands: live ones at their tick, at-rest ones after it.
        self.scripted_live: dict[int, list[CommandInput]] = {}
        self.scripted_rest: dict[int, list[CommandInput]] = {}
        self.until_tick: int | None = None
        self._published = 0.0
        self._sampled = 0.0
        # The witness failed: the loop stops at once, cleanly, and `loop` raises this.
        self.unwitnessed: WitnessUnavailable | None = None
        if options.witness is not None:
            self.recorder.witness = self._witness_checkpoint
        if options.exporter is not None:
            self.recorder.metrics = options.exporter.publish

    # ----------------------------------------------------------- live inbox

    def _live_commands(self, tick: int) -> tuple[list[CommandInput], list[dict[str, Any]]]:
        scripted = self.scripted_live.pop(tick, [])
        if scripted:
            return scripted, []
        taken = []
        while self.replay and self.replay[0]["tick"] == tick:
            taken.append(self.replay.popleft())
        fresh = []
        refused: list[tuple[str, str]] = []
        if not self.replay:
            for command_id, raw in self.store.pending_commands():
                if command_id in self.journaled:  # journaled just before a crash
                    self.store.drop_pending(command_id)
                    continue
                problem = refusal(raw, command_id)  # as `runner start` checks the journal
                if problem is not None:
                    refused.append((command_id, problem))
                    continue
                fresh.append(
                    {"id": command_id, "tick": tick, "index": len(self.journaled), "command": raw}
                )
                self.journaled.add(command_id)
            if fresh:
                fresh, self.journal_head = seal_entries(self.journal_head, fresh)
                self.store.journal(fresh)  # durable before anyone is told
                if crashpoints.reached("ack"):
                    crashpoints.kill()
            for command_id, problem in refused:  # never journaled, so never applied
                ack = {"tick": tick, "event": "owner.rejected", "error": problem}
                self.store.reject_pending(command_id, ack)
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
                outcome = self._tick_until_stopped()
        finally:
            _restore_stop_handler(previous)
            self.recorder.close()
        if self.unwitnessed is not None:
            raise self._unwitnessed_stop(self.unwitnessed)
        return outcome

    def _tick_until_stopped(self) -> Outcome:
        engine, state, options = self.engine, self.engine.state, self.options
        max_ticks = self.plan.scenario.run.max_ticks
        budget = options.stop_after_ticks
        ran = 0
        while True:
            if self.unwitnessed is not None:
                return self.stop("stopped", "witness-unavailable")
            for command in self.scripted_rest.pop(state.tick, ()):
                self._check_not_over(command, max_ticks)
                try:
                    self.recorder.write(state.tick, engine.apply_at_rest(command))
                except Refused:  # a recorded refusal replays as the same event
                    self.recorder.write(state.tick, engine.events)
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
                self.recorder.checkpoint()
                self._publish(force=True)
                if self.unwitnessed is not None:
                    continue  # never wait for hours on heads nobody outside holds
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
            self.recorder.write(tick, events)
            if entries:
                self.recorder.sink.sync()
                self._publish(force=True)  # a proposal is visible before it is acknowledged
                self._acknowledge(entries, events)
            ran += 1
            if self.recorder.observer is not None:
                self.recorder.observer.observe()
            if crashpoints.reached("tick", at=tick):
                self.recorder.sink.flush()  # what the OS holds survives a process kill
                crashpoints.kill()
            if state.checkpoint_requested or tick % state.checkpoint_every == 0:
                self.recorder.checkpoint()
            self._publish(force=False)
            if options.progress is not None:
                options.progress(engine, self.recorder.seq)
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
            reports = answer.get("nodes")
            if reports:  # optional: the executor's view of node health (bridge/PROTOCOL.md)
                engine.report_nodes(reports)
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

    def _check_not_over(self, command: CommandInput, max_ticks: int) -> None:
        """A command at rest being re-applied (a derivation) must be one `agijobs` could
        have applied: none is, once the run has ended, but the lift of a pause that
        `resume` made when it still restarted runners (logs written before `runner start`:
        a run that ended paused and stopped before its summary was written)."""
        engine = self.engine
        if command.name == "resume" or not (engine.is_done() or engine.state.tick >= max_ticks):
            return
        raise IntegrityError(
            f"events.ndjson: {command.name} by {command.actor} is recorded at rest at tick "
            f"{engine.state.tick}, after the run had ended there: owner commands at rest are "
            "refused once a run has ended",
            "it was added to the log after the run: restore the log from a backup",
        )

    def _publish(self, *, force: bool) -> None:
        """Tell `status` where the live run is now (not part of the run's record)."""
        now = time.monotonic()
        if not force and now - self._published < 0.2:
            return
        self._published = now
        state = self.engine.state
        view: dict[str, Any] = {
            "tick": state.tick,
            "paused": state.paused,
            "pause": state.pause,
            "seq": self.recorder.seq,
            **fabric_view(self.engine),
        }
        if state.governance is not None:  # `agijobs approve` reads pending proposals here
            view["governance"] = state.governance.to_json()
        exporter = self.options.exporter
        if exporter is not None:
            view["metrics"] = exporter.url
            if force or now - self._sampled >= 1.0:  # a scraper asks every 15 s or so
                self._sampled = now
                exporter.publish(sample(self.plan.name, self.engine, self.recorder.seq))
        self.store.write_document("live.json", dumps(view))

    def _witness_checkpoint(self, checkpoint: bytes) -> None:
        """Publish a checkpoint the recorder has made durable to the witness. A witness that
        fails is not tried again: the loop stops at its next step, as a clean stop does."""
        witness = self.options.witness
        if witness is None or self.unwitnessed is not None:
            return
        engine = self.engine
        ended = engine.is_done() or engine.state.tick >= self.plan.inputs.max_ticks
        record = head_record(
            witness.storage,
            engine.run_id,
            self.recorder.seq,
            self.recorder.head,
            engine.state.tick,
            checkpoint,
            ended,
        )
        try:
            witness.publish(record)
        except WitnessUnavailable as failure:
            self.unwitnessed = failure

    def _unwitnessed_stop(self, failure: WitnessUnavailable) -> WitnessUnavailable:
        """What the operator is told when the run stopped because its witness failed."""
        witness = self.options.witness
        name = "" if witness is None else f" {witness.name}"
        return WitnessUnavailable(
            f"{failure.message}; the run stopped at tick {self.engine.state.tick}, its checkpoint "
            f"(seq {self.recorder.seq}, head {self.recorder.head}) durable in the storage but "
            "not in the witness",
            f"mend the witness, then `agijobs runner start --witness{name}` continues the run",
        )

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
        self.recorder.checkpoint()
        summary = build_summary(
            self.plan, self.engine, self.recorder.seq, self.recorder.head, status, reason
        )
        summary["events_digest"] = self.recorder.digest.hexdigest()
        failures: list[str] = []
        if status == "finished" or reason == "max-ticks":
            failures, skipped = check_expectations(self.plan, summary)
            summary["expect"] = {"held": not failures, "failures": failures, "skipped": skipped}
        self.store.write_document("summary.json", dumps(summary) + b"\n")
        report = None
        if self.store.observed:
            from ..views.report import REPORT_HTML, write_reports

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
            report=report,
            signal=self.stop_signal if reason == "interrupted" else None,
        )


def _is_default_receipt(receipt: dict[str, Any]) -> bool:
    """An acceptance with nothing to add: what the in-process executor would have said."""
    return receipt.get("status") == "accepted" and set(receipt) <= {"job", "attempt", "status"}


def _install_stop_handler(runner: Runner) -> Any:
    def request_stop(signum: int, frame: Any) -> None:
        runner.stop_requested = True
        runner.stop_signal = signum

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
