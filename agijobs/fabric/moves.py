"""The moves every rule of the fabric is made of, on its state.

A job enqueued, moved between shards, started on a node, pulled off it, requeued; a node's
latency changed, its outages begun and ended; which nodes may take which jobs (cached until
the topology changes). The router, the owner commands and the authority check make only
these moves; `Engine` adds the tick that calls them in order. Every move appends its
events to `events`, which the tick hands to the runner.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .claims import Claims, planned_claims
from .inputs import Planned, SkillKey
from .state import QUEUED, RUNNING, FabricState, Job, Node, Shard

Event = tuple[str, dict[str, Any]]


class Moves:
    """A fabric's state and the moves on it (`Engine` is this plus the tick)."""

    def __init__(self, state: FabricState) -> None:
        self.state = state
        self.events: list[Event] = []
        # Set by `restore(..., jobs=False)`: the snapshot whose job rows were not rebuilt,
        # which `snapshot` writes back as they were (see `agijobs.fabric.snapshot`).
        self.unrestored: dict[str, Any] | None = None
        self.unrestored_table: bytes | None = None  # the job table it names, if given
        self._serve_cache: dict[tuple[str, SkillKey], list[Node]] = {}
        self._capable_cache: dict[SkillKey, bool] = {}
        self._at_rest = False
        # The storage run this engine drives (run.json): signed commands name it, so a
        # signature made for another storage's run is refused. None in dry runs.
        self.run_id: str | None = None
        # With an external executor, the jobs assigned this tick wait for its receipts
        # (`settle`) between routing and progress; in-process, nothing is collected.
        self.collect_dispatch = False
        self.dispatched: list[Job] = []
        # The workload's job ids, which a submission must not reuse (`Engine` sets it).
        self.planned = Planned()
        self._planned_claims: Claims | None = None

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def planned_claims(self) -> Claims:
        """The job ids the workload uses, arrived or to come (made on first use)."""
        if self._planned_claims is None:
            self._planned_claims = planned_claims(self.planned)
        return self._planned_claims

    # ------------------------------------------------------------- capabilities

    def topology_changed(self) -> None:
        """Eligibility may have changed: drop caches and re-examine deferred jobs."""
        self._serve_cache.clear()
        self._capable_cache.clear()
        self.state.topology_dirty = True

    def candidates(self, shard: Shard, skills: SkillKey) -> list[Node]:
        """Nodes of `shard` that may take a job needing `skills` (free slots aside)."""
        key = (shard.id, skills)
        nodes = self._serve_cache.get(key)
        if nodes is None:
            budget = shard.budget_ms
            nodes = [
                n for n in shard.nodes if n.eligible and n.latency_ms <= budget and n.serves(skills)
            ]
            self._serve_cache[key] = nodes
        return nodes

    def can_serve(self, shard: Shard, skills: SkillKey) -> bool:
        return bool(self.candidates(shard, skills))

    def fabric_capable(self, skills: SkillKey) -> bool:
        """Does any node anywhere, up or down, have these skills?"""
        capable = self._capable_cache.get(skills)
        if capable is None:
            capable = any(n.serves(skills) for n in self.state.nodes.values())
            self._capable_cache[skills] = capable
        return capable

    # ----------------------------------------------------------- job movements

    def enqueue(self, shard: Shard, job: Job, *, front: bool = False) -> None:
        job.shard = shard.id
        job.state = QUEUED
        job.node = None
        job.row = None
        key = (job.skills, job.visited)  # queue_key(job), inline: once per job and move
        queue = shard.active.get(key)
        if queue is None:
            queue = shard.active[key] = deque()
        if front:
            job.qseq = shard.next_front
            shard.next_front -= 1
            queue.appendleft(job)
        else:
            job.qseq = shard.next_back
            shard.next_back += 1
            queue.append(job)
        queued = shard.queued
        queued.count += 1
        queued.value += job.value

    def move(
        self,
        job: Job,
        source: Shard,
        target: Shard,
        reason: str,
        sink: list[Event] | None = None,
    ) -> None:
        """Move a queued job (already taken out of `source`'s queues) to `target`'s back."""
        source.queued.remove(job.value)
        source.spilled_out.add(job.value)
        target.spilled_in.add(job.value)
        job.deferred = False
        if target.id not in job.visited:
            job.visited = (*job.visited, target.id)
        self.enqueue(target, job)
        event = (
            "job.spilled",
            {"job": job.id, "from": source.id, "to": target.id, "reason": reason},
        )
        if sink is None:
            self.events.append(event)
        else:
            sink.append(event)

    def start(self, job: Job, node: Node, shard: Shard) -> None:
        """Start `job`, already taken out of `shard`'s queue, on `node`, one of its nodes.

        Called once per assignment (a million times in a 1M-job run), so the tallies and
        the completion entry are updated inline rather than through their helpers."""
        value = job.value
        tally = shard.queued
        tally.count -= 1
        tally.value -= value
        tally = shard.in_flight
        tally.count += 1
        tally.value += value
        job.state = RUNNING
        job.node = node_id = node.id
        job.deferred = False  # a later wait is a new wait, with its own job.deferred event
        job.row = None
        node.running[job.id] = job
        if node.outages:
            job.due = 0  # routers do not know yet; the job waits frozen on the node
        else:
            state = self.state
            due = job.due = state.tick + job.remaining - 1
            finishing = state.completions.get(due)
            if finishing is None:
                state.completions[due] = [job]
            else:
                finishing.append(job)
        self.events.append(("job.assigned", {"job": job.id, "node": node_id, "shard": shard.id}))
        if self.collect_dispatch:
            self.dispatched.append(job)

    def pull(self, job: Job) -> None:
        """Take a running job off its node, keeping its progress; it counts as queued."""
        assert job.node is not None
        node = self.state.nodes[job.node]
        shard = self.state.shards[node.shard]
        del node.running[job.id]
        self.freeze(job)
        shard.in_flight.remove(job.value)
        shard.queued.add(job.value)
        job.state = QUEUED
        job.node = None

    def _schedule_completion(self, job: Job, from_tick: int) -> None:
        job.due = from_tick + job.remaining - 1
        job.row = None
        self.state.completions.setdefault(job.due, []).append(job)

    def requeue(self, jobs: list[Job]) -> list[Event]:
        """Jobs of nodes marked down (or removed) go back to the front of their shard queue,
        keeping their progress and, across all nodes that went this tick, their FIFO order.
        Returns the `job.requeued` events."""
        jobs.sort(key=lambda job: (job.shard, job.qseq))
        from_nodes = [job.node for job in jobs]
        for job in reversed(jobs):
            assert job.node is not None
            node = self.state.nodes[job.node]
            del node.running[job.id]
            shard = self.state.shards[job.shard]
            shard.in_flight.remove(job.value)
            self.enqueue(shard, job, front=True)
        return [
            (
                "job.requeued",
                {"job": job.id, "node": node_id, "shard": job.shard, "remaining": job.remaining},
            )
            for job, node_id in zip(jobs, from_nodes, strict=True)
        ]

    def freeze(self, job: Job) -> None:
        """Fix a running job's remaining ticks from its due tick, before it leaves its node."""
        if job.due:
            # Live, this tick's progress is still to come; at rest it has been made.
            now = self.state.tick + (1 if self._at_rest else 0)
            job.remaining = job.due - now + 1
            job.due = 0
            job.row = None

    # --------------------------------------------------------------- node health

    def _set_timer(self, node: Node, kind: str, tick: int) -> None:
        self.state.set_timer(node, kind, tick)

    def _set_node_latency(self, node: Node, after: int, kind: str) -> None:
        before = node.latency_ms
        self.emit(kind, {"node": node.id, "latency_ms": [before, after]})
        self.events.extend(self.node_latency_changed(node, after))

    def node_latency_changed(self, node: Node, after: int) -> list[Event]:
        """Set a node's latency; returns the verdict event when its eligibility flips."""
        before = node.latency_ms
        node.latency_ms = after
        budget = self.state.shards[node.shard].budget_ms
        if (before <= budget) == (after <= budget):
            return []
        self.topology_changed()
        verdict = "node.latency.ok" if after <= budget else "node.latency.breach"
        return [(verdict, self.latency_data(node))]

    def _outage_starts(self, node: Node) -> None:
        """The node stops heartbeating and its jobs stop progressing; routers learn of it at
        the third missed heartbeat."""
        tick = self.state.tick
        node.outages += 1
        self.emit("fault.outage", {"node": node.id})
        if node.outages > 1:  # already out: the outage lasts until the last one ends
            return
        for job in node.running.values():
            if job.due:
                job.remaining = job.due - tick + 1
                job.due = 0
                job.row = None
        if node.up:
            beat = node.heartbeat
            last_beat = (tick - 1) // beat * beat
            self._set_timer(node, "down", last_beat + 3 * beat)
        else:
            node.timer_kind, node.timer_tick = "", 0  # it was waiting to be marked up

    def _outage_ends(self, node: Node) -> None:
        if not node.outage:
            return
        node.outages -= 1
        if node.outage:
            self.emit("fault.outage.end", {"node": node.id, "still_out": True})
            return
        tick = self.state.tick
        if node.up:  # routers never noticed: its frozen jobs simply carry on
            node.timer_kind, node.timer_tick = "", 0
            for job in node.running.values():
                self._schedule_completion(job, tick)
        else:
            beat = node.heartbeat
            self._set_timer(node, "up", (tick + beat - 1) // beat * beat)
        self.emit("fault.outage.end", {"node": node.id})

    def latency_data(self, node: Node) -> dict[str, Any]:
        budget = self.state.shards[node.shard].budget_ms
        return {
            "node": node.id,
            "shard": node.shard,
            "latency_ms": node.latency_ms,
            "budget_ms": budget,
        }
