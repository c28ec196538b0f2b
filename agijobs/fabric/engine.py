"""One tick of the fabric: the engine that applies its inputs in order.

Within tick T, in this order (docs/internals.md, "The tick"):

1. owner commands due at T: schedule entries in file order, then live commands in arrival order;
2. faults due at T: endings first, then starts, each in file order;
3. arrivals, group by group in file order;
4. routing (router.py); with an external executor, its receipts and node reports;
5. progress: jobs due at the end of T complete, in job-ordinal order;
6. heartbeats: nodes that missed 3 heartbeats go down, recovered nodes come back up;
7. drain deadlines: jobs still running on a node whose drain ends at T are requeued.

The engine is pure: no clock, no randomness, no I/O. `run_tick` returns the tick's events as
``(type, data)`` pairs; the runner numbers, hashes and stores them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from ..errors import BadInput, Refused
from ..ledger import jobtable
from . import authority, commands, nodes, router, snapshot
from .governance import Governance
from .inputs import BATCH, CommandInput, FabricInputs, FaultInput, Group, Setup, TriggerRule
from .moves import Event, Moves
from .state import (
    DONE,
    RUNNING,
    FabricState,
    Job,
    Node,
    Shard,
    node_from_spec,
    policy_from_spec,
    shard_from_spec,
)


class Engine(Moves):
    """The deterministic fabric: static inputs from a scenario plus mutable `FabricState`,
    and the tick that applies them in order."""

    def __init__(self, inputs: FabricInputs, state: FabricState | None = None) -> None:
        """A fresh engine from a compiled scenario, or (with `state`) the engine at that
        state; `Engine.restore` builds the state from a snapshot."""
        if state is None:
            state = _initial_state(inputs.compiled().setup, inputs.trigger_count)
        super().__init__(state)
        self.inputs = inputs
        self.planned = inputs.planned
        if len(self.state.triggers_armed) < inputs.trigger_count:
            # A what-if adds triggers to a stored run: they start armed.
            missing = inputs.trigger_count - len(self.state.triggers_armed)
            self.state.triggers_armed.extend([True] * missing)
        # (entry index, tick, error) of schedule entries the state refused when they came
        # due: recorded as `owner.rejected` events, and refused by `agijobs plan`.
        self.schedule_rejections: list[tuple[int, int, str]] = []
        self.last_input_tick = inputs.last_input_tick

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
        """The rest of the tick: completions, heartbeats, then drain deadlines."""
        tick = self.state.tick
        self._progress(tick)
        self._heartbeats(tick)
        if self.state.drains:
            nodes.drain_deadlines(self, tick)
        return self.events

    def report_nodes(self, reports: Sequence[dict[str, Any]]) -> None:
        """Apply an external executor's node reports for this tick (after `settle`)."""
        nodes.executor_health(self, list(reports))

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
            self.state.nodes[node].failed += 1
            self.emit(
                "job.failed", {"job": job.id, "shard": shard.id, "reason": f"executor: {reason}"}
            )
        self.dispatched = []

    def _check_triggers(
        self, tick: int, triggers: list[tuple[int, TriggerRule, bool, CommandInput]]
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
                    {"entry": index, "when": when.text, "command": command.name},
                )
                try:
                    self._apply(command)
                except BadInput as error:
                    commands.reject(self, command, error)
                    self.schedule_rejections.append((index, tick, error.render()))
            elif repeat and not holds:
                armed[slot] = True

    def _holds(self, when: TriggerRule) -> bool:
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
        if command.name != BATCH:
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
            node.completed += 1
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

    def _apply_fault(self, fault: FaultInput, *, starting: bool) -> None:
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

    # ---------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, Any]:
        """The state as a checkpoint holds it (`agijobs.fabric.snapshot`)."""
        return snapshot.snapshot(self)

    def split_snapshot(self) -> tuple[dict[str, Any], bytes | None]:
        """The state as a checkpoint stores it: without its job rows, and the job table
        when it is not stored yet (`agijobs.fabric.snapshot.split_snapshot`)."""
        return snapshot.split_snapshot(self)

    @classmethod
    def restore(
        cls,
        inputs: FabricInputs,
        document: dict[str, Any],
        *,
        jobs: bool = True,
        table: bytes | None = None,
    ) -> Engine:
        """The engine at a snapshot (`jobs=False`: without its job rows, see
        `agijobs.fabric.snapshot.restore`; `table`, the verified job table the snapshot
        names, lets such an engine take jobs submitted at rest)."""
        state, unrestored = snapshot.restore(document, jobs=jobs)
        engine = cls(inputs, state)
        engine.unrestored = unrestored
        engine.unrestored_table = table
        return engine


_ordinal = attrgetter("ordinal")


def _initial_state(setup: Setup, trigger_count: int) -> FabricState:
    shards: dict[str, Shard] = {}
    for spec in setup.shards:
        policies = [policy_from_spec(policy) for policy in spec["spillover"]]
        shards[spec["id"]] = shard_from_spec(spec, policies)
    nodes: dict[str, Node] = {}
    for node_spec in setup.nodes:
        node = node_from_spec(node_spec)
        nodes[node.id] = node
        shards[node.shard].nodes.append(node)
    governance = setup.governance
    return FabricState(
        tick=0,
        shards=shards,
        nodes=nodes,
        jobs={},
        checkpoint_every=setup.checkpoint_every,
        report_label=setup.report_label,
        governance=None if governance is None else Governance.from_config(governance),
        triggers_armed=[True] * trigger_count,
    )
