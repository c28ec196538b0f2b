from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ..helpers import cli, scenario_dict, write_scenario
from .keyed import keyed_scenario, sign_plan


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


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGIJOBS_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("AGIJOBS_KEY", raising=False)
    return tmp_path / "keys"


@pytest.fixture
def keys(key_dir: Path) -> dict[str, dict]:
    """alice, bob, carol (owners), oncall (operator) and the runner's key: name -> their
    config entry."""
    entries = {}
    for name in ("alice", "bob", "carol", "oncall", "runner"):
        role = {"oncall": "operator", "runner": "runner"}.get(name, "owner")
        result = cli("keys", "new", name, "--role", role)
        assert result.exit_code == 0, result.output
        [entries[name]] = yaml.safe_load(result.stdout)
    return entries


@pytest.fixture
def scenario(tmp_path: Path, keys: dict[str, dict]) -> Path:
    return keyed_scenario(tmp_path / "fabric.yaml", keys)


@pytest.fixture
def signed_plan(scenario: Path, tmp_path: Path) -> Path:
    return sign_plan(scenario, tmp_path / "p.json", "alice", "bob")


@pytest.fixture
def at_rest(signed_plan: Path, tmp_path: Path) -> Path:
    """The signed plan run until its scheduled pause: paused and idle at tick 5."""
    storage = tmp_path / "storage"
    result = cli("run", str(signed_plan), "--storage", str(storage))
    assert result.exit_code == 0, result.output
    assert "paused at tick 5" in result.stdout
    return storage


@pytest.fixture
def finished(scenario_file: Path, storage: Path) -> Path:
    """The small scenario, run to its end."""
    result = cli("run", str(scenario_file), "--storage", str(storage))
    assert result.exit_code == 0, result.output
    return storage
