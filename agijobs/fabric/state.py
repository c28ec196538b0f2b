"""The fabric's state: shards, nodes, jobs and counters, as plain slotted objects.

Nothing here validates input (the scenario boundary did) and nothing does I/O. Queues are
indexed by the skills a job needs (`SkillKey`), so a router only touches classes of jobs
that can move. Every job carries `qseq`, its place in its shard's queue: new jobs get
increasing numbers at the back, requeued jobs decreasing numbers at the front, so FIFO order
across skill classes is the order of `qseq` and survives a checkpoint unchanged.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from .inputs import SkillKey

if TYPE_CHECKING:
    from .claims import Intake
    from .governance import Governance

# Queues are kept per (skills, hop history): a spillover target can then take or refuse a
# whole class at once, instead of rescanning jobs that have already visited it every tick.
QueueKey = tuple[SkillKey, tuple[str, ...]]
# A pause in force, as the command that made it recorded it: the tick it took effect at,
# the command, its actor, reason and source (schedule, live or at-rest) and, from outside
# the schedule, when it was issued. Kept in the state (and so in the checkpoint) so that
# `status` shows it without reading the log.
PauseRecord = dict[str, Any]

QUEUED = 0
RUNNING = 1
DONE = 2


@dataclass(slots=True, eq=False)
class Job:
    id: str
    ordinal: int
    origin: str
    shard: str
    skills: SkillKey
    remaining: int
    value: int
    visited: tuple[str, ...]
    qseq: int = 0
    state: int = QUEUED
    deferred: bool = False
    node: str | None = None
    due: int = 0  # tick whose end completes the job; 0 while frozen by an outage
    # The job's checkpoint row, kept until a field in it changes: a backlog that does not
    # move costs nothing at the next checkpoint. Every writer of those fields clears it.
    row: tuple[Any, ...] | list[Any] | None = None


@dataclass(slots=True)
class Policy:
    target: str
    threshold: int
    max_drain: int
    required: frozenset[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "threshold": self.threshold,
            "max_drain_per_tick": self.max_drain,
            "required_skills": sorted(self.required),
        }


@dataclass(slots=True)
class Tally:
    """A count and the summed value of the jobs counted."""

    count: int = 0
    value: int = 0

    def add(self, value: int) -> None:
        self.count += 1
        self.value += value

    def remove(self, value: int) -> None:
        self.count -= 1
        self.value -= value

    def to_json(self) -> list[int]:
        return [self.count, self.value]


COUNTERS = ("submitted", "spilled_in", "spilled_out", "completed", "failed", "cancelled")
TALLIES = (*COUNTERS, "queued", "in_flight")  # what a checkpoint counts, per shard


@dataclass(slots=True, eq=False)
class Shard:
    id: str
    name: str
    budget_ms: int
    max_queue: int
    alert_threshold: int
    policies: list[Policy]
    reroute_target: str | None = None
    paused: bool = False
    pause: PauseRecord | None = None  # who paused the shard, when, why (while paused)
    # A deregistered shard keeps its counters (its history stays in the totals); jobs still
    # arriving for it go to `forward_to`, or are cancelled when that is None.
    retired: bool = False
    forward_to: str | None = None
    nodes: list[Node] = field(default_factory=list)
    active: dict[QueueKey, deque[Job]] = field(default_factory=dict)
    waiting: dict[QueueKey, deque[Job]] = field(default_factory=dict)  # deferred jobs
    queued: Tally = field(default_factory=Tally)
    in_flight: Tally = field(default_factory=Tally)
    submitted: Tally = field(default_factory=Tally)
    spilled_in: Tally = field(default_factory=Tally)
    spilled_out: Tally = field(default_factory=Tally)
    completed: Tally = field(default_factory=Tally)
    failed: Tally = field(default_factory=Tally)
    cancelled: Tally = field(default_factory=Tally)
    cost_nano: int = 0
    next_back: int = 1
    next_front: int = 0

    @property
    def health(self) -> str:
        if self.queued.count > self.max_queue:
            return "critical"
        if self.queued.count > self.alert_threshold:
            return "degraded"
        return "healthy"

    @property
    def deferred_count(self) -> int:
        return sum(len(queue) for queue in self.waiting.values())

    def effective_policies(self) -> list[Policy]:
        """Configured policies, with a reroute target moved (or added) to the front."""
        target = self.reroute_target
        if target is None:
            return self.policies
        rest = [p for p in self.policies if p.target != target]
        found = next((p for p in self.policies if p.target == target), None)
        if found is None:
            drain = max((p.max_drain for p in self.policies), default=50)
            found = Policy(target, self.alert_threshold, drain, frozenset())
        return [found, *rest]

    def tally(self, name: str) -> Tally:
        tally: Tally = getattr(self, name)
        return tally


@dataclass(slots=True, eq=False)
class Node:
    id: str
    shard: str
    slots: int
    skills: frozenset[str]
    latency_ms: int
    base_latency_ms: int
    heartbeat: int
    price_nano: int
    metadata: dict[str, Any]
    up: bool = True
    outages: int = 0  # outage faults in force; overlapping outages end with the last one
    timer_kind: str = ""  # "down" (missed heartbeats check) or "up" (next heartbeat)
    timer_tick: int = 0
    # Owner node operations: a cordoned node takes no new work; a draining one is cordoned
    # too, and at the end of tick `drain_tick` its jobs still running go back to the queue.
    cordoned: bool = False
    drain_tick: int = 0
    # The external executor reports the node missed its heartbeats (until it reports it back).
    executor_down: bool = False
    running: dict[str, Job] = field(default_factory=dict)
    # Jobs this node completed, and jobs that failed on it (an executor's last rejection):
    # per-node series for operators (agijobs.views.metrics), kept in the checkpoint.
    completed: int = 0
    failed: int = 0

    @property
    def outage(self) -> bool:
        return self.outages > 0

    @property
    def eligible(self) -> bool:
        """May the routers give it new work (latency and skills aside)?"""
        return self.up and not self.cordoned and not self.executor_down

    @property
    def free(self) -> int:
        return self.slots - len(self.running)

    def serves(self, skills: SkillKey) -> bool:
        return "general" in self.skills or self.skills.issuperset(skills)


@dataclass(slots=True, eq=False)
class FabricState:
    tick: int
    shards: dict[str, Shard]  # in id order
    nodes: dict[str, Node]  # in id order
    jobs: dict[str, Job]  # live (queued or running) jobs by id
    paused: bool = False
    pause: PauseRecord | None = None  # who paused the fabric, when, why (while paused)
    next_ordinal: int = 1
    topology_dirty: bool = False  # deferred jobs are re-examined at the next routing
    checkpoint_every: int = 20  # ticks between checkpoints (checkpoint.configure changes it)
    report_label: str = "latest"  # names reports inside the storage (reporting.configure)
    checkpoint_requested: bool = False  # checkpoint.save: the runner checkpoints after the tick
    journal_applied: int = 0  # live commands applied from the inbox journal
    owner_actions: int = 0  # owner commands applied (rejections excluded)
    outside_commands: int = 0  # owner commands not from the schedule (live or at rest)
    # Keys, thresholds, proposals and used nonces; None in open mode (no keys declared).
    governance: Governance | None = None
    # Jobs submitted by owners (`job.submit`) and the ids they used; None before the first.
    intake: Intake | None = None
    # Per trigger (schedule entry with `when`, in file order): whether it may fire.
    triggers_armed: list[bool] = field(default_factory=list)
    # job id -> times an external executor rejected it (only jobs rejected at least once)
    attempts: dict[str, int] = field(default_factory=dict)
    # tick -> ids of nodes whose timer may fire then (a node's own timer_tick decides)
    timers: dict[int, list[str]] = field(default_factory=dict)
    # tick -> jobs due to complete at the end of that tick (stale entries are skipped)
    completions: dict[int, list[Job]] = field(default_factory=dict)
    # tick -> ids of nodes whose drain deadline may fall then (a node's own drain_tick decides)
    drains: dict[int, list[str]] = field(default_factory=dict)

    def set_timer(self, node: Node, kind: str, tick: int) -> None:
        """Let `node`'s heartbeat timer fire at `tick` (its `timer_tick` decides)."""
        node.timer_kind, node.timer_tick = kind, tick
        self.timers.setdefault(tick, []).append(node.id)

    def set_drain(self, node: Node, tick: int) -> None:
        """Let `node`'s drain deadline fall at the end of `tick` (0: no drain)."""
        node.drain_tick = tick
        if tick:
            self.drains.setdefault(tick, []).append(node.id)

    def totals(self) -> dict[str, Tally]:
        out = {name: Tally() for name in TALLIES}
        for shard in self.shards.values():
            for name, tally in out.items():
                part = shard.tally(name)
                tally.count += part.count
                tally.value += part.value
        return out


def queue_key(job: Job) -> QueueKey:
    return (job.skills, job.visited)


by_qseq = attrgetter("qseq")  # a job's place in its shard's line (FIFO across classes)


def take_queued(shard: Shard) -> list[Job]:
    """Empty the shard's queues, active and deferred; return their jobs in FIFO order."""
    jobs = [job for queue in shard.active.values() for job in queue]
    jobs.extend(job for queue in shard.waiting.values() for job in queue)
    jobs.sort(key=by_qseq)
    shard.active, shard.waiting = {}, {}
    return jobs


def refill_queues(shard: Shard, jobs: list[Job]) -> None:
    """Put jobs (in FIFO order) back into the shard's queues, each in its class."""
    for job in jobs:
        store = shard.waiting if job.deferred else shard.active
        store.setdefault(queue_key(job), deque()).append(job)


def remove_queued(shard: Shard, job: Job) -> None:
    """Take one queued job out of its queue."""
    assert job.state == QUEUED
    for store in (shard.active, shard.waiting):
        queue = store.get(queue_key(job))
        if queue is not None and job in queue:
            queue.remove(job)
            return


# ------------------------------------------------------------- from specifications


def default_alert_threshold(max_queue: int) -> int:
    """70% of max_queue: a shard turns degraded well before it is full."""
    return max(1, max_queue * 7 // 10)


def policy_from_spec(spec: dict[str, Any]) -> Policy:
    """A spillover policy as a scenario or a command gives it (`target`, `threshold`,
    `max_drain_per_tick`, `required_skills`)."""
    return Policy(
        spec["target"],
        spec["threshold"],
        spec["max_drain_per_tick"],
        frozenset(spec.get("required_skills", ())),
    )


def shard_from_spec(spec: dict[str, Any], policies: list[Policy]) -> Shard:
    """A new shard from its validated spec (as `shard.register` carries it)."""
    alert = spec.get("alert_threshold")
    return Shard(
        id=spec["id"],
        name=spec.get("name") or spec["id"],
        budget_ms=spec["latency_budget_ms"],
        max_queue=spec["max_queue"],
        alert_threshold=default_alert_threshold(spec["max_queue"]) if alert is None else alert,
        policies=policies,
    )


def node_from_spec(spec: dict[str, Any]) -> Node:
    """A new node from its validated spec (as `node.register` carries it)."""
    return Node(
        id=spec["id"],
        shard=spec["shard"],
        slots=spec["slots"],
        skills=frozenset(spec["skills"]),
        latency_ms=spec["latency_ms"],
        base_latency_ms=spec["latency_ms"],
        heartbeat=spec["heartbeat_ticks"],
        price_nano=round((spec.get("price_per_job") or 0) * 1_000_000_000),
        metadata=dict(spec.get("metadata", {})),
    )
