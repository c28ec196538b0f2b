"""What must hold after every tick of any run: conservation per shard and in total, in count
and value, and every live job in exactly one place (one queue or one node)."""

from __future__ import annotations

from agijobs.fabric.engine import Engine
from agijobs.fabric.state import COUNTERS


def assert_invariants(engine: Engine) -> None:
    state = engine.state
    totals = {name: [0, 0] for name in (*COUNTERS, "queued", "in_flight")}
    seen: set[str] = set()
    for shard in state.shards.values():
        queued = [j for store in (shard.active, shard.waiting) for q in store.values() for j in q]
        running = [j for n in shard.nodes for j in n.running.values()]
        for job in queued + running:
            assert job.id not in seen, f"{job.id} is in two places"
            seen.add(job.id)
            assert job.shard == shard.id
        assert shard.queued.count == len(queued)
        assert shard.queued.value == sum(j.value for j in queued)
        assert shard.in_flight.count == len(running)
        assert shard.in_flight.value == sum(j.value for j in running)
        for tally in ("count", "value"):
            inflow = getattr(shard.submitted, tally) + getattr(shard.spilled_in, tally)
            outflow = sum(
                getattr(shard.tally(n), tally)
                for n in ("completed", "failed", "cancelled", "queued", "in_flight", "spilled_out")
            )
            assert inflow == outflow, f"{shard.id} does not conserve {tally}"
        for name in totals:
            totals[name][0] += shard.tally(name).count
            totals[name][1] += shard.tally(name).value
    assert seen == set(state.jobs)
    for i in (0, 1):
        assert totals["submitted"][i] == sum(
            totals[n][i] for n in ("completed", "failed", "cancelled", "queued", "in_flight")
        )
