"""Work intake: jobs an owner submits into a running fabric (`job.submit`), and the job ids
the run has ever used, so that no id is ever used twice.

A job id is used once per run: by the workload (`<prefix>-000001`…, or a group's one named
job), or by a submission. Knowing every id ever used must stay cheap (a checkpoint grows
with active jobs, not with history), so ids are kept as claims: a generated-form id
(`<prefix>-<number>`, the number written with at least 6 digits as the workload writes
it) is a number in its prefix's ranges, consecutive numbers merged into one range; any
other id is kept by name. The workload's claims come from the plan, the submissions' from
the state (`Intake`, in the checkpoint as `intake`).

The handler validates the whole batch against the state before it changes anything, so a
batch is all or nothing: a shard that does not exist, skills no node has, an id used
before or twice in the batch are `BadInput` naming `jobs -> i -> key`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import BadInput, did_you_mean
from .claims import Claims, Intake, generated_id, parse_generated
from .inputs import CommandInput, skill_key
from .state import Job
from .topology import FollowUps, shard_named

if TYPE_CHECKING:
    from .moves import Moves


# ------------------------------------------------------------------ the command


def job_submit(engine: Moves, command: CommandInput, follow_ups: FollowUps) -> dict[str, Any]:
    """New jobs join the back of their shard's queue now, in the order given."""
    state = engine.state
    entries: list[dict[str, Any]] = command.args["jobs"]
    planned = engine.planned_claims()
    earlier = state.intake.claims if state.intake is not None else Claims()
    batch = Claims()
    known_skills: set[str] | None = None
    checked = []
    for index, entry in enumerate(entries):
        where = f"jobs -> {index}"
        shard = shard_named(engine, entry["shard"], f"{where} -> shard")
        skills = skill_key(entry["skills"])
        if not engine.fabric_capable(skills):
            if known_skills is None:
                known_skills = {s for node in state.nodes.values() for s in node.skills}
            raise _no_node(where, skills, known_skills)
        if "id" in entry:
            claim: tuple[str, int, int] | str = entry["id"]
            parsed = parse_generated(entry["id"])
            if parsed is not None:
                claim = (parsed[0], parsed[1], parsed[1])
            _check_unused(f"{where} -> id", claim, (planned, earlier, batch), "pick a new id")
        else:
            claim = (entry["prefix"], 1, entry["count"])
            _check_unused(
                f"{where} -> prefix", claim, (planned, earlier, batch), "pick a new prefix"
            )
        if isinstance(claim, str):
            batch.names.add(claim)
        else:
            batch.add_range(*claim)
        checked.append((shard, skills, entry))
    # Valid as a whole: now apply, in the order given.
    intake = state.intake
    if intake is None:
        intake = state.intake = Intake()
    ids: list[str] = []
    shards: dict[str, int] = {}
    total = 0
    ordinal = state.next_ordinal
    for shard, skills, entry in checked:
        duration, value = entry["duration"], entry["value"]
        if "id" in entry:
            names = [entry["id"]]
        else:
            names = [generated_id(entry["prefix"], n) for n in range(1, entry["count"] + 1)]
        visited = (shard.id,)
        for job_id in names:
            job = Job(job_id, ordinal, shard.id, shard.id, skills, duration, value, visited)
            ordinal += 1
            shard.submitted.add(value)
            state.jobs[job_id] = job
            engine.enqueue(shard, job)
            follow_ups.append(("job.submitted", {"job": job_id, "shard": shard.id, "value": value}))
        ids.extend(names)
        shards[shard.id] = shards.get(shard.id, 0) + len(names)
        total += value * len(names)
    state.next_ordinal = ordinal
    for name in batch.names:
        intake.claims.names.add(name)
    for prefix, ranges in batch.ranges.items():
        for first, last in ranges:
            intake.claims.add_range(prefix, first, last)
    intake.jobs += len(ids)
    intake.value += total
    return {
        "jobs": len(ids),
        "value": total,
        "shards": dict(sorted(shards.items())),
        "ids": ids,
        "changed": True,
    }


_USED_BY = ("by the scenario's workload", "by an earlier submission", "earlier in this batch")


def _check_unused(
    where: str, claim: tuple[str, int, int] | str, claims: tuple[Claims, ...], fix: str
) -> None:
    """`BadInput` when an id of `claim` is claimed by the workload, an earlier submission or
    an earlier entry of this batch (`claims`, in that order)."""
    for held, used_by in zip(claims, _USED_BY, strict=True):
        if isinstance(claim, str):
            found = claim if claim in held.names else None
        else:
            found = held.find_range(*claim)
        if found is not None:
            raise BadInput(
                f"{where}: job id `{found}` is already used {used_by}",
                f"a job id is used once per run (resubmitted, it is refused, never doubled): {fix}",
            )


def _no_node(where: str, skills: tuple[str, ...], known: set[str]) -> BadInput:
    missing = [skill for skill in skills if skill not in known]
    if missing:
        skill = missing[0]
        close = did_you_mean(skill, sorted(known)).removeprefix("; ")
        hint = close or "known: " + ", ".join(sorted(known))
        return BadInput(f"{where} -> skills: no node has skill `{skill}`", hint)
    return BadInput(
        f"{where} -> skills: no node has all of {', '.join(skills)}",
        "split the work into jobs whose skills one node has, or register such a node",
    )
