"""The shape of a checkpoint's state, validated by pydantic when a checkpoint is loaded.

The integrity hash proves the bytes are the ones written; this proves they describe a state
this agijobs can restore (a checkpoint from another version, or sealed after editing, fails
here with its key path instead of crashing the restore). The tick loop never sees these
models: `Engine.restore` reads the validated plain data. Job rows are not part of this
state but of its job table (agijobs.jobtable), whose shape is checked as it is attached and
each row as it is restored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import IntegrityError
from .scenario import Scenario

Tally = tuple[int, int]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyState(_Shape):
    target: str
    threshold: int
    max_drain_per_tick: int
    required_skills: list[str]


class Counters(_Shape):
    submitted: Tally
    spilled_in: Tally
    spilled_out: Tally
    completed: Tally
    failed: Tally
    cancelled: Tally
    queued: Tally
    in_flight: Tally


class ShardState(_Shape):
    id: str
    name: str
    retired: bool
    forward_to: str | None
    budget_ms: int
    max_queue: int
    alert_threshold: int
    policies: list[PolicyState]
    reroute_target: str | None
    paused: bool
    next_back: int
    next_front: int
    cost_nano: int
    counters: Counters
    # Rows in the job table (agijobs.jobtable): queued and deferred, in their queue classes
    queued_jobs: int
    deferred_jobs: int


class NodeState(_Shape):
    id: str
    shard: str
    skills: list[str]
    heartbeat: int
    price_nano: int
    metadata: dict[str, Any]
    base_latency_ms: int
    up: bool
    outages: int
    latency_ms: int
    slots: int
    timer: tuple[str, int]
    running_jobs: int  # rows in the job table


class KeyState(_Shape):
    name: str
    public_key: str
    roles: list[str]


class ProposalState(_Shape):
    id: str
    command: dict[str, Any]
    needed: int
    expires_tick: int
    signers: list[str]


class GovernanceState(_Shape):
    keys: list[KeyState]
    approvals: dict[str, int]
    operator_may: list[str]
    proposal_expiry_ticks: int
    proposals: list[ProposalState]
    nonces: list[str]


class JobTableRef(_Shape):
    bytes: int
    sha256: str


class FabricSnapshot(_Shape):
    format: int
    tick: int
    paused: bool
    next_ordinal: int
    checkpoint_every: int
    report_label: str
    topology_dirty: bool
    journal_applied: int
    owner_actions: int
    outside_commands: int
    job_columns: list[str]
    shards: list[ShardState]
    nodes: list[NodeState]
    job_table: JobTableRef
    governance: GovernanceState | None = None  # absent in open mode
    triggers: list[bool] | None = None  # absent without triggers
    attempts: dict[str, int] | None = None  # absent until an executor rejects a job


def check_state(state: Any, scenario: Scenario, name: str) -> None:
    """Raise `IntegrityError` unless `state` is a restorable state of `scenario`'s fabric."""
    remedy = "the checkpoint was written by another agijobs version or altered; re-run"
    try:
        snapshot = FabricSnapshot.model_validate(state)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = " -> ".join(str(p) for p in ("state", *error["loc"]))
        raise IntegrityError(f"{name}: {where}: {error['msg']}", remedy) from None
    # Owner commands register and remove shards and nodes, but a shard is never forgotten
    # (its history stays in the totals) and every node belongs to a shard of the state.
    shards = [s.id for s in snapshot.shards]
    if shards != sorted(set(shards)) or not {s.id for s in scenario.fabric.shards} <= set(shards):
        raise IntegrityError(f"{name}: its shards are not the plan's", remedy)
    if (snapshot.governance is None) != (not scenario.fabric.owner.keys):
        raise IntegrityError(f"{name}: its owner authority is not the plan's", remedy)
    nodes = [n.id for n in snapshot.nodes]
    if nodes != sorted(set(nodes)) or any(n.shard not in shards for n in snapshot.nodes):
        raise IntegrityError(f"{name}: its nodes are not in order or not in its shards", remedy)
