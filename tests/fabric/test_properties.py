"""Invariants over random small fabrics (hypothesis).

- conservation after every tick, per shard and in total, in count and value;
- every live job is in exactly one place (one queue or one node);
- the same scenario twice gives the same events;
- snapshot -> JSON -> restore mid-run, then continuing, equals the uninterrupted run.
"""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from agijobs.audit.walk import Ledger
from agijobs.fabric.engine import Engine
from agijobs.fabric.state import COUNTERS
from agijobs.ledger.canonical import dumps
from agijobs.scenario.models import Scenario
from agijobs.scenario.plan import fabric_inputs

from ..helpers import engine_of
from .invariants import assert_invariants
from .strategies import PROPERTY, scenarios


def run_all(engine: Engine, until: int = 200) -> list[bytes]:
    out = []
    while not engine.is_done() and engine.state.tick < until:
        events = engine.run_tick()
        out.append(dumps([engine.state.tick, events]))
    return out


@PROPERTY
@given(scenarios())
def test_conservation_and_one_place_after_every_tick(scenario: Scenario) -> None:
    engine = engine_of(scenario)
    ledger = Ledger()
    seq = 0
    while not engine.is_done() and engine.state.tick < 200:
        for kind, data in engine.run_tick():
            seq += 1
            if kind.startswith("job."):
                ledger.apply(seq, kind, data)
        assert_invariants(engine)
    # The audit's re-derivation from the events alone agrees with the state's counters.
    for shard in engine.state.shards.values():
        derived = ledger.counters(shard.id)
        for name in (*COUNTERS, "queued", "in_flight"):
            assert derived[name] == shard.tally(name).to_json(), (shard.id, name)


@PROPERTY
@given(scenarios())
def test_same_scenario_twice_gives_the_same_events(scenario: Scenario) -> None:
    assert run_all(engine_of(scenario)) == run_all(engine_of(scenario))


@PROPERTY
@given(scenarios(), st.integers(0, 80))
def test_snapshot_restore_mid_run_equals_uninterrupted(scenario: Scenario, cut: int) -> None:
    whole = run_all(engine_of(scenario))
    first = engine_of(scenario)
    head = run_all(first, until=cut)
    snapshot = orjson.loads(dumps(first.snapshot()))
    restored = Engine.restore(fabric_inputs(scenario), snapshot)
    assert dumps(restored.snapshot()) == dumps(first.snapshot())
    assert head + run_all(restored) == whole
