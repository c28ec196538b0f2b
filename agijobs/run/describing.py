"""What `agijobs describe` tells of one job, node or shard: where it stands now and what
happened to it, from the log and the checkpoint (a live runner's view when it is newer).

Nothing here verifies the run (`audit` does) or takes the run lock: it reads what is
stored, as `status` does. On a directory storage the lines that name a job, node or shard
are found through `events-index/` (agijobs.run.eventindex), built on first use; on other
stores the log is scanned.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from typing import Any

import orjson

from ..errors import BadInput
from ..store import Store
from ..views.events import EventFilter, FabricWide, LineFilter
from .follow import check_filter

# Where a job is after each of its own events.
_JOB_STATES = {
    "job.submitted": "queued",
    "job.spilled": "queued",
    "job.requeued": "queued",
    "job.deferred": "deferred",
    "job.assigned": "running",
    "job.completed": "completed",
    "job.failed": "failed",
    "job.cancelled": "cancelled",
    "job.rejected": "rejected",
}


def describe_job(store: Store, job: str) -> dict[str, Any]:
    """A job's current state and its history (every event that names it)."""
    if not store.has_run():
        from ..store import no_run

        raise no_run(store)
    with closing(_lines(store, "j/" + job, EventFilter(job=job))) as lines:
        history = [_entry(line) for line in lines]
    if not history:
        raise BadInput(
            f"job `{job}`: no event of this run names it",
            "check the id; `agijobs events --type job.submitted` lists the jobs submitted",
        )
    state, shard, node = "unknown", None, None
    submitted: dict[str, Any] | None = None
    for entry in history:
        data = entry["data"]
        kind = entry["type"]
        if kind == "job.submitted" and submitted is None:
            submitted = {"tick": entry["tick"], "shard": data["shard"], "value": data["value"]}
        if kind not in _JOB_STATES:
            continue  # an owner command about it; its effect follows as a job event
        state = _JOB_STATES[kind]
        shard = data.get("to") or data.get("shard") or shard
        node = data.get("node") if state in ("running", "completed") else None
    last = history[-1]
    return {
        "job": job,
        "state": state,
        "shard": shard,
        "node": node,
        "submitted": submitted,
        "since": {"tick": last["tick"], "seq": last["seq"]},
        "moves": sum(1 for e in history if e["type"] == "job.spilled"),
        "requeues": sum(1 for e in history if e["type"] == "job.requeued"),
        "history": history,
    }


def describe_node(store: Store, node: str) -> dict[str, Any]:
    """A node's configuration and state now, and its history: faults, going down or up,
    latency breaches, owner commands about it."""
    check_filter(store, EventFilter(node=node))
    stored, live, running = _current(store, "nodes", node)
    described: dict[str, Any] = {
        "node": node,
        "shard": _pick(live, stored, "shard"),
        "status": live["status"] if live else ("up" if stored.get("up") else "down"),
        "skills": stored.get("skills", []),
        "slots": _pick(live, stored, "slots"),
        "latency_ms": _pick(live, stored, "latency_ms"),
        "base_latency_ms": stored.get("base_latency_ms"),
        "over_budget": live.get("over_budget") if live else None,
        "running_jobs": live["running"] if live else stored.get("running_jobs"),
        "running": running,
        "outages": stored.get("outages"),
        "metadata": stored.get("metadata", {}),
        "as_of": _as_of(store, live),
        "history": _history(store, "n/" + node, EventFilter(node=node)),
    }
    return described


def describe_shard(store: Store, shard: str) -> dict[str, Any]:
    """A shard's configuration, queues, counters and pause, and its history: owner commands
    about it and the events of its nodes that are not a job's."""
    check_filter(store, EventFilter(shard=shard))
    stored, live, _ = _current(store, "shards", shard)
    counters = {key: value[0] for key, value in stored.get("counters", {}).items()}
    if live:
        for key in ("queued", "in_flight", "completed", "failed", "cancelled"):
            counters[key] = live[key]
    described: dict[str, Any] = {
        "shard": shard,
        "name": _pick(live, stored, "name"),
        "paused": live["paused"] if live else stored.get("paused"),
        "retired": _pick(live, stored, "retired"),
        "health": live.get("health") if live else None,
        "budget_ms": _pick(live, stored, "budget_ms"),
        "max_queue": _pick(live, stored, "max_queue"),
        "alert_threshold": stored.get("alert_threshold"),
        "spillover": stored.get("policies", []),
        "reroute_target": live.get("first_target") if live else stored.get("forward_to"),
        "queued": counters.get("queued"),
        "deferred": live["deferred"] if live else stored.get("deferred_jobs"),
        "in_flight": counters.get("in_flight"),
        "counters": counters,
        "as_of": _as_of(store, live),
        "history": sorted(
            _history(store, "s/" + shard, EventFilter(shard=shard))
            + _history(store, "s/*", FabricWide()),
            key=lambda entry: entry["seq"],
        ),
    }
    return described


# --------------------------------------------------------------------- reading


def _lines(store: Store, key: str, keep: LineFilter) -> Generator[bytes, None, None]:
    """The lines that may name `key`'s subject: through the index on a directory storage,
    else by scanning the log (each is checked again by the caller's filter)."""
    from ..store.files import EVENTS, FileStore

    if isinstance(store, FileStore):
        from .eventindex import DIRECTORY, EventIndex

        index = EventIndex(store.root / EVENTS, store.root / DIRECTORY).open()
        with closing(index.lines(key)) as indexed:
            for line in indexed:
                if keep.keeps_line(line) is not None:
                    yield line
        return
    with closing(store.read_event_chunks(1 << 22)) as chunks:
        for chunk in chunks:
            for line in chunk.split(b"\n")[:-1]:
                if keep.keeps_line(line) is not None:
                    yield line


def _history(store: Store, key: str, keep: LineFilter) -> list[dict[str, Any]]:
    """The events about a node or shard that are not a job's own."""
    with closing(_lines(store, key, keep)) as lines:
        return [
            entry
            for entry in (_entry(line) for line in lines)
            if not entry["type"].startswith("job.")
        ]


def _entry(line: bytes) -> dict[str, Any]:
    event = orjson.loads(line)
    return {
        "seq": event["seq"],
        "tick": event["tick"],
        "type": event["type"],
        "data": event["data"],
    }


def _current(
    store: Store, kind: str, name: str
) -> tuple[dict[str, Any], dict[str, Any] | None, list[str] | None]:
    """The checkpoint's entry for a node or shard, the live runner's (None at rest), and
    for a node at rest the jobs it runs (from the checkpoint's job table)."""
    from .loading import read_json
    from .sessions import runner_is_live

    checkpoint = store.read_checkpoint()
    state = orjson.loads(checkpoint)["state"] if checkpoint else {}
    stored: dict[str, Any] = next((e for e in state.get(kind, []) if e.get("id") == name), {})
    live = None
    if runner_is_live(store):
        view = read_json(store, "live.json") or {}
        live = next((e for e in view.get(kind, []) if e.get("id") == name), None)
    running = None
    if kind == "nodes" and live is None and "job_table" in state:
        table = store.read_job_table(state["job_table"]["sha256"])
        if table is not None:
            rows = dict(orjson.loads(table)["nodes"])
            column = state["job_columns"].index("id")
            running = [row[column] for row in rows.get(name, [])]
    return stored, live, running


def _pick(live: dict[str, Any] | None, stored: dict[str, Any], key: str) -> Any:
    if live is not None and key in live:
        return live[key]
    return stored.get(key)


def _as_of(store: Store, live: dict[str, Any] | None) -> dict[str, Any]:
    from .loading import read_json

    if live is not None:
        view = read_json(store, "live.json") or {}
        return {"source": "live runner", "tick": view.get("tick")}
    checkpoint = store.read_checkpoint()
    tick = orjson.loads(checkpoint)["tick"] if checkpoint else 0
    return {"source": "checkpoint", "tick": tick}
