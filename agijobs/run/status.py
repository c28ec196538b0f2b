"""What `agijobs status` reports: the run's state, its shards and nodes, its last checkpoint;
and following a live run as it goes.

A live runner publishes `live.json` (its current tick, pause flag, shards and nodes) a few
times a second; while it is live, status shows that instead of the last checkpoint, which
can be up to `checkpoint_every` ticks old.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from ..store import Store, no_run
from ..views.summary import fabric_view
from .loading import load_run, read_json
from .sessions import LIFECYCLE, runner_is_live


def run_state(
    live: bool, sessions: list[dict[str, Any]], summary: dict[str, Any] | None, paused: bool
) -> str:
    """One of running / paused / stopped / finished / crashed."""
    if live:
        return "running, paused" if paused else "running"
    lifecycle = [s for s in sessions if s.get("event") in LIFECYCLE]
    if lifecycle and lifecycle[-1]["event"] != "stopped":
        return "crashed"
    if summary is not None and summary.get("status") == "finished":
        return "finished"
    if summary is not None and summary.get("reason") == "max-ticks":
        return "stopped at max_ticks"
    return "paused" if paused else "stopped"


def status(store: Store) -> dict[str, Any]:
    if not store.has_run():
        if not store.exists():
            raise no_run(store)  # a mistyped --storage, not an empty fabric
        return {"storage": store.location, "state": "no run"}
    loaded = load_run(store, check_plan=False)  # status never ticks
    engine = loaded.engine(jobs=False)  # status reads counts, never a job
    view: dict[str, Any] = {
        "tick": engine.state.tick,
        "paused": engine.state.paused,
        "pause": engine.state.pause,
        "seq": loaded.seq,
        **fabric_view(engine),
    }
    live = runner_is_live(store)
    published = read_json(store, "live.json") if live else None
    if published is not None and published.get("tick", -1) >= view["tick"]:
        view = published
    summary = read_json(store, "summary.json")
    sessions = store.read_sessions()
    info = read_json(store, "run.json") or {}
    # Commands a runner acknowledged after its last checkpoint, then died: the checkpoint's
    # state does not show them yet, but they are in force; `runner start` applies each again
    # at its tick. A live runner's view already holds them.
    pending = [] if live else _acknowledged(store, engine.state.journal_applied)
    return {
        "storage": store.location,
        "state": run_state(live, sessions, summary, view["paused"]),
        "pid": info.get("pid") if live else None,
        "host": info.get("host") if live else None,
        "run_id": info.get("run_id"),
        "name": loaded.plan.name,
        "tick": view["tick"],
        "paused": view["paused"],
        # Who paused the fabric, when and why, while it is paused (shards: each its own)
        "pause": view.get("pause"),
        "shards": view["shards"],
        "nodes": view["nodes"],
        "checkpoint": {"tick": engine.state.tick, "seq": loaded.seq},
        "head": loaded.scan.mark_head,
        "events": loaded.scan.count,
        "last_event_tick": loaded.scan.last_tick,
        "sessions": sessions[-5:],
        "acknowledged": pending,
        "summary": summary,
        "authority": authority_view(view.get("governance") or _governance(engine)),
    }


def _acknowledged(store: Store, applied: int) -> list[dict[str, Any]]:
    """The journal's entries after the `applied` ones the checkpoint holds: command, tick,
    actor and reason of each (the journal is verified as it is read)."""
    return [
        {
            "command": entry["command"]["command"],
            "tick": entry["tick"],
            "actor": entry["command"]["actor"],
            "reason": entry["command"]["reason"],
        }
        for entry in store.read_journal()[applied:]
    ]


def _governance(engine: Any) -> dict[str, Any] | None:
    governance = engine.state.governance
    return None if governance is None else governance.to_json()


def authority_view(governance: dict[str, Any] | None) -> dict[str, Any]:
    """Who may change the fabric, and what waits for approval (no nonces: not news)."""
    if governance is None:
        return {"mode": "open", "authenticated": False}
    return {
        "mode": "signed",
        "authenticated": True,
        "keys": governance["keys"],
        "approvals": governance["approvals"],
        "operator_may": governance["operator_may"],
        "proposal_expiry_ticks": governance["proposal_expiry_ticks"],
        "proposals": governance["proposals"],
    }


class Follower(Protocol):
    """Who watches a live run: shown each view the runner publishes."""

    def show(self, view: dict[str, Any]) -> bool:
        """Show `view`; False when it was not shown (too soon), to be offered again."""
        ...

    def no_runner(self) -> None:
        """No runner is live: there is nothing to follow."""
        ...


def follow(store: Store, follower: Follower, interval: float = 0.25) -> None:
    """Offer `follower` each new view the live runner publishes, read-only, until no runner
    holds the run or the operator presses Ctrl-C; then give a stopping runner a moment to
    write its summary and reports, so that the status read next is the final one."""
    if not runner_is_live(store):
        follower.no_runner()
        return
    shown = -1
    try:
        while runner_is_live(store):
            view = read_json(store, "live.json")
            if view is not None and view.get("tick", -1) != shown and follower.show(view):
                shown = view["tick"]
            time.sleep(interval)
        # A stopping runner is no longer "live" while it writes its summary and reports.
        deadline = time.monotonic() + 10
        while store.lock_is_held() and time.monotonic() < deadline:
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass  # Ctrl-C leaves the watch; the status is shown all the same


def live_status(base: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """The status document `base` with a live runner's newer view in it."""
    governance = view.get("governance")
    return {
        **base,
        "state": "running, paused" if view["paused"] else "running",
        "tick": view["tick"],
        "paused": view["paused"],
        "pause": view.get("pause"),  # who paused it, as the runner has it now
        "shards": view["shards"],
        "nodes": view["nodes"],
        "events": view.get("seq", base["events"]),
        "authority": authority_view(governance) if governance else base["authority"],
    }


class StatusStream:
    """Follows a live run for `status --watch --json`: each view the runner publishes is
    handed to `emit` as a whole status document (the first status read once, the view's
    fields put in)."""

    def __init__(
        self,
        read: Callable[[], dict[str, Any]],
        emit: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self._read = read
        self._emit = emit
        self._base: dict[str, Any] | None = None

    def show(self, view: dict[str, Any]) -> bool:
        if self._base is None:
            self._base = self._read()
        self._emit("Status", live_status(self._base, view))
        return True

    def no_runner(self) -> None:
        pass  # the final status, printed next, says what the run is
