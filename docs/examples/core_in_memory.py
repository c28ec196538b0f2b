"""The deterministic core on its own: a fabric ticked in memory, no storage, no CLI.

    python docs/examples/core_in_memory.py

Builds a two-shard fabric, gives it work, ticks it to the end and prints what the routers
did; then shows that the same inputs give the same events, which is what every replay and
golden digest rests on.
"""

from __future__ import annotations

from collections import Counter

from agijobs.fabric.engine import Engine
from agijobs.scenario.models import Scenario
from agijobs.scenario.plan import fabric_inputs

SCENARIO = {
    "name": "two-shards",
    "fabric": {
        "owner": {"name": "ops"},
        "shards": [
            {
                "id": "earth",
                "latency_budget_ms": 120,
                "max_queue": 50,
                "spillover": [{"target": "luna", "threshold": 10, "max_drain_per_tick": 5}],
            },
            {"id": "luna", "latency_budget_ms": 200, "max_queue": 50},
        ],
        "nodes": [
            {"id": "earth.gpu", "shard": "earth", "slots": 2, "skills": ["gpu"], "latency_ms": 80},
            {"id": "luna.any", "shard": "luna", "slots": 3, "skills": ["general"]},
        ],
    },
    "workload": [
        {"prefix": "render", "shard": "earth", "skills": ["gpu"], "count": 60, "duration": 3},
    ],
}


def run(scenario: Scenario) -> list[tuple[str, dict]]:
    engine = Engine(fabric_inputs(scenario))  # the fabric at tick 0
    events = []
    while not engine.is_done():
        events.extend(engine.run_tick())  # one tick: commands, faults, arrivals, routing, progress
    return events


def main() -> None:
    scenario = Scenario.model_validate(SCENARIO)  # the boundary validates; the core trusts it
    events = run(scenario)
    kinds = Counter(kind for kind, _ in events)
    print(f"{kinds['job.submitted']} submitted, {kinds['job.spilled']} spilled to luna, "
          f"{kinds['job.completed']} completed")
    by_node = Counter(data["node"] for kind, data in events if kind == "job.completed")
    print(", ".join(f"{node}: {count}" for node, count in sorted(by_node.items())))
    print(f"the same inputs, the same events: {run(scenario) == events}")


if __name__ == "__main__":
    main()
