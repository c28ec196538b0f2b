"""At least 200 kill points across the shipped scenarios restart to identical bytes: kills
inside paused stretches (a scheduled pause, a pause made at rest) and kills of the recovery
itself among them.

The full sweep (more points per scenario, planetary included) is `make crash-sweep`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..crash_harness import AGAIN, POINTS, Trial, sweep

SMALL = [
    Path(__file__).parents[2] / "scenarios" / name
    for name in (
        "crash-resume.yaml",
        "earth-backlog-reroute.yaml",
        "incident-pause.yaml",
        "latency-tightening.yaml",
    )
]


@pytest.fixture(scope="module")
def results() -> list[Trial]:
    return sweep(SMALL, per_point=13)


def test_every_kill_point_restarts_to_the_uninterrupted_bytes(results: list[Trial]) -> None:
    killed = [r for r in results if r.killed]
    assert len(killed) >= 200
    mismatches = [f"{r.scenario} {r.point}:{r.n}" for r in killed if not r.equal]
    assert mismatches == []


def test_every_kind_of_kill_point_is_exercised_in_every_scenario(results: list[Trial]) -> None:
    for path in SMALL:
        kinds = {r.point for r in results if r.killed and r.scenario == path.stem}
        assert kinds == {*POINTS, *AGAIN}, path.stem


def test_kills_inside_paused_stretches_restart_with_the_pause_in_force(
    results: list[Trial],
) -> None:
    """incident-pause.yaml between its scheduled pause (tick 20) and resume (60), and
    crash-resume.yaml paused at rest at tick 30 then restarted: the bytes equal the
    uninterrupted run's, so the pause was never lifted early."""
    paused = [r for r in results if r.killed and r.paused]
    scheduled = [r for r in paused if r.scenario == "incident-pause" and 20 <= r.n < 60]
    at_rest = [r for r in paused if r.scenario == "crash-resume+at-rest-pause"]
    assert len(scheduled) >= 10
    assert {r.point for r in at_rest} == {"tick", "append", "checkpoint", "checkpoint-renamed"}
    assert [f"{r.scenario} {r.point}:{r.n}" for r in paused if not r.equal] == []


def test_kill_points_across_cordons_and_drains_resume_to_the_same_bytes(tmp_path: Path) -> None:
    """The crash scenario with node operations in its schedule: a drain whose deadline falls
    between checkpoints (its jobs requeued), a cordon lifted later. Every kill point, and a
    kill of the recovery, resumes to the bytes of the run that was never killed."""
    import yaml

    data = yaml.safe_load(SMALL[0].read_text())
    data["expect"].pop("events_digest")
    data["schedule"] += [
        {
            "tick": 12,
            "command": "node.drain",
            "node": "mars.regolith-cradle",
            "deadline_ticks": 1,
            "reason": "kernel upgrade",
        },
        {
            "tick": 25,
            "command": "node.uncordon",
            "node": "mars.regolith-cradle",
            "reason": "upgraded",
        },
        {"tick": 30, "command": "node.cordon", "node": "earth.core-alpha", "reason": "NIC"},
        {"tick": 44, "command": "node.uncordon", "node": "earth.core-alpha", "reason": "fixed"},
    ]
    path = tmp_path / "crash-nodes.yaml"
    path.write_text(yaml.safe_dump(data))
    trials = [r for r in sweep([path], per_point=4) if r.killed]
    assert {r.point for r in trials} == {*POINTS, *AGAIN}
    assert [f"{r.point}:{r.n}" for r in trials if not r.equal] == []
