"""Who holds a run, and what happened to the processes that did: run.json, the lock, and
sessions.ndjson (started, resumed, stopped, crash-detected, recovered, commands at rest).

Wall-clock time appears here and in the inputs of owner commands, never in anything derived
from the engine.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from typing import Any

from ..ledger.canonical import dumps
from ..scenario.plan import Plan
from ..store import Store
from .loading import LoadedRun, read_json

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


def session_record(event: str, **data: Any) -> dict[str, Any]:
    return {"event": event, "at": wall_now(), "pid": os.getpid(), **data}


def run_info(store: Store, plan: Plan, run_id: str, source: str) -> bytes:
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


def runner_is_live(store: Store) -> bool:
    """A runner process holds the lock (not just an owner command being applied at rest)."""
    if not store.lock_is_held():
        return False
    info = read_json(store, "run.json") or {}
    pid = info.get("pid")
    if info.get("role") != "runner" or not isinstance(pid, int):
        return False
    if store.shared:  # on another machine, perhaps: is it that runner's session holding it?
        session = info.get("session")
        return session is not None and store.lock_holder() == session
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
