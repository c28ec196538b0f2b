"""The shipped scenarios replay to their committed digests (Temporal's committed histories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agijobs.run.simulation import simulate
from agijobs.scenario.loading import load_plan

from .helpers import cli, sha

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def test_the_required_scenarios_ship() -> None:
    names = {path.stem for path in SCENARIOS}
    assert {
        "planetary",
        "incident-pause",
        "earth-backlog-reroute",
        "latency-tightening",
        "crash-resume",
    } <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_runs_to_its_golden_digest(path: Path, tmp_path: Path) -> None:
    plan = load_plan(path)
    assert plan.expect.events_digest is not None, f"{path.name} has no golden digest"
    assert simulate(plan).summary["events_digest"] == plan.expect.events_digest
    result = cli("run", str(path), "--storage", str(tmp_path / "s"))
    assert result.exit_code == 0, result.output  # expect (including the digest) held
    assert sha(tmp_path / "s" / "events.ndjson") == plan.expect.events_digest
