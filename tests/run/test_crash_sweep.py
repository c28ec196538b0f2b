"""At least 200 kill points across the shipped scenarios resume to identical bytes.

The full sweep (more points per scenario, planetary included) is `make crash-sweep`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..crash_harness import POINTS, Trial, sweep

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


def test_every_kill_point_resumes_to_the_uninterrupted_bytes(results: list[Trial]) -> None:
    killed = [r for r in results if r.killed]
    assert len(killed) >= 200
    mismatches = [f"{r.scenario} {r.point}:{r.n}" for r in killed if not r.equal]
    assert mismatches == []


def test_every_kind_of_kill_point_is_exercised_in_every_scenario(results: list[Trial]) -> None:
    for path in SMALL:
        kinds = {r.point for r in results if r.killed and r.scenario == path.stem}
        assert kinds == {*POINTS, "tick+resume-tick"}, path.stem
