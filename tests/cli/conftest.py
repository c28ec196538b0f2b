from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import cli, scenario_dict, write_scenario


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    """A small scenario that finishes in a few dozen ticks, with a pause and a resume."""
    data = scenario_dict(
        workload=[
            {
                "prefix": "f",
                "shard": "earth",
                "skills": ["finance"],
                "count": 30,
                "duration": 2,
                "value": 100,
                "arrive": {"start": 1, "per_tick": 3},
            }
        ],
        schedule=[
            {"tick": 4, "command": "pause-all", "reason": "drill"},
            {"tick": 8, "command": "resume", "reason": "drill over"},
        ],
        expect={"min_completed_ratio": 1.0},
    )
    return write_scenario(tmp_path / "small.yaml", data)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "storage"


@pytest.fixture
def stopped(scenario_file: Path, storage: Path) -> Path:
    """A run stopped at tick 2 (before its scheduled pause): unfinished, at rest."""
    result = cli("run", str(scenario_file), "--storage", str(storage), "--stop-after-ticks", "2")
    assert result.exit_code == 0, result.output
    return storage
