"""A keyed fabric for the CLI tests: its scenario, signed plans, and its log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ..helpers import cli, scenario_dict, write_scenario

REROUTE = ["reroute", "--from", "earth", "--to", "mars", "--backlog", "5", "--reason", "x"]


def keyed_scenario(path: Path, keys: dict[str, dict], *, run: dict | None = None) -> Path:
    """Shards earth (budget 120) and mars (420), 400 jobs on earth; by default the schedule
    pauses the fabric at tick 5, where the run stops paused and idle."""
    owner = {
        "name": "Owner",
        "keys": list(keys.values()),
        "approvals": {"pause-all": 1, "default": 2},
        "operator_may": ["pause-all"],
        "proposal_expiry_ticks": 50,
    }
    node = {"slots": 2, "skills": ["general"], "heartbeat_ticks": 2}
    fabric = {
        "owner": owner,
        "shards": [
            {"id": "earth", "latency_budget_ms": 120, "max_queue": 1000},
            {"id": "mars", "latency_budget_ms": 420, "max_queue": 1000},
        ],
        "nodes": [
            {"id": "earth.a", "shard": "earth", "latency_ms": 80, **node},
            {"id": "mars.a", "shard": "mars", "latency_ms": 150, **node},
        ],
    }
    workload = [
        {"prefix": "j", "shard": "earth", "skills": ["general"], "count": 400, "duration": 2}
    ]
    extra: dict[str, Any] = {"run": run or {"max_ticks": 1000}}
    if run is None:
        extra["schedule"] = [{"tick": 5, "command": "pause-all", "reason": "hold"}]
    return write_scenario(path, scenario_dict(fabric=fabric, workload=workload, **extra))


def sign_plan(source: Path, out: Path, *keys: str) -> Path:
    for key in keys:
        result = cli("plan", str(source), "--out", str(out), "--sign", key)
        assert result.exit_code == 0, result.output
        source = out
    return out


def events(storage: Path) -> list[dict]:
    return [orjson.loads(line) for line in (storage / "events.ndjson").read_bytes().splitlines()]
