"""Owner commands that touch no job (pause-all, set-latency, node.cordon, …) are applied at
rest by an engine restored without its jobs (the checkpoint without its job table); the
result must be the very bytes a fully restored engine gives, naming the very job table it
was restored from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agijobs.fabric.commands import JOBLESS
from agijobs.fabric.engine import Engine
from agijobs.fabric.inputs import CommandInput
from agijobs.ledger import jobtable
from agijobs.ledger.canonical import dumps
from agijobs.ledger.checkpoint import decode_checkpoint
from agijobs.scenario.loading import load_plan

from ..helpers import agijobs

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))


def _arguments(name: str, state: dict[str, Any]) -> dict[str, Any]:
    """Arguments that change something, for each command `JOBLESS` names."""
    shard = state["shards"][-1]
    given: dict[str, dict[str, Any]] = {
        "set-latency": {"shard": shard["id"], "ms": 1},  # every node out of budget
        "shard.pause": {"shard": shard["id"]},
        "shard.resume": {"shard": shard["id"]},
        "checkpoint.configure": {"every": 7},
        "reporting.configure": {"label": "drill"},
        "node.cordon": {"node": state["nodes"][0]["id"]},
        "node.uncordon": {"node": state["nodes"][0]["id"]},
        "node.drain": {"node": state["nodes"][0]["id"], "deadline_ticks": 5},
    }
    return given.get(name, {})


def _applied(engine: Engine, name: str, args: dict[str, Any]) -> tuple[bytes, bytes, bytes | None]:
    """The command's events, then the checkpoint state and job table it leaves."""
    command = CommandInput(name, args, "drill", "oncall", "at-rest", "2026-11-25T00:00:00.000Z")
    events = engine.apply_at_rest(command)
    state, table = jobtable.split(engine.snapshot())
    return dumps(events), dumps(state), table


@pytest.mark.parametrize("ticks", [3, 40, 120])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_a_jobless_restore_applies_each_jobless_command_to_the_same_bytes(
    scenario: Path, ticks: int, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    result = agijobs(
        "run", str(scenario), "--storage", str(storage), "--stop-after-ticks", str(ticks)
    )
    assert result.returncode == 0, result.stderr
    plan = load_plan(scenario)
    header = decode_checkpoint((storage / "checkpoint.json").read_bytes())["state"]
    stored = (storage / "jobs" / f"{jobtable.digest(header)}.json").read_bytes()
    state = jobtable.attach(header, stored, "job table")
    # A job an executor rejected once: its attempt count lives beside the job rows.
    queued = [row for shard in state["shards"] for _, rows in shard["queue"] for row in rows]
    if queued:
        state["attempts"] = {queued[0][0]: 1}
    split, table = jobtable.split(state)
    assert table == stored
    for name in sorted(JOBLESS):
        full = Engine.restore(plan.inputs, orjson.loads(dumps(state)))
        jobless = Engine.restore(plan.inputs, orjson.loads(dumps(split)), jobs=False)
        assert jobless.state.jobs == {}
        assert jobless.is_done() == full.is_done()
        args = _arguments(name, state)
        events, after, kept = _applied(jobless, name, args)
        assert kept is None  # it names the stored table, and writes none
        assert (events, after, table) == _applied(full, name, args)
