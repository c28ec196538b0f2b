"""Random small scenarios for property tests (hypothesis): fabrics of two or three shards,
a few nodes, workload groups, faults and owner commands in the schedule; and the settings
those tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from agijobs.errors import BadInput
from agijobs.scenario.models import Scenario
from agijobs.scenario.validation import check_references

SHARDS = ["earth", "luna", "mars"]
COMMANDS = [
    "pause-all",
    "resume",
    "reroute",
    "set-latency",
    "shard.pause",
    "shard.resume",
    "shard.register",
    "shard.deregister",
    "shard.update",
    "node.register",
    "node.update",
    "node.deregister",
    "node.cordon",
    "node.uncordon",
    "node.drain",
    "job.submit",
    "job.cancel",
    "job.reroute",
    "checkpoint.save",
    "checkpoint.configure",
]
SKILLS = ["finance", "gpu", "nav", "general"]


@st.composite
def scenarios(draw: Any) -> Scenario:
    shard_ids = SHARDS[: draw(st.integers(2, 3))]
    shards = []
    for sid in shard_ids:
        others = [s for s in shard_ids if s != sid]
        policies = [
            {
                "target": target,
                "threshold": draw(st.integers(0, 20)),
                "max_drain_per_tick": draw(st.integers(1, 6)),
                "required_skills": draw(st.lists(st.sampled_from(SKILLS[:3]), max_size=1)),
            }
            for target in draw(st.lists(st.sampled_from(others), unique=True, max_size=2))
        ]
        shards.append(
            {
                "id": sid,
                "latency_budget_ms": draw(st.integers(50, 300)),
                "max_queue": draw(st.integers(5, 60)),
                "spillover": policies,
            }
        )
    nodes = []
    for i in range(draw(st.integers(1, 5))):
        nodes.append(
            {
                "id": f"n{i}",
                "shard": draw(st.sampled_from(shard_ids)),
                "slots": draw(st.integers(1, 4)),
                "skills": draw(
                    st.lists(st.sampled_from(SKILLS), min_size=1, max_size=2, unique=True)
                ),
                "latency_ms": draw(st.integers(0, 300)),
                "heartbeat_ticks": draw(st.integers(1, 4)),
            }
        )
    workload = []
    for i in range(draw(st.integers(1, 4))):
        workload.append(
            {
                "prefix": f"g{i}",
                "shard": draw(st.sampled_from(shard_ids)),
                "skills": draw(
                    st.lists(st.sampled_from(SKILLS[:3]), min_size=1, max_size=2, unique=True)
                ),
                "count": draw(st.integers(1, 40)),
                "duration": draw(st.integers(1, 6)),
                "value": draw(st.integers(0, 100)),
                "value_step": draw(st.integers(0, 3)),
                "arrive": {"start": draw(st.integers(0, 10)), "per_tick": draw(st.integers(1, 10))},
            }
        )
    faults = []
    for _ in range(draw(st.integers(0, 3))):
        tick = draw(st.integers(1, 40))
        node = draw(st.sampled_from([n["id"] for n in nodes]))
        until = draw(st.one_of(st.none(), st.integers(tick + 1, tick + 40)))
        if draw(st.booleans()):
            faults.append({"tick": tick, "node": node, "kind": "outage", "until": until})
        else:
            faults.append(
                {
                    "tick": tick,
                    "node": node,
                    "kind": "latency",
                    "latency_ms": draw(st.integers(0, 400)),
                    "until": until,
                }
            )
    schedule = []
    node_ids = [n["id"] for n in nodes]
    for _ in range(draw(st.integers(0, 6))):
        tick = draw(st.integers(1, 60))
        kind = draw(st.sampled_from(COMMANDS))
        entry: dict[str, Any] = {"tick": tick, "command": kind, "reason": "property"}
        if kind in ("shard.pause", "shard.resume"):
            entry["shard"] = draw(st.sampled_from(shard_ids))
        elif kind == "shard.update":
            entry.update(
                {
                    "shard": draw(st.sampled_from(shard_ids)),
                    "update": {
                        "max_queue": draw(st.integers(5, 60)),
                        "latency_budget_ms": draw(st.integers(50, 300)),
                    },
                }
            )
        elif kind == "shard.register":
            entry["shard"] = {
                "id": "spare",
                "latency_budget_ms": 300,
                "max_queue": 50,
                "spillover": [
                    {
                        "target": draw(st.sampled_from(shard_ids)),
                        "threshold": 0,
                        "max_drain_per_tick": 3,
                    }
                ],
            }
        elif kind == "shard.deregister":
            source, target = draw(st.permutations([*shard_ids, "spare"]))[:2]
            mode = draw(st.sampled_from(["spillover", "cancel"]))
            entry.update(
                {
                    "shard": source,
                    "redistribution": {"mode": mode, "target": target}
                    if mode == "spillover"
                    else {"mode": "cancel"},
                }
            )
        elif kind == "node.register":
            entry["node"] = {
                "id": draw(st.sampled_from(["extra", *node_ids])),
                "shard": draw(st.sampled_from([*shard_ids, "spare"])),
                "slots": draw(st.integers(1, 4)),
                "skills": draw(st.lists(st.sampled_from(SKILLS), min_size=1, max_size=2)),
                "latency_ms": draw(st.integers(0, 300)),
            }
        elif kind == "node.update":
            entry.update(
                {
                    "node": draw(st.sampled_from(node_ids)),
                    "update": {
                        "slots": draw(st.integers(1, 4)),
                        "latency_ms": draw(st.integers(0, 300)),
                    },
                }
            )
        elif kind in ("node.deregister", "node.cordon", "node.uncordon"):
            entry["node"] = draw(st.sampled_from(node_ids))
        elif kind == "node.drain":
            entry["node"] = draw(st.sampled_from(node_ids))
            entry["deadline_ticks"] = draw(st.integers(1, 12))
        elif kind == "job.submit":
            # Ids that may collide with the workload's (g0-000001…), with each other or with
            # an earlier submission: the engine refuses such a batch whole.
            jobs = []
            for _ in range(draw(st.integers(1, 3))):
                job: dict[str, Any] = {
                    "shard": draw(st.sampled_from([*shard_ids, "spare"])),
                    "skills": draw(
                        st.lists(st.sampled_from(SKILLS), min_size=1, max_size=2, unique=True)
                    ),
                    "duration": draw(st.integers(1, 6)),
                    "value": draw(st.integers(0, 100)),
                }
                if draw(st.booleans()):
                    job["id"] = draw(st.sampled_from(["s-1", "s-2", "g0-000001", "g1-000099"]))
                else:
                    job["prefix"] = draw(st.sampled_from(["s", "sub", "g3"]))
                    job["count"] = draw(st.integers(1, 12))
                jobs.append(job)
            entry["jobs"] = jobs
        elif kind in ("job.cancel", "job.reroute"):
            entry["locator"] = {
                "kind": "tail",
                "shard": draw(st.sampled_from(shard_ids)),
                "offset": draw(st.integers(0, 5)),
                "include_in_flight": draw(st.booleans()),
            }
            if kind == "job.reroute":
                entry["to"] = draw(st.sampled_from(shard_ids))
        elif kind == "checkpoint.configure":
            entry["every"] = draw(st.integers(1, 9))
        if kind == "reroute":
            source, target = draw(st.permutations(shard_ids))[:2]
            entry.update(
                {
                    "from": source,
                    "to": target,
                    "backlog": draw(st.one_of(st.just("all"), st.integers(0, 20))),
                }
            )
        elif kind == "set-latency":
            entry.update(
                {"shard": draw(st.sampled_from(shard_ids)), "ms": draw(st.integers(1, 400))}
            )
        schedule.append(entry)
    schedule.sort(key=lambda e: e["tick"])
    return Scenario.model_validate(
        {
            "name": "prop",
            "seed": 0,
            "fabric": {"owner": {"name": "o"}, "shards": shards, "nodes": nodes},
            "workload": workload,
            "faults": faults,
            "schedule": schedule,
            "run": {"max_ticks": 200, "checkpoint_every": 7},
        }
    )


def _passes_checks(scenario: Scenario) -> bool:
    try:
        check_references(Path("prop.yaml"), scenario)
    except BadInput:
        return False
    return True


def valid_scenarios() -> Any:
    """Scenarios `agijobs plan` would accept (the raw generator also makes schedules the
    static checks refuse, which the engine must then reject at run time)."""
    return scenarios().filter(_passes_checks)


PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
