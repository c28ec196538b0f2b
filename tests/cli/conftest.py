from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import scenario_dict, write_scenario


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
