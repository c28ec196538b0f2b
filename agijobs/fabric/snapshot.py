"""The checkpoint's one shape: the fabric's state as a document, and back.

`snapshot` writes the state as plain JSON data in canonical order; `restore` reads it back;
`check_state` proves a document read from storage has that shape before `restore` trusts it.
A job is one row of `JOB_COLUMNS`; the rows live apart from the checkpoint in its job table
(`agijobs.ledger.jobtable`), whose shape is checked as it is attached and each row as it is
restored.

The integrity hash proves the bytes are the ones written; `check_state` proves they describe
a state this agijobs can restore (a checkpoint from another version, or sealed after
editing, fails here with its key path instead of crashing the restore). It is a table of
types rather than pydantic models: every owner command at rest and every `status` loads a
checkpoint, and must not pay for importing pydantic. The check is strict (JSON types as
written, no coercion: the restore reads the values as they are) and its messages read as
pydantic's do: ``state -> nodes -> 0 -> outages: Field required``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError
from ..ledger import jobtable
from ..ledger.canonical import sha256_hex
from .claims import Intake
from .governance import Governance
from .inputs import SkillKey
from .state import QUEUED, RUNNING, TALLIES, FabricState, Job, Node, Policy, QueueKey, Shard

if TYPE_CHECKING:
    from .moves import Moves

SNAPSHOT_FORMAT = 3  # 3: nodes count the jobs they completed and failed


# ------------------------------------------------------------------ state <-> document


def snapshot(engine: Moves) -> dict[str, Any]:
    """The engine's state as a checkpoint holds it: plain JSON data, in canonical order
    (see `restore`)."""
    state = engine.state
    shards = []
    for shard in state.shards.values():
        shards.append(
            {
                "id": shard.id,
                "name": shard.name,
                "retired": shard.retired,
                "forward_to": shard.forward_to,
                "budget_ms": shard.budget_ms,
                "max_queue": shard.max_queue,
                "alert_threshold": shard.alert_threshold,
                "policies": [p.to_json() for p in shard.policies],
                "reroute_target": shard.reroute_target,
                "paused": shard.paused,
                **({} if shard.pause is None else {"pause": shard.pause}),
                "next_back": shard.next_back,
                "next_front": shard.next_front,
                "cost_nano": shard.cost_nano,
                "counters": {name: shard.tally(name).to_json() for name in TALLIES},
                "queue": _class_rows(shard.active),
                "deferred": _class_rows(shard.waiting),
            }
        )
    nodes = []
    for node in state.nodes.values():
        nodes.append(
            {
                "id": node.id,
                "shard": node.shard,
                "skills": sorted(node.skills),
                "heartbeat": node.heartbeat,
                "price_nano": node.price_nano,
                "metadata": node.metadata,
                "base_latency_ms": node.base_latency_ms,
                "up": node.up,
                "outages": node.outages,
                "latency_ms": node.latency_ms,
                "slots": node.slots,
                "timer": [node.timer_kind, node.timer_tick],
                "completed": node.completed,
                "failed": node.failed,
                "running": [make_job_row(j) for j in node.running.values()],
                # Node operations and executor reports: written only when in force, so a
                # run that never uses them keeps its checkpoint bytes.
                **({"cordoned": True} if node.cordoned else {}),
                **({"drain_tick": node.drain_tick} if node.drain_tick else {}),
                **({"executor_down": True} if node.executor_down else {}),
            }
        )
    snapshot = {
        "format": SNAPSHOT_FORMAT,
        "tick": state.tick,
        "paused": state.paused,
        "next_ordinal": state.next_ordinal,
        "checkpoint_every": state.checkpoint_every,
        "report_label": state.report_label,
        "topology_dirty": state.topology_dirty,
        "journal_applied": state.journal_applied,
        "owner_actions": state.owner_actions,
        "outside_commands": state.outside_commands,
        "job_columns": JOB_COLUMNS,
        "shards": shards,
        "nodes": nodes,
        **({} if state.pause is None else {"pause": state.pause}),
        **({} if state.governance is None else {"governance": state.governance.to_json()}),
        **({} if state.intake is None else {"intake": state.intake.to_json()}),
        **({"triggers": list(state.triggers_armed)} if state.triggers_armed else {}),
        **({"attempts": _live_attempts(state)} if state.attempts else {}),
    }
    if engine.unrestored is not None:
        if state.jobs:  # jobs submitted at rest to a state restored without its rows
            assert engine.unrestored_table is not None
            _merge_jobs(snapshot, engine.unrestored, engine.unrestored_table)
        else:
            _write_back_jobs(snapshot, engine.unrestored)
    return snapshot


def split_snapshot(engine: Moves) -> tuple[dict[str, Any], bytes | None]:
    """`jobtable.split(snapshot(engine))`, what a checkpoint stores: the state without its
    job rows, and the job table when it is not stored yet. Jobs submitted at rest to an
    engine restored without its rows are spliced into the stored table's bytes
    (`jobtable.appended`): the backlog's rows are neither parsed nor encoded again."""
    unrestored, table = engine.unrestored, engine.unrestored_table
    if unrestored is None or table is None or not engine.state.jobs:
        return jobtable.split(snapshot(engine))
    engine.unrestored = None  # the snapshot of what it holds: the added jobs only
    try:
        added = snapshot(engine)
    finally:
        engine.unrestored = unrestored
    additions = {
        shard["id"]: (shard["queue"], shard["deferred"])
        for shard in added["shards"]
        if shard["queue"] or shard["deferred"]
    }
    spliced = None
    if not any(node["running"] for node in added["nodes"]):
        spliced = jobtable.appended(unrestored, table, additions)
    if spliced is None:
        return jobtable.split(snapshot(engine))
    counts = {
        shard_id: (_rows(queue), _rows(deferred))
        for shard_id, (queue, deferred) in additions.items()
    }
    _write_back_jobs(added, unrestored)
    for shard in added["shards"]:
        queued, deferred = counts.get(shard["id"], (0, 0))
        shard["queued_jobs"] += queued
        shard["deferred_jobs"] += deferred
    added[jobtable.TABLE_KEY] = {"bytes": len(spliced), "sha256": sha256_hex(spliced)}
    return added, spliced


def _rows(classes: list[tuple[QueueKey, list[Any]]]) -> int:
    return sum(len(rows) for _, rows in classes)


def restore(
    snapshot: dict[str, Any], *, jobs: bool = True
) -> tuple[FabricState, dict[str, Any] | None]:
    """The state a snapshot holds. Shards and nodes come from the snapshot, not the
    scenario: owner commands may have registered, changed or removed them.

    `jobs=False` takes the state without its job rows (`jobtable.split`), for owner
    commands that touch no job and for `status`: reading a 100k-job backlog was most of
    what they cost at rest. The state then holds no job, and the snapshot is returned
    beside it, so that the engine's next snapshot names the same stored job table."""
    if (jobtable.TABLE_KEY in snapshot) == jobs:
        raise ValueError("a state with its job rows restores with jobs, one without without")
    shards: dict[str, Shard] = {}
    for raw in snapshot["shards"]:
        shard = Shard(
            id=raw["id"],
            name=raw["name"],
            budget_ms=raw["budget_ms"],
            max_queue=raw["max_queue"],
            alert_threshold=raw["alert_threshold"],
            policies=[
                Policy(
                    p["target"],
                    p["threshold"],
                    p["max_drain_per_tick"],
                    frozenset(p["required_skills"]),
                )
                for p in raw["policies"]
            ],
            reroute_target=raw["reroute_target"],
            paused=raw["paused"],
            pause=raw.get("pause"),
            retired=raw["retired"],
            forward_to=raw["forward_to"],
            next_back=raw["next_back"],
            next_front=raw["next_front"],
            cost_nano=raw["cost_nano"],
        )
        for name, (count, value) in raw["counters"].items():
            tally = shard.tally(name)
            tally.count, tally.value = count, value
        shards[shard.id] = shard
    nodes: dict[str, Node] = {}
    for raw in snapshot["nodes"]:
        node = Node(
            id=raw["id"],
            shard=raw["shard"],
            slots=raw["slots"],
            skills=frozenset(raw["skills"]),
            latency_ms=raw["latency_ms"],
            base_latency_ms=raw["base_latency_ms"],
            heartbeat=raw["heartbeat"],
            price_nano=raw["price_nano"],
            metadata=raw["metadata"],
            up=raw["up"],
            outages=raw["outages"],
            completed=raw["completed"],
            failed=raw["failed"],
            cordoned=raw.get("cordoned", False),
            executor_down=raw.get("executor_down", False),
        )
        nodes[node.id] = node
        shards[node.shard].nodes.append(node)
    state = FabricState(
        tick=snapshot["tick"],
        shards=shards,
        nodes=nodes,
        jobs={},
        paused=snapshot["paused"],
        pause=snapshot.get("pause"),
        next_ordinal=snapshot["next_ordinal"],
        checkpoint_every=snapshot["checkpoint_every"],
        report_label=snapshot["report_label"],
        topology_dirty=snapshot["topology_dirty"],
        journal_applied=snapshot["journal_applied"],
        owner_actions=snapshot["owner_actions"],
        outside_commands=snapshot["outside_commands"],
    )
    if "governance" in snapshot:
        state.governance = Governance.from_json(snapshot["governance"])
    if "intake" in snapshot:
        state.intake = Intake.from_json(snapshot["intake"])
    state.triggers_armed = list(snapshot.get("triggers", ()))
    state.attempts = dict(snapshot.get("attempts", {}))
    for raw in snapshot["nodes"]:
        if raw.get("drain_tick"):
            state.set_drain(nodes[raw["id"]], raw["drain_tick"])
    if not jobs:
        for raw in snapshot["nodes"]:
            kind, tick = raw["timer"]
            if kind:
                state.set_timer(nodes[raw["id"]], kind, tick)
        return state, snapshot
    interned: dict[SkillKey, SkillKey] = {}
    live = state.jobs
    for raw in snapshot["shards"]:
        shard = shards[raw["id"]]
        for part, store in (("queue", shard.active), ("deferred", shard.waiting)):
            for (skills, visited), rows in raw[part]:
                queue = store[(tuple(skills), tuple(visited))] = deque()
                for index, row in enumerate(rows):
                    try:
                        job = job_from_row(row, shard.id, interned)
                    except (ValueError, TypeError) as error:
                        raise _bad_row(f"shards -> {shard.id} -> {part}", index, error) from None
                    live[job.id] = job
                    queue.append(job)
    for raw in snapshot["nodes"]:
        node = nodes[raw["id"]]
        kind, tick = raw["timer"]
        if kind:
            state.set_timer(node, kind, tick)
        for index, row in enumerate(raw["running"]):
            try:
                job = job_from_row(row, node.shard, interned)
            except (ValueError, TypeError) as error:
                raise _bad_row(f"nodes -> {node.id} -> running", index, error) from None
            job.state = RUNNING
            job.node = node.id
            node.running[job.id] = job
            state.jobs[job.id] = job
            if job.due:
                state.completions.setdefault(job.due, []).append(job)
    return state, None


def _write_back_jobs(snapshot: dict[str, Any], unrestored: dict[str, Any]) -> None:
    """Make the snapshot of an engine restored without its jobs name their stored table:
    the state as `jobtable.split` gives it, with the rows and counts it was restored from."""
    shards = {raw["id"]: raw for raw in unrestored["shards"]}
    nodes = {raw["id"]: raw for raw in unrestored["nodes"]}
    for shard in snapshot["shards"]:
        del shard["queue"], shard["deferred"]
        shard["queued_jobs"] = shards[shard["id"]]["queued_jobs"]
        shard["deferred_jobs"] = shards[shard["id"]]["deferred_jobs"]
    for node in snapshot["nodes"]:
        del node["running"]
        node["running_jobs"] = nodes[node["id"]]["running_jobs"]
    snapshot.pop("attempts", None)
    if "attempts" in unrestored:
        snapshot["attempts"] = unrestored["attempts"]
    snapshot[jobtable.TABLE_KEY] = unrestored[jobtable.TABLE_KEY]


def _merge_jobs(snapshot: dict[str, Any], unrestored: dict[str, Any], table: bytes) -> None:
    """Make the snapshot of an engine restored without its jobs, to which jobs were then
    added (only ever at the back of their queue: `job.submit`), the state a full restore
    would have given: the stored rows, each class's new rows after them. The stored rows are
    written back as read (the table was verified against its digest); none is parsed into a
    job, which is what makes a submission at rest cheap on a large backlog."""
    stored = jobtable.attach(unrestored, table, "the checkpoint's job table")
    shards = {raw["id"]: raw for raw in stored["shards"]}
    for shard in snapshot["shards"]:
        before = shards[shard["id"]]
        for part in ("queue", "deferred"):
            classes = {_class_key(key): list(rows) for key, rows in before[part]}
            for key, rows in shard[part]:
                classes.setdefault(_class_key(key), []).extend(rows)
            shard[part] = [(key, classes[key]) for key in sorted(classes)]
    nodes = {raw["id"]: raw for raw in stored["nodes"]}
    for node in snapshot["nodes"]:
        node["running"] = nodes[node["id"]]["running"] + node["running"]
    snapshot.pop("attempts", None)
    if "attempts" in unrestored:
        snapshot["attempts"] = unrestored["attempts"]


def _class_key(key: Any) -> QueueKey:
    skills, visited = key
    return (tuple(skills), tuple(visited))


def _bad_row(where: str, index: int, error: Exception) -> IntegrityError:
    what = str(error) if isinstance(error, ValueError) else "a field of the wrong type"
    return IntegrityError(
        f"the checkpoint's job table: {where} -> row {index}: {what}",
        "the checkpoint was written by another agijobs version or altered; re-run",
    )


def _live_attempts(state: FabricState) -> dict[str, int]:
    """Rejection counts of jobs still live (a finished job's count is history)."""
    return {job: n for job, n in sorted(state.attempts.items()) if job in state.jobs}


def _class_rows(store: dict[QueueKey, deque[Job]]) -> list[tuple[QueueKey, list[Any]]]:
    """A shard's queues as (skills, rows) per skill class in key order, each class in its own
    FIFO order: no sort over the backlog at each checkpoint (qseq keeps the order across
    classes), and a restore rebuilds the same deques."""
    return [(key, [make_job_row(job) for job in store[key]]) for key in sorted(store) if store[key]]


# ------------------------------------------------------------------------ job rows


def make_job_row(job: Job) -> tuple[Any, ...] | list[Any]:
    """A job as one checkpoint row (orjson writes tuples as arrays; no copies needed)."""
    row = job.row
    if row is None:
        row = job.row = _job_row(job)
    return row


def _job_row(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.ordinal,
        job.origin,
        job.skills,
        job.remaining,
        job.value,
        job.visited,
        job.qseq,
        job.deferred,
        job.due,
    )


JOB_COLUMNS = [
    "id",
    "ordinal",
    "origin",
    "skills",
    "remaining",
    "value",
    "visited",
    "qseq",
    "deferred",
    "due",
]


_SEQUENCES = (list, tuple)


def job_from_row(row: Any, shard: str, interned: dict[SkillKey, SkillKey]) -> Job:
    """A job from its checkpoint row, which it keeps as its cached row (the next checkpoint
    writes an untouched job without rebuilding it)."""
    skills = check_job_row(row, interned)
    id_, ordinal, origin, _, remaining, value, visited, qseq, deferred, due = row
    return Job(
        id_, ordinal, origin, shard, skills, remaining, value, tuple(visited), qseq,
        QUEUED, deferred, None, due, row,
    )  # fmt: skip


def check_job_row(row: Any, interned: dict[SkillKey, SkillKey]) -> SkillKey:
    """The row's skills, interned; ValueError (TypeError for an unhashable skill) for a row
    of the wrong shape or types. This check is what restores a 100k-job backlog in a
    fraction of the time a pydantic model per row takes."""
    if type(row) not in _SEQUENCES or len(row) != 10:  # a list read, a tuple in memory
        raise ValueError("not a list of 10 fields")
    id_, ordinal, origin, skills, remaining, value, visited, qseq, deferred, due = row
    if not (
        type(id_) is str
        and type(ordinal) is int
        and type(origin) is str
        and type(skills) in _SEQUENCES
        and type(remaining) is int
        and type(value) is int
        and type(visited) in _SEQUENCES
        and type(qseq) is int
        and type(deferred) is bool
        and type(due) is int
    ) or not all(type(hop) is str for hop in visited):
        raise ValueError("a field of the wrong type")
    key = tuple(skills)
    known = interned.get(key)  # TypeError for an unhashable skill: the caller's to report
    if known is None:
        if not all(type(skill) is str for skill in key):
            raise ValueError("a skill that is not a string")
        known = interned[key] = key
    return known


# ------------------------------------------------------------------- the shape check


class _Of:
    """A spec about another spec."""

    __slots__ = ("spec",)

    def __init__(self, spec: Any) -> None:
        self.spec = spec


class Omittable(_Of):
    """A field that may be absent (the snapshot leaves it out when empty); never null."""

    __slots__ = ()


class Nullable(_Of):
    """A field that must be there, and may be null."""

    __slots__ = ()


class ListOf(_Of):
    __slots__ = ()


class MapOf(_Of):
    """A JSON object with any keys, each value of `spec`."""

    __slots__ = ()


# A spec: a type (int, str, bool, object for anything), a ListOf, a MapOf, a Nullable, a
# tuple of specs (a list of exactly those items), or a dict of field -> spec (exactly those
# fields, but for Omittable ones).
TALLY = (int, int)
POLICY = {
    "target": str,
    "threshold": int,
    "max_drain_per_tick": int,
    "required_skills": ListOf(str),
}
TALLY_SHAPES = dict.fromkeys(TALLIES, TALLY)
# A pause in force (fabric.state.PauseRecord); absent when not paused, and in checkpoints
# written before agijobs kept it
PAUSE = {
    "tick": int,
    "command": str,
    "actor": str,
    "reason": str,
    "source": str,
    "issued_at": Nullable(str),
}
SHARD = {
    "id": str,
    "name": str,
    "retired": bool,
    "forward_to": Nullable(str),
    "budget_ms": int,
    "max_queue": int,
    "alert_threshold": int,
    "policies": ListOf(POLICY),
    "reroute_target": Nullable(str),
    "paused": bool,
    "pause": Omittable(PAUSE),
    "next_back": int,
    "next_front": int,
    "cost_nano": int,
    "counters": TALLY_SHAPES,
    # Rows in the job table (agijobs.ledger.jobtable): queued and deferred, in their queue classes
    "queued_jobs": int,
    "deferred_jobs": int,
}
NODE = {
    "id": str,
    "shard": str,
    "skills": ListOf(str),
    "heartbeat": int,
    "price_nano": int,
    "metadata": MapOf(object),
    "base_latency_ms": int,
    "up": bool,
    "outages": int,
    "latency_ms": int,
    "slots": int,
    "timer": (str, int),
    "completed": int,
    "failed": int,
    "running_jobs": int,  # rows in the job table
    "cordoned": Omittable(bool),  # absent unless cordoned (agijobs.fabric.nodes)
    "drain_tick": Omittable(int),  # absent unless draining
    "executor_down": Omittable(bool),  # absent unless the executor reports it down
}
GOVERNANCE = {
    "keys": ListOf({"name": str, "public_key": str, "roles": ListOf(str)}),
    "approvals": MapOf(int),
    "operator_may": ListOf(str),
    "proposal_expiry_ticks": int,
    "proposals": ListOf(
        {
            "id": str,
            "command": MapOf(object),
            "needed": int,
            "expires_tick": int,
            "signers": ListOf(str),
        }
    ),
    "nonces": ListOf(str),
}
INTAKE = {
    "jobs": int,
    "value": int,
    "names": ListOf(str),
    "ranges": MapOf(ListOf((int, int))),
}
SNAPSHOT = {
    "format": int,
    "tick": int,
    "paused": bool,
    "pause": Omittable(PAUSE),
    "next_ordinal": int,
    "checkpoint_every": int,
    "report_label": str,
    "topology_dirty": bool,
    "journal_applied": int,
    "owner_actions": int,
    "outside_commands": int,
    "job_columns": ListOf(str),
    "shards": ListOf(SHARD),
    "nodes": ListOf(NODE),
    "job_table": {"bytes": int, "sha256": str},
    "governance": Omittable(GOVERNANCE),  # absent in open mode
    "intake": Omittable(INTAKE),  # absent until an owner submits jobs
    "triggers": Omittable(ListOf(bool)),  # absent without triggers
    "attempts": Omittable(MapOf(int)),  # absent until an executor rejects a job
}
_NAMES = {int: "integer", str: "string", bool: "boolean"}


class _Misfit(Exception):
    def __init__(self, where: Sequence[Any], message: str) -> None:
        super().__init__(message)
        self.where, self.message = list(where), message


def check_shape(value: Any, spec: Any, where: list[Any]) -> None:
    """Raise `_Misfit` at the first place `value` departs from `spec`."""
    if spec is object:
        return
    if isinstance(spec, type):
        # JSON's true is not an integer here, whatever Python says (bool is an int).
        if type(value) is not spec:
            raise _Misfit(where, f"Input should be a valid {_NAMES[spec]}")
    elif isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _Misfit(where, "Input should be a valid dictionary")
        for name, field in spec.items():
            if isinstance(field, Omittable):
                if name in value:
                    check_shape(value[name], field.spec, [*where, name])
            elif name not in value:
                raise _Misfit([*where, name], "Field required")
            else:
                check_shape(value[name], field, [*where, name])
        for name in value:
            if name not in spec:
                raise _Misfit([*where, name], "Extra inputs are not permitted")
    elif isinstance(spec, Nullable):
        if value is not None:
            check_shape(value, spec.spec, where)
    elif isinstance(spec, tuple):
        if not isinstance(value, list) or len(value) != len(spec):
            raise _Misfit(where, f"Input should be a list of {len(spec)} items")
        for index, (item, field) in enumerate(zip(value, spec, strict=True)):
            check_shape(item, field, [*where, index])
    elif isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise _Misfit(where, "Input should be a valid list")
        for index, item in enumerate(value):
            check_shape(item, spec.spec, [*where, index])
    elif isinstance(spec, MapOf):
        if not isinstance(value, dict):
            raise _Misfit(where, "Input should be a valid dictionary")
        for name, item in value.items():
            check_shape(item, spec.spec, [*where, name])
    else:  # pragma: no cover - the specs above are all there is
        raise TypeError(f"not a spec: {spec!r}")


def check_state(state: Any, plan_shards: Sequence[str], keyed: bool, name: str) -> None:
    """Raise `IntegrityError` unless `state` is a restorable state of the fabric whose plan
    declares `plan_shards` and (`keyed`) owner keys."""
    remedy = "the checkpoint was written by another agijobs version or altered; re-run"
    try:
        check_shape(state, SNAPSHOT, [])
    except _Misfit as misfit:
        where = " -> ".join(str(p) for p in ("state", *misfit.where))
        raise IntegrityError(f"{name}: {where}: {misfit.message}", remedy) from None
    # Owner commands register and remove shards and nodes, but a shard is never forgotten
    # (its history stays in the totals) and every node belongs to a shard of the state.
    shards = [s["id"] for s in state["shards"]]
    if shards != sorted(set(shards)) or not set(plan_shards) <= set(shards):
        raise IntegrityError(f"{name}: its shards are not the plan's", remedy)
    if (state.get("governance") is None) == keyed:
        raise IntegrityError(f"{name}: its owner authority is not the plan's", remedy)
    nodes = [n["id"] for n in state["nodes"]]
    if nodes != sorted(set(nodes)) or any(n["shard"] not in shards for n in state["nodes"]):
        raise IntegrityError(f"{name}: its nodes are not in order or not in its shards", remedy)
    conservation(state, name)


def conservation(state: dict[str, Any], name: str = "checkpoint.json") -> dict[str, Any]:
    """Every job a state counts in is accounted for, shard by shard and in total (an
    `IntegrityError` naming `name` if not); the totals."""
    totals = {tally: [0, 0] for tally in TALLIES}
    for raw in state["shards"]:
        shard = raw["id"]
        stored = raw["counters"]
        for tally in TALLIES:
            totals[tally][0] += stored[tally][0]
            totals[tally][1] += stored[tally][1]
        inflow = [stored["submitted"][i] + stored["spilled_in"][i] for i in (0, 1)]
        outflow = [
            sum(
                stored[n][i]
                for n in ("completed", "failed", "cancelled", "queued", "in_flight", "spilled_out")
            )
            for i in (0, 1)
        ]
        if inflow != outflow:
            raise IntegrityError(
                f"{name}: shard {shard} does not conserve jobs (in {inflow}, accounted {outflow})",
                "the checkpoint is inconsistent",
            )
    accounted = [
        sum(totals[n][i] for n in ("completed", "failed", "cancelled", "queued", "in_flight"))
        for i in (0, 1)
    ]
    if accounted != totals["submitted"]:
        raise IntegrityError(
            f"{name}: {totals['submitted']} submitted but {accounted} accounted for",
            "the checkpoint is inconsistent",
        )
    return {"holds": True, "totals": totals}
