"""One tick of the fabric, and the state it runs on.

Within tick T, in this order (README, "The tick"):

1. owner commands due at T: schedule entries in file order, then live commands in arrival order;
2. faults due at T: endings first, then starts, each in file order;
3. arrivals, group by group in file order;
4. routing (router.py);
5. progress: jobs due at the end of T complete, in job-ordinal order;
6. heartbeats: nodes that missed 3 heartbeats go down, recovered nodes come back up.

The engine is pure: no clock, no randomness, no I/O. `run_tick` returns the tick's events as
``(type, data)`` pairs; the runner numbers, hashes and stores them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, Refused
from ..ledger import jobtable
from . import authority, commands, router, snapshot
from .commands import CommandInput
from .inputs import FabricInputs, Group
from .state import DONE, QUEUED, RUNNING, FabricState, Job, Node, Policy, Shard, SkillKey

if TYPE_CHECKING:
    from ..scenario import Fault, NodeSpec, Scenario, Trigger

Event = tuple[str, dict[str, Any]]


class Engine:
    """The deterministic fabric: static inputs from a scenario plus mutable `FabricState`."""

    def __init__(self, scenario: Scenario | FabricInputs, state: FabricState | None = None) -> None:
        """A fresh engine from a validated scenario, or (with `state`) the engine at that
        state; `Engine.restore` builds the state from a snapshot."""
        inputs = scenario if isinstance(scenario, FabricInputs) else FabricInputs.of(scenario)
        self.inputs = inputs
        self.state = state if state is not None else _initial_state(inputs.scenario)
        self.events: list[Event] = []
        if len(self.state.triggers_armed) < inputs.trigger_count:
            # A what-if adds triggers to a stored run: they start armed.
            missing = inputs.trigger_count - len(self.state.triggers_armed)
            self.state.triggers_armed.extend([True] * missing)
        # (entry index, tick, error) of schedule entries the state refused when they came
        # due: recorded as `owner.rejected` events, and refused by `agijobs plan`.
        self.schedule_rejections: list[tuple[int, int, str]] = []
        # Set by `restore(..., jobs=False)`: the snapshot whose job rows were not rebuilt,
        # which `snapshot` writes back as they were (see `restore`).
        self.unrestored: dict[str, Any] | None = None
        self.last_input_tick = inputs.last_input_tick
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

    # ----------------------------------------------------------------- the tick

    def run_tick(self, live: Sequence[CommandInput] = ()) -> list[Event]:
        self.begin_tick(live)
        return self.end_tick()

    def begin_tick(self, live: Sequence[CommandInput] = ()) -> list[Event]:
        """A tick up to routing: triggers, commands, faults, arrivals, assignments."""
        state = self.state
        state.tick += 1
        tick = state.tick
        self.events = []
        # Arrivals, schedule, triggers and faults: compiled when a tick first needs them
        # (an engine restored to take an owner command at rest never does).
        timed = self.inputs.timed()
        if state.governance is not None and state.governance.proposals:
            authority.expire(self, tick)
        if timed.triggers:
            self._check_triggers(tick, timed.triggers)
        for index, command in timed.schedule.get(tick, ()):
            try:
                self._apply(command)
            except BadInput as error:
                commands.reject(self, command, error)
                self.schedule_rejections.append((index, tick, error.render()))
        for command in live:
            self.apply_command(command)
        for phase, _, fault in timed.faults.get(tick, ()):
            self._apply_fault(fault, starting=phase == 1)
        self._arrivals(tick, timed.groups)
        self.dispatched = []
        router.route(self)
        return self.events

    def end_tick(self) -> list[Event]:
        """The rest of the tick: completions, then heartbeats."""
        tick = self.state.tick
        self._progress(tick)
        self._heartbeats(tick)
        return self.events

    def settle(self, receipts: Sequence[dict[str, Any]], max_attempts: int) -> None:
        """Apply an executor's receipts for this tick's `dispatched` jobs (same order). A
        rejected job goes back to the front of its queue (`job.rejected`), or fails with the
        executor's reason once it has been rejected `max_attempts` times; an accepted one may
        run for another `duration` (`job.retimed`)."""
        attempts = self.state.attempts
        for job, receipt in zip(self.dispatched, receipts, strict=True):
            if receipt["status"] == "accepted":
                duration = receipt.get("duration")
                if duration is not None and duration != job.remaining:
                    self.emit(
                        "job.retimed",
                        {"job": job.id, "duration": [job.remaining, duration], "by": "executor"},
                    )
                    job.remaining = duration
                    if job.due:  # not frozen on a node in outage
                        self._schedule_completion(job, self.state.tick)
                continue
            assert job.node is not None
            node = job.node
            count = attempts[job.id] = attempts.get(job.id, 0) + 1
            reason = str(receipt.get("reason") or "rejected by the executor")
            shard = self.state.shards[job.shard]
            self.emit(
                "job.rejected",
                {
                    "job": job.id,
                    "node": node,
                    "shard": shard.id,
                    "attempt": count,
                    "reason": reason,
                },
            )
            del self.state.nodes[node].running[job.id]
            self.freeze(job)  # it never ran: its remaining ticks are unchanged
            shard.in_flight.remove(job.value)
            if count < max_attempts:
                self.enqueue(shard, job, front=True)
                continue
            del self.state.jobs[job.id]
            del attempts[job.id]
            job.state = DONE
            job.node = None
            shard.failed.add(job.value)
            self.emit(
                "job.failed", {"job": job.id, "shard": shard.id, "reason": f"executor: {reason}"}
            )
        self.dispatched = []

    def _check_triggers(
        self, tick: int, triggers: list[tuple[int, Trigger, bool, CommandInput]]
    ) -> None:
        """Fire each armed trigger whose condition holds at the start of this tick; a
        repeating one re-arms once its condition no longer holds."""
        armed = self.state.triggers_armed
        for slot, (index, when, repeat, command) in enumerate(triggers):
            holds = self._holds(when)
            if armed[slot] and holds:
                armed[slot] = False
                self.emit(
                    "trigger.fired",
                    {"entry": index, "when": when.describe(), "command": command.name},
                )
                try:
                    self._apply(command)
                except BadInput as error:
                    commands.reject(self, command, error)
                    self.schedule_rejections.append((index, tick, error.render()))
            elif repeat and not holds:
                armed[slot] = True

    def _holds(self, when: Trigger) -> bool:
        shards = self.state.shards
        if when.shard is not None:
            shard = shards.get(when.shard)
            return shard is not None and shard.queued.count > (when.queue_above or 0)
        wanted = ("critical",) if when.any_shard == "critical" else ("critical", "degraded")
        return any(s.health in wanted for s in shards.values() if not s.retired)

    def apply_command(self, command: CommandInput) -> None:
        """Apply an owner command, recording a rejection instead if it no longer applies."""
        try:
            self._apply(command)
        except BadInput as error:
            commands.reject(self, command, error)
        except Refused:
            pass  # recorded as `governance.refused` by the authority check

    def apply_at_rest(self, command: CommandInput) -> list[Event]:
        """Apply a command between ticks (no runner live); invalid input raises `BadInput`."""
        self.events = []
        self._at_rest = True
        try:
            self._apply(command)
        finally:
            self._at_rest = False
        return self.events

    def _apply(self, command: CommandInput) -> None:
        if command.source != "schedule":  # schedule entries are authorised by the plan
            if self.state.governance is None:
                authority.check_open(command)
            else:
                authorized = authority.authorize(self, command)
                if authorized is None:  # recorded as a proposal or a partial approval
                    return
                command = authorized
        if command.name != commands.BATCH:
            commands.apply(self, command)
            return
        # All or none: a later command may depend on an earlier one (a node registered into
        # a shard registered just before), so each is validated against the state the
        # earlier ones left, and a failure puts the state back as it was before the first.
        mark = len(self.events)
        saved = self.snapshot()
        requested = self.state.checkpoint_requested
        try:
            for index, part in enumerate(commands.batch_parts(command)):
                try:
                    commands.apply(self, part)
                except BadInput as error:
                    raise BadInput(
                        f"commands -> {index} ({part.name}): {error.message}", error.hint
                    ) from None
        except BadInput:
            self._roll_back(saved, requested)
            del self.events[mark:]
            raise

    def _roll_back(self, saved: dict[str, Any], checkpoint_requested: bool) -> None:
        """Put the state back to `saved`, in place: the runner holds `self.state`."""
        restored = Engine.restore(self.inputs, saved).state
        for name in FabricState.__slots__:
            setattr(self.state, name, getattr(restored, name))
        self.state.checkpoint_requested = checkpoint_requested
        self._serve_cache.clear()
        self._capable_cache.clear()

    def is_done(self) -> bool:
        if self.unrestored is not None and jobtable.holds_jobs(self.unrestored):
            return False
        return not self.state.jobs and self.state.tick >= self.last_input_tick

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

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
            nodes = [n for n in shard.nodes if n.up and n.latency_ms <= budget and n.serves(skills)]
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

    # ---------------------------------------------------------- tick phases

    def _arrivals(self, tick: int, groups: list[Group]) -> None:
        state = self.state
        shards = state.shards
        emit = self.events.append
        jobs = state.jobs
        for group in groups:
            prefix, shard_id, skills, duration, value, step, first, per_tick, count, named = group
            if tick < first:
                continue
            begin = (tick - first) * per_tick
            if begin >= count:
                continue
            shard = shards[shard_id]
            capable = self.fabric_capable(skills)
            retired = shard.retired
            submitted = shard.submitted
            visited = (shard_id,)
            ordinal = state.next_ordinal
            end = min(begin + per_tick, count)
            if capable and not retired:
                # The common case, a million times in a 1M-job run: every job of the group
                # joins the back of one queue, as `enqueue` would put it there one by one.
                key = (skills, visited)
                queue = shard.active.get(key)
                if queue is None:
                    queue = shard.active[key] = deque()
                add = queue.append
                qseq = shard.next_back
                total = 0
                for index in range(begin, end):
                    job_value = value + index * step
                    job_id = prefix if named else f"{prefix}-{index + 1:06d}"
                    job = Job(
                        job_id, ordinal, shard_id, shard_id, skills, duration, job_value,
                        visited, qseq,
                    )  # fmt: skip
                    ordinal += 1
                    qseq += 1
                    total += job_value
                    emit(("job.submitted", {"job": job_id, "shard": shard_id, "value": job_value}))
                    jobs[job_id] = job
                    add(job)
                arrived = end - begin
                state.next_ordinal, shard.next_back = ordinal, qseq
                for tally in (submitted, shard.queued):
                    tally.count += arrived
                    tally.value += total
                continue
            for index in range(begin, end):
                job_value = value + index * step
                job_id = prefix if named else f"{prefix}-{index + 1:06d}"
                # Positional: id, ordinal, origin, shard, skills, remaining, value, visited.
                job = Job(job_id, ordinal, shard_id, shard_id, skills, duration, job_value, visited)
                ordinal += 1
                state.next_ordinal = ordinal  # a forwarded arrival may read it
                submitted.count += 1
                submitted.value += job_value
                emit(("job.submitted", {"job": job_id, "shard": shard_id, "value": job_value}))
                if retired and self._arrive_retired(shard, job, capable):
                    continue
                if capable:
                    jobs[job_id] = job
                    self.enqueue(shard, job)
                else:
                    job.state = DONE
                    shard.failed.add(job_value)
                    emit(
                        (
                            "job.failed",
                            {"job": job.id, "shard": shard_id, "reason": "no-capable-node"},
                        )
                    )

    def _arrive_retired(self, shard: Shard, job: Job, capable: bool) -> bool:
        """A job for a deregistered shard follows its redistribution: on to the shard that
        took its jobs (and on from there if that one was deregistered too), or cancelled.
        Returns False for a job to forward that no node anywhere can serve: it fails as it
        would in any shard, instead of waiting deferred forever."""
        home = shard
        while home.retired and home.forward_to is not None:
            home = self.state.shards[home.forward_to]
        if home.retired:
            shard.cancelled.add(job.value)
            job.state = DONE
            self.emit("job.cancelled", {"job": job.id, "shard": shard.id, "was": "deregistered"})
            return True
        if not capable:
            return False
        shard.queued.add(job.value)  # queued where it arrived, for the instant before it moves
        self.state.jobs[job.id] = job
        self.move(job, shard, home, "deregistered")
        return True

    def _progress(self, tick: int) -> None:
        due = self.state.completions.pop(tick, None)
        if not due:
            return
        finishing = [job for job in due if job.state == RUNNING and job.due == tick]
        finishing.sort(key=_ordinal)
        state = self.state
        nodes, shards, jobs, emit = state.nodes, state.shards, state.jobs, self.events.append
        for job in finishing:  # once per job: the tallies are updated inline
            if job.state != RUNNING:
                # Listed twice (pulled off a node and restarted within the tick, with the
                # same due tick): the first entry, beside it in ordinal order, completed it.
                continue
            node_id = job.node
            assert node_id is not None
            node = nodes[node_id]
            shard = shards[node.shard]
            job_id, value = job.id, job.value
            del node.running[job_id]
            del jobs[job_id]
            job.state = DONE
            tally = shard.in_flight
            tally.count -= 1
            tally.value -= value
            tally = shard.completed
            tally.count += 1
            tally.value += value
            shard.cost_nano += node.price_nano
            emit(("job.completed", {"job": job_id, "node": node_id, "shard": shard.id}))

    def _heartbeats(self, tick: int) -> None:
        node_ids = self.state.timers.pop(tick, None)
        if not node_ids:
            return
        stranded: list[Job] = []
        for node_id in sorted(set(node_ids)):
            node = self.state.nodes.get(node_id)
            if node is None or node.timer_tick != tick:  # deregistered, or timer replaced
                continue
            kind = node.timer_kind
            node.timer_kind, node.timer_tick = "", 0
            if kind == "down" and node.outage and node.up:
                node.up = False
                stranded.extend(node.running.values())
                self.emit(
                    "node.down",
                    {"node": node.id, "shard": node.shard, "requeued": len(node.running)},
                )
                self.topology_changed()
            elif kind == "up" and not node.outage and not node.up:
                node.up = True
                self.topology_changed()
                self.emit("node.up", {"node": node.id, "shard": node.shard})
        if stranded:
            self.events.extend(self.requeue(stranded))

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

    def new_node(self, spec: NodeSpec) -> Node:
        return _make_node(spec)

    def _set_timer(self, node: Node, kind: str, tick: int) -> None:
        self.state.set_timer(node, kind, tick)

    def _apply_fault(self, fault: Fault, *, starting: bool) -> None:
        node = self.state.nodes.get(fault.node)
        if node is None:  # deregistered (or not yet registered) by an owner command
            self.emit(
                "fault.skipped", {"node": fault.node, "kind": fault.kind, "reason": "no-node"}
            )
            return
        if fault.kind == "latency":
            # A latency fault ends by restoring the node's configured latency.
            latency = fault.latency_ms if starting else None
            self._set_node_latency(
                node,
                node.base_latency_ms if latency is None else latency,
                "fault.latency" if starting else "fault.latency.end",
            )
        elif starting:
            self._outage_starts(node)
        else:
            self._outage_ends(node)

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

    # ---------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, Any]:
        """The state as a checkpoint holds it (`agijobs.fabric.snapshot`)."""
        return snapshot.snapshot(self)

    @classmethod
    def restore(
        cls, scenario: Scenario | FabricInputs, document: dict[str, Any], *, jobs: bool = True
    ) -> Engine:
        """The engine at a snapshot (`jobs=False`: without its job rows, see
        `agijobs.fabric.snapshot.restore`)."""
        state, unrestored = snapshot.restore(document, jobs=jobs)
        engine = cls(scenario, state)
        engine.unrestored = unrestored
        return engine


# Owner commands that change no job, so an engine restored without its jobs can apply them.
JOBLESS = frozenset({"pause-all", "resume"})


_ordinal = attrgetter("ordinal")


def _initial_state(scenario: Scenario) -> FabricState:
    fabric = scenario.fabric
    shards: dict[str, Shard] = {}
    for spec in sorted(fabric.shards, key=lambda s: s.id):
        shards[spec.id] = Shard(
            id=spec.id,
            name=spec.display_name,
            budget_ms=spec.latency_budget_ms,
            max_queue=spec.max_queue,
            alert_threshold=spec.effective_alert_threshold,
            policies=[
                Policy(p.target, p.threshold, p.max_drain_per_tick, frozenset(p.required_skills))
                for p in spec.spillover
            ],
        )
    nodes: dict[str, Node] = {}
    for node_spec in sorted(fabric.nodes, key=lambda n: n.id):
        node = _make_node(node_spec)
        nodes[node.id] = node
        shards[node.shard].nodes.append(node)
    return FabricState(
        tick=0,
        shards=shards,
        nodes=nodes,
        jobs={},
        checkpoint_every=scenario.run.checkpoint_every,
        report_label=scenario.reporting.label,
        governance=governance_of(scenario),
        triggers_armed=[True] * sum(1 for e in scenario.schedule if e.when is not None),
    )


def governance_of(scenario: Scenario) -> authority.Governance | None:
    """The governance a scenario's owner declares; None in open mode (no keys)."""
    owner = scenario.fabric.owner
    if not owner.keys:
        return None
    return authority.Governance.from_config(owner.authority_config())


def _make_node(spec: NodeSpec) -> Node:
    return Node(
        id=spec.id,
        shard=spec.shard,
        slots=spec.slots,
        skills=frozenset(spec.skills),
        latency_ms=spec.latency_ms,
        base_latency_ms=spec.latency_ms,
        heartbeat=spec.heartbeat_ticks,
        price_nano=round((spec.price_per_job or 0) * 1_000_000_000),
        metadata=dict(spec.metadata),
    )
