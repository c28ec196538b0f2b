"""Owner commands that touch no job (pause-all, resume) are applied at rest by an engine
restored without its jobs; the result must be the very bytes a fully restored engine gives."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agijobs.canonical import dumps
from agijobs.fabric.commands import CommandInput
from agijobs.fabric.engine import JOBLESS, Engine
from agijobs.integrity import decode_checkpoint
from agijobs.scenario import load_plan

from ..helpers import agijobs

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))


def _applied(engine: Engine, name: str) -> tuple[bytes, bytes]:
    command = CommandInput(name, {}, "drill", "oncall", "at-rest", "2026-11-25T00:00:00.000Z")
    events = engine.apply_at_rest(command)
    return dumps(events), dumps(engine.snapshot())


@pytest.mark.parametrize("ticks", [3, 40, 120])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_a_jobless_restore_applies_pause_and_resume_to_the_same_bytes(
    scenario: Path, ticks: int, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    result = agijobs(
        "run", str(scenario), "--storage", str(storage), "--stop-after-ticks", str(ticks)
    )
    assert result.returncode == 0, result.stderr
    plan = load_plan(scenario)
    state = decode_checkpoint((storage / "checkpoint.json").read_bytes())["state"]
    # A job an executor rejected once: its attempt count lives beside the job rows.
    queued = [row for shard in state["shards"] for _, rows in shard["queue"] for row in rows]
    if queued:
        state["attempts"] = {queued[0][0]: 1}
    for name in sorted(JOBLESS):
        full = Engine.restore(plan.scenario, orjson.loads(dumps(state)))
        jobless = Engine.restore(plan.scenario, orjson.loads(dumps(state)), jobs=False)
        assert jobless.state.jobs == {}
        assert jobless.is_done() == full.is_done()
        assert _applied(jobless, name) == _applied(full, name)
