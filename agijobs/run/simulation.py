"""A run re-made in memory: the dry runs of `plan` and the derivations of `audit` and
`runner start`. It is the runner itself on a store that keeps nothing (or compares), so what it
writes is what a real run writes, byte for byte."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..fabric.engine import Engine
from ..fabric.inputs import CommandInput
from ..scenario.plan import Plan
from ..store import Store
from ..views.summary import planned_jobs
from .runner import Outcome, Runner, RunOptions

if TYPE_CHECKING:
    from .bridge import BridgeSettings


def started_event(plan: Plan) -> tuple[str, dict[str, Any]]:
    scenario = plan.scenario
    return (
        "run.started",
        {
            "name": scenario.name,
            "seed": scenario.seed,
            "inputs_id": plan.inputs_id,
            "jobs": planned_jobs(plan),
            "shards": sorted(s.id for s in scenario.fabric.shards),
            "nodes": sorted(n.id for n in scenario.fabric.nodes),
        },
    )


def simulate(
    plan: Plan,
    recorded: Sequence[tuple[int, CommandInput]] = (),
    until_tick: int | None = None,
    run_id: str | None = None,
    bridge: BridgeSettings | None = None,
    store: Store | None = None,
    engine: Engine | None = None,
    counts: dict[str, int] | None = None,
    state_only: bool = False,
) -> Outcome:
    """Run `plan` from tick 0, with recorded live/at-rest commands at their ticks.

    This is the runner itself, on a store that keeps nothing unless one is given (the
    audit's derivation gives one that compares each event with the stored log), so a dry
    run predicts the chain head and events digest of a real run exactly. `engine`, when
    given, is the fresh engine to run (its caller reads the state it ends in); `counts`,
    when given, counts the events written by type. `state_only` encodes no event and
    writes no checkpoint: only the state `engine` ends in matters.
    """
    if engine is None:
        engine = Engine(plan.inputs)
    engine.run_id = run_id
    options = RunOptions(bridge=bridge)
    with bridge_started(options, plan):
        return _simulate(plan, engine, options, recorded, until_tick, store, counts, state_only)


def _simulate(
    plan: Plan,
    engine: Engine,
    options: RunOptions,
    recorded: Sequence[tuple[int, CommandInput]],
    until_tick: int | None,
    store: Store | None,
    counts: dict[str, int] | None,
    state_only: bool,
) -> Outcome:
    from ..store.memory import MemoryStore

    runner = Runner(store or MemoryStore(), plan, engine, options)
    for tick, command in recorded:
        book = runner.scripted_rest if command.source == "at-rest" else runner.scripted_live
        book.setdefault(tick, []).append(command)
    runner.until_tick = until_tick
    runner.recorder.counts = counts
    runner.recorder.state_only = state_only
    runner.recorder.write(0, [started_event(plan)])
    return runner.loop()


@contextlib.contextmanager
def bridge_started(options: RunOptions, plan: Plan) -> Iterator[None]:
    """Start the configured bridge (handshake) for the run, and stop it after."""
    if options.bridge is None:
        yield
        return
    from .bridge import BridgeExecutor

    executor = BridgeExecutor(options.bridge, plan.scenario.seed)
    executor.start()
    options.executor = executor
    try:
        yield
    finally:
        options.executor = None
        executor.close()
