"""Routing: spillover between shards and assignment of queued jobs to nodes.

Per shard, in id order, unless the fabric or the shard is paused:

1. threshold spillover: each policy whose threshold the queue exceeds moves up to
   `max_drain_per_tick` (never more than the excess) of the newest jobs with the policy's
   `required_skills` that the target can serve and has not seen, while the target has room;
2. overflow: above `max_queue`, the excess newest jobs go to the targets in order, as in 1
   but with no drain limit;
3. unservable classes: a job whose skills no eligible node of its shard has goes to the
   first target that can serve it and that it has not visited, or waits (`job.deferred`);
4. assignment: queued jobs in FIFO order to the eligible node with the most free slots,
   ties by node id.

Every step touches only skill classes that can move, so the cost of a tick follows what
happens in it, not the length of queues that are stuck.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING

from .state import Job, Node, Policy, QueueKey, Shard, by_qseq, queue_key

if TYPE_CHECKING:
    from .moves import Moves


def route(engine: Moves) -> None:
    state = engine.state
    if state.topology_dirty:
        state.topology_dirty = False
        for shard in state.shards.values():
            _reactivate_waiting(shard)
    if state.paused:
        return
    for shard in state.shards.values():
        if shard.paused or not shard.queued.count:  # nothing queued: nothing to route
            continue
        policies = shard.effective_policies()
        for policy in policies:
            excess = shard.queued.count - policy.threshold
            if excess > 0:
                _spill_newest(engine, shard, policy, min(excess, policy.max_drain), "threshold")
        for policy in policies:
            excess = shard.queued.count - shard.max_queue
            if excess <= 0:
                break
            _spill_newest(engine, shard, policy, excess, "max-queue")
        _settle_unservable(engine, shard)
        _assign(engine, shard)


def _reactivate_waiting(shard: Shard) -> None:
    """Deferred jobs rejoin their class queue in their original FIFO place."""
    for key, waiting in shard.waiting.items():
        if not waiting:
            continue
        active = shard.active.get(key)
        if active:
            merged = heapq.merge(active, waiting, key=by_qseq)
            shard.active[key] = deque(merged)
        else:
            shard.active[key] = waiting
    shard.waiting = {}


def _spill_newest(engine: Moves, shard: Shard, policy: Policy, limit: int, reason: str) -> None:
    target = engine.state.shards[policy.target]
    if target.queued.count >= target.max_queue:
        return
    required = policy.required
    classes = [
        key
        for key, queue in shard.active.items()
        if queue
        and target.id not in key[1]
        and required.issubset(key[0])
        and engine.can_serve(target, key[0])
    ]
    if not classes:
        return
    tails = [(-shard.active[key][-1].qseq, key) for key in classes]
    heapq.heapify(tails)
    moved = 0
    while tails and moved < limit and target.queued.count < target.max_queue:
        _, key = heapq.heappop(tails)
        queue = shard.active[key]
        engine.move(queue.pop(), shard, target, reason)
        moved += 1
        if queue:
            heapq.heappush(tails, (-queue[-1].qseq, key))


def _settle_unservable(engine: Moves, shard: Shard) -> None:
    stuck = [
        queue
        for key, queue in shard.active.items()
        if queue and not engine.can_serve(shard, key[0])
    ]
    if not stuck:
        return
    jobs = list(heapq.merge(*stuck, key=by_qseq)) if len(stuck) > 1 else list(stuck[0])
    for queue in stuck:
        queue.clear()
    targets = [engine.state.shards[p.target] for p in shard.effective_policies()]
    for job in jobs:
        target = next(
            (t for t in targets if t.id not in job.visited and engine.can_serve(t, job.skills)),
            None,
        )
        if target is not None:
            engine.move(job, shard, target, "unservable")
            continue
        shard.waiting.setdefault(queue_key(job), deque()).append(job)
        if not job.deferred:
            job.deferred = True
            job.row = None
            engine.emit("job.deferred", {"job": job.id, "shard": shard.id})


def _assign(engine: Moves, shard: Shard) -> None:
    if all(len(node.running) >= node.slots for node in shard.nodes):
        return  # saturated: the usual backlog case
    heads: list[tuple[int, QueueKey]] = []
    eligible: dict[QueueKey, tuple[deque[Job], list[Node]]] = {}
    for key, queue in shard.active.items():
        if queue:
            nodes = engine.candidates(shard, key[0])
            if nodes:
                heads.append((queue[0].qseq, key))
                eligible[key] = (queue, nodes)
    start = engine.start
    if len(heads) == 1:  # one class of jobs can move: FIFO within it, no merge needed
        queue, nodes = eligible[heads[0][1]]
        while queue:
            node = _best_node(nodes)
            if node is None:
                return
            start(queue.popleft(), node, shard)
        return
    heapq.heapify(heads)
    pop, push = heapq.heappop, heapq.heappush
    while heads:
        _, key = pop(heads)
        queue, nodes = eligible[key]
        node = _best_node(nodes)
        if node is None:
            continue
        start(queue.popleft(), node, shard)
        if queue:
            push(heads, (queue[0].qseq, key))


def _best_node(nodes: list[Node]) -> Node | None:
    """Most free slots wins; `nodes` is in id order, so the first of equals wins ties."""
    best = None
    best_free = 0
    for node in nodes:
        free = node.slots - len(node.running)  # Node.free, inline: once per node per job
        if free > best_free:
            best, best_free = node, free
    return best
