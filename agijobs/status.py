"""What `agijobs status` reports: the run's state, its shards and nodes, its last checkpoint."""

from __future__ import annotations

from typing import Any

import orjson

from .owner import runner_is_live
from .runner import LIFECYCLE, load_run
from .store.files import FileStore


def run_state(
    store: FileStore, sessions: list[dict[str, Any]], summary: dict[str, Any] | None, paused: bool
) -> tuple[str, int | None]:
    """One of running / paused / stopped / finished / crashed, and the live pid if any."""
    if runner_is_live(store):
        info = orjson.loads(store.read_document("run.json") or b"{}")
        return ("running, paused" if paused else "running"), info.get("pid")
    lifecycle = [s for s in sessions if s.get("event") in LIFECYCLE]
    if lifecycle and lifecycle[-1]["event"] != "stopped":
        return "crashed", None
    if summary is not None and summary.get("status") == "finished":
        return "finished", None
    return ("paused" if paused else "stopped"), None


def status(store: FileStore) -> dict[str, Any]:
    if not store.has_run():
        return {"storage": store.location, "state": "no run"}
    loaded = load_run(store)
    engine = loaded.engine()
    state = engine.state
    raw_summary = store.read_document("summary.json")
    summary = orjson.loads(raw_summary) if raw_summary else None
    sessions = store.read_sessions()
    run_state_name, pid = run_state(store, sessions, summary, state.paused)
    info = orjson.loads(store.read_document("run.json") or b"{}")
    shards = []
    for shard in state.shards.values():
        deferred = sum(len(q) for q in shard.waiting.values())
        shards.append(
            {
                "id": shard.id,
                "name": shard.name,
                "queued": shard.queued.count,
                "deferred": deferred,
                "in_flight": shard.in_flight.count,
                "completed": shard.completed.count,
                "failed": shard.failed.count,
                "budget_ms": shard.budget_ms,
                "health": shard.health,
                "paused": shard.paused or state.paused,
                "first_target": shard.reroute_target,
            }
        )
    nodes = []
    for node in state.nodes.values():
        budget = state.shards[node.shard].budget_ms
        nodes.append(
            {
                "id": node.id,
                "shard": node.shard,
                "status": "up" if node.up else "down",
                "over_budget": node.latency_ms > budget,
                "latency_ms": node.latency_ms,
                "running": len(node.running),
                "slots": node.slots,
            }
        )
    return {
        "storage": store.location,
        "state": run_state_name,
        "pid": pid,
        "run_id": info.get("run_id"),
        "name": loaded.plan.scenario.name,
        "tick": state.tick,
        "paused": state.paused,
        "shards": shards,
        "nodes": nodes,
        "checkpoint": {"tick": state.tick, "seq": loaded.seq},
        "head": loaded.scan.mark_head,
        "events": loaded.scan.count,
        "sessions": sessions[-5:],
        "summary": summary,
    }
