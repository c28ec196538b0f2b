"""Owner commands from the CLI: delivered to a live runner's inbox, or applied at rest.

With a live runner the command is written durably into its inbox and the caller waits for
the acknowledgement (the tick it took effect at). With none, it is applied to the
checkpoint under the run lock: events appended at the resting tick, a new checkpoint
written, and only then reported as done.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import BadInput, Conflict, NotAcknowledged
from .fabric.commands import CommandInput
from .runner import (
    Runner,
    RunOptions,
    load_run,
    read_json,
    record_recovery,
    session_record,
)
from .store.files import FileStore


@dataclass(slots=True)
class CommandResult:
    mode: str  # "live" | "at-rest"
    tick: int
    event: str
    effect: dict[str, Any]
    command_id: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)  # per command of a batch


def issue_command(
    store: FileStore, name: str, args: dict[str, Any], reason: str, actor: str, timeout: float
) -> CommandResult:
    """Send an owner command to the live runner, or apply it at rest under the lock."""
    if not store.has_run():
        raise Conflict(f"no run in {store.location}", "start one with `agijobs run SCENARIO`")
    issued_ns = time.time_ns()
    issued_at = (
        datetime.fromtimestamp(issued_ns / 1e9, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
    live = (store, name, args, reason, actor, issued_at, issued_ns, timeout)
    if runner_is_live(store):
        return _send_live(*live)
    with contextlib.ExitStack() as held:
        try:
            # Another at-rest command may hold the lock briefly: wait for it, not forever.
            held.enter_context(store.run_lock(wait=min(timeout, 5.0)))
        except Conflict:
            if runner_is_live(store):  # a runner started meanwhile
                return _send_live(*live)
            raise
        return _apply_at_rest(store, name, args, reason, actor, issued_at)


def runner_is_live(store: FileStore) -> bool:
    """A runner process holds the lock (not just an owner command being applied at rest)."""
    if not store.lock_is_held():
        return False
    info = read_json(store, "run.json") or {}
    pid = info.get("pid")
    if info.get("role") != "runner" or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _send_live(
    store: FileStore,
    name: str,
    args: dict[str, Any],
    reason: str,
    actor: str,
    issued_at: str,
    issued_ns: int,
    timeout: float,
) -> CommandResult:
    command_id = store.submit_command(
        {
            "command": name,
            "args": args,
            "reason": reason,
            "actor": actor,
            "issued_at": issued_at,
            "issued_ns": issued_ns,
        }
    )
    deadline = time.monotonic() + timeout
    while True:
        ack = store.read_ack(command_id)
        if ack is not None:
            if ack["event"] == "owner.rejected":
                raise BadInput(f"the live run rejected {name}: {ack['error']}")
            return CommandResult(
                "live", ack["tick"], ack["event"], ack["effect"], command_id, ack.get("results", [])
            )
        if time.monotonic() >= deadline:
            raise NotAcknowledged(
                f"the live run did not acknowledge {name} within {timeout:g}s "
                f"(command {command_id} stays queued)",
                "check `agijobs status`; it applies when the runner next reads its inbox",
            )
        time.sleep(0.02)


def _apply_at_rest(
    store: FileStore, name: str, args: dict[str, Any], reason: str, actor: str, issued_at: str
) -> CommandResult:
    loaded = load_run(store)
    engine = loaded.engine()
    if engine.is_done() or engine.state.tick >= loaded.plan.scenario.run.max_ticks:
        raise Conflict(
            f"the run in {store.location} finished at tick {engine.state.tick}",
            "owner commands change a live or unfinished fabric; start a new run",
        )
    unreplayed = len(store.read_journal()) - engine.state.journal_applied
    if loaded.checkpoint is None or unreplayed:
        what = (
            f"{unreplayed} acknowledged live command(s) not yet in its checkpoint"
            if unreplayed
            else "no checkpoint yet"
        )
        raise Conflict(
            f"the run in {store.location} stopped abnormally with {what}",
            "run `agijobs resume --keep-paused` to recover it first, then issue the command",
        )
    command = CommandInput(name, args, reason, actor, "at-rest", issued_at)
    events = engine.apply_at_rest(command)  # raises BadInput before anything is written
    runner = Runner(store, loaded.plan, engine, RunOptions(), loaded)
    crashed = record_recovery(store, loaded)
    try:
        runner.write(engine.state.tick, events)
        runner.checkpoint()
    finally:
        runner.sink.close()
    tick = engine.state.tick
    store.append_session(
        session_record("command", command=name, actor=actor, tick=tick, seq=runner.seq)
    )
    if crashed:  # the run now rests at its checkpoint like any stopped run
        store.append_session(
            session_record("stopped", tick=tick, status="stopped", reason="recovered at rest")
        )
    results = [{"event": k, "effect": d["effect"]} for k, d in events if k.startswith("owner.")]
    return CommandResult(
        "at-rest", engine.state.tick, results[0]["event"], results[0]["effect"], None, results
    )
