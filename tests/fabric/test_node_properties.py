"""Node operations over random small fabrics (hypothesis), with cordons, drains and
uncordons drawn into their schedules (`strategies.scenarios`), and executor node reports
drawn beside them:

- a cordoned (or draining) node never receives a new assignment;
- at the end of its drain deadline tick a node runs no job;
- conservation and one place for every job hold after every tick.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agijobs.fabric.engine import Engine
from agijobs.scenario.models import Scenario

from ..helpers import engine_of
from .invariants import assert_invariants
from .strategies import PROPERTY, scenarios

# (tick, node index, status): what an executor reports, applied after routing.
Reports = list[tuple[int, int, str]]


def executed_tick(engine: Engine, reports: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    engine.collect_dispatch = True
    engine.begin_tick()
    engine.settle([{"status": "accepted"}] * len(engine.dispatched), 3)
    engine.report_nodes(reports)
    return engine.end_tick()


@PROPERTY
@given(
    scenarios(),
    st.lists(st.tuples(st.integers(1, 60), st.integers(0, 4), st.sampled_from(["down", "up"]))),
)
def test_cordoned_nodes_get_no_new_work_and_drains_end_empty(
    scenario: Scenario, drawn: Reports
) -> None:
    engine = engine_of(scenario)
    node_ids = [node.id for node in scenario.fabric.nodes]
    while not engine.is_done() and engine.state.tick < 200:
        tick = engine.state.tick + 1
        reports = [
            {"node": node_ids[i % len(node_ids)], "status": status}
            for at, i, status in drawn
            if at == tick
        ]
        deadlines = {n.id for n in engine.state.nodes.values() if n.drain_tick == tick}
        events = executed_tick(engine, reports)
        # Cordons change only by owner commands, which come before routing: the nodes
        # cordoned after the tick are the ones that were while it assigned.
        cordoned = {n.id for n in engine.state.nodes.values() if n.cordoned}
        assigned = {data["node"] for kind, data in events if kind == "job.assigned"}
        assert not (assigned & cordoned), (tick, assigned, cordoned)
        for node_id in deadlines:
            node = engine.state.nodes.get(node_id)
            if node is not None and node.drain_tick == 0:  # the drain fell, not moved
                assert node.running == {}, (tick, node_id)
        assert_invariants(engine)
