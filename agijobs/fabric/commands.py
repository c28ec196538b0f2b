"""Owner commands: typed, validated against the live state, applied as one `owner.*` event.

A command is validated before it changes anything; an invalid one raises `BadInput` and
leaves the state untouched. Each applied command records its input (who, why, when issued)
and its effect (before/after values, jobs moved). Repeating a command that changes nothing
("already paused") is recorded with `"changed": false` and is not an error.
"""

from __future__ import annotations

import difflib
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from .state import QUEUED, RUNNING, Job, Shard, queue_key

if TYPE_CHECKING:
    from .engine import Engine

NAMES = ("pause-all", "resume", "reroute", "set-latency")


@dataclass(frozen=True, slots=True)
class CommandInput:
    """An owner command as issued: the name, its arguments and its provenance."""

    name: str
    args: dict[str, Any]
    reason: str
    actor: str
    source: str  # "schedule" | "live" | "at-rest"
    issued_at: str | None = None
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.name,
            "args": self.args,
            "reason": self.reason,
            "actor": self.actor,
            "source": self.source,
            "issued_at": self.issued_at,
            "id": self.id,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CommandInput:
        return cls(
            name=raw["command"],
            args=dict(raw["args"]),
            reason=raw["reason"],
            actor=raw["actor"],
            source=raw["source"],
            issued_at=raw.get("issued_at"),
            id=raw.get("id"),
        )

    def with_source(self, source: str) -> CommandInput:
        return CommandInput(
            self.name, self.args, self.reason, self.actor, source, self.issued_at, self.id
        )


def validate(engine: Engine, command: CommandInput) -> None:
    """Raise `BadInput` if the command cannot apply to the current state."""
    args = command.args
    if command.name not in NAMES:
        raise BadInput(f"unknown owner command `{command.name}`", f"use one of {', '.join(NAMES)}")
    if not command.reason.strip():
        raise BadInput("a reason is required", "pass --reason 'why this is done'")
    if command.name == "reroute":
        _shard(engine, args["from"], "--from")
        if args.get("to") is not None:
            _shard(engine, args["to"], "--to")
        job_id = args.get("job")
        if job_id is not None:
            job = engine.state.jobs.get(job_id)
            if job is None:
                raise BadInput(
                    f"--job: no queued or running job `{job_id}`",
                    "ids look like `earth-finance-000042`; a completed or failed job cannot move",
                )
            if job.shard != args["from"]:
                raise BadInput(
                    f"--job: job `{job_id}` is in shard `{job.shard}`, not `{args['from']}`",
                    f"use --from {job.shard}",
                )
            target = engine.state.shards[args["to"]]
            if not engine.can_serve(target, job.skills):
                raise BadInput(
                    f"--to: shard `{target.id}` has no eligible node with skills "
                    f"{list(job.skills)}",
                    "pick a shard that can serve the job",
                )
    elif command.name == "set-latency":
        _shard(engine, args["shard"], "--shard")


def apply(engine: Engine, command: CommandInput) -> None:
    """Validate and apply `command`, emitting its `owner.*` event (and its job moves)."""
    validate(engine, command)
    _count_source(engine, command)
    follow_ups: list[tuple[str, dict[str, Any]]] = []
    if command.name == "pause-all":
        effect = _set_paused(engine, True)
    elif command.name == "resume":
        effect = _set_paused(engine, False)
    elif command.name == "reroute":
        effect = _reroute(engine, command.args, follow_ups)
    else:
        effect = _set_latency(engine, command.args, follow_ups)
    engine.state.owner_actions += 1
    engine.emit(f"owner.{command.name}", {"input": command.to_json(), "effect": effect})
    for kind, data in follow_ups:
        engine.emit(kind, data)


def reject(engine: Engine, command: CommandInput, error: BadInput) -> None:
    """A live command that no longer applies is recorded, never silently dropped."""
    _count_source(engine, command)
    engine.emit("owner.rejected", {"input": command.to_json(), "error": error.render()})


def _count_source(engine: Engine, command: CommandInput) -> None:
    if command.source != "schedule":
        engine.state.outside_commands += 1


def _shard(engine: Engine, name: str, option: str) -> Shard:
    shard = engine.state.shards.get(name)
    if shard is None:
        close = difflib.get_close_matches(name, list(engine.state.shards), n=1)
        hint = (
            f"did you mean `{close[0]}`?" if close else "known: " + ", ".join(engine.state.shards)
        )
        raise BadInput(f"{option}: unknown shard `{name}`", hint)
    return shard


def _set_paused(engine: Engine, paused: bool) -> dict[str, Any]:
    before = engine.state.paused
    engine.state.paused = paused
    return {"paused": [before, paused], "changed": before != paused}


def _set_latency(
    engine: Engine, args: dict[str, Any], follow_ups: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    shard = engine.state.shards[args["shard"]]
    before, after = shard.budget_ms, int(args["ms"])
    shard.budget_ms = after
    ineligible, eligible = [], []
    for node in shard.nodes:
        was_ok, is_ok = node.latency_ms <= before, node.latency_ms <= after
        if was_ok and not is_ok:
            ineligible.append(node.id)
            follow_ups.append(("node.latency.breach", engine.latency_data(node)))
        elif is_ok and not was_ok:
            eligible.append(node.id)
            follow_ups.append(("node.latency.ok", engine.latency_data(node)))
    if before != after:
        engine.topology_changed()
    return {
        "budget_ms": [before, after],
        "changed": before != after,
        "ineligible": ineligible,
        "eligible": eligible,
    }


def _reroute(
    engine: Engine, args: dict[str, Any], follow_ups: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    source = engine.state.shards[args["from"]]
    if args.get("clear"):
        before = source.reroute_target
        source.reroute_target = None
        engine.topology_changed()
        return {
            "reroute_target": [before, None],
            "first_target": [_first_target(source, before), _first_target(source, None)],
            "changed": before is not None,
        }
    target = engine.state.shards[args["to"]]
    job_id = args.get("job")
    if job_id is not None:
        job = engine.state.jobs[job_id]
        pulled_from = job.node if job.state == RUNNING else None
        if job.state == RUNNING:
            engine.pull(job)
        else:
            _remove_queued(source, job)
        engine.move(job, source, target, "reroute", follow_ups)
        return {"job": job_id, "moved": 1, "pulled_from_node": pulled_from}
    before = source.reroute_target
    first_before = _first_target(source, before)
    source.reroute_target = target.id
    backlog = args.get("backlog")
    limit = 0 if backlog is None else (source.queued.count if backlog == "all" else int(backlog))
    moved = left_unservable = left_full = 0
    if limit > 0:
        keep: list[Job] = []
        for job in _queued_in_order(source):
            if moved + left_full >= limit:  # the N asked for are moved or reported
                keep.append(job)
            elif not engine.can_serve(target, job.skills):
                left_unservable += 1
                keep.append(job)
            elif target.queued.count >= target.max_queue:
                left_full += 1
                keep.append(job)
            else:
                moved += 1
                engine.move(job, source, target, "reroute", follow_ups)
        _rebuild_queues(source, keep)
    engine.topology_changed()
    return {
        "reroute_target": [before, target.id],
        "first_target": [first_before, target.id],
        "changed": before != target.id or moved > 0,
        "moved": moved,
        "left_unservable": left_unservable,
        "left_full": left_full,
    }


def _first_target(shard: Shard, reroute_target: str | None) -> str | None:
    """The first spillover target in effect with this reroute target (None: no target)."""
    if reroute_target is not None:
        return reroute_target
    return shard.policies[0].target if shard.policies else None


def _queued_in_order(shard: Shard) -> list[Job]:
    jobs = [job for queue in shard.active.values() for job in queue]
    jobs.extend(job for queue in shard.waiting.values() for job in queue)
    jobs.sort(key=lambda job: job.qseq)
    shard.active, shard.waiting = {}, {}
    return jobs


def _rebuild_queues(shard: Shard, jobs: list[Job]) -> None:
    for job in jobs:
        store = shard.waiting if job.deferred else shard.active
        store.setdefault(queue_key(job), deque()).append(job)


def _remove_queued(shard: Shard, job: Job) -> None:
    assert job.state == QUEUED
    for store in (shard.active, shard.waiting):
        queue = store.get(queue_key(job))
        if queue is not None and job in queue:
            queue.remove(job)
            return
