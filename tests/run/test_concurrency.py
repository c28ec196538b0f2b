"""Twenty owner commands from concurrent processes: all acknowledged, each applied exactly
once, in one total order in the log — against a live runner and against a run at rest."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import orjson

from agijobs.contract import named_effect

from ..helpers import agijobs, scenario_dict, write_scenario

COMMANDS = 20


def launch(storage: Path, i: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agijobs",
            "set-latency",
            "--shard",
            "earth",
            "--ms",
            str(100 + i),
            "--reason",
            f"concurrent {i}",
            "--actor",
            f"op-{i:02d}",
            "--timeout",
            "60",
            "--storage",
            str(storage),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def issue_all(storage: Path) -> list[dict]:
    processes = [launch(storage, i) for i in range(COMMANDS)]
    acks = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        acks.append(orjson.loads(out))
    return acks


def owner_events(storage: Path) -> list[dict]:
    lines = (storage / "events.ndjson").read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["type"] == "owner.set-latency"]


def check_exactly_once(storage: Path, acks: list[dict], mode: str) -> None:
    events = owner_events(storage)
    actors = [e["data"]["input"]["actor"] for e in events]
    assert sorted(actors) == [f"op-{i:02d}" for i in range(COMMANDS)]  # none lost, none twice
    assert all(ack["mode"] == mode for ack in acks)
    by_actor = {e["data"]["input"]["actor"]: e for e in events}
    for i, ack in enumerate(acks):
        event = by_actor[f"op-{i:02d}"]
        assert event["tick"] == ack["tick"]
        # The acknowledgement names the log's [before, after] pair.
        assert named_effect("owner.set-latency", event["data"]["effect"]) == ack["effect"]
    # One total order: each command saw the budget the previous one in the log left.
    budgets = [e["data"]["effect"]["budget_ms"] for e in events]
    for earlier, later in itertools.pairwise(budgets):
        assert later[0] == earlier[1]
    audited = agijobs("audit", "--replay", "--storage", str(storage))
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_twenty_concurrent_commands_against_a_live_run(tmp_path: Path) -> None:
    data = scenario_dict(schedule=[{"tick": 1, "command": "pause-all", "reason": "hold"}])
    scenario, storage = write_scenario(tmp_path / "s.yaml", data), tmp_path / "storage"
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agijobs",
            "run",
            str(scenario),
            "--storage",
            str(storage),
            "--wait",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (storage / "live.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        acks = issue_all(storage)
        resumed = agijobs("resume", "--reason", "go", "--storage", str(storage))
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert runner.wait(timeout=60) == 0
    finally:
        runner.kill()
    check_exactly_once(storage, acks, "live")
    journal = (storage / "inbox" / "journal.ndjson").read_bytes().splitlines()
    assert len({orjson.loads(line)["id"] for line in journal}) == COMMANDS + 1  # + resume


def test_twenty_concurrent_commands_at_rest_are_serialized(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "s.yaml", scenario_dict())
    storage = tmp_path / "storage"
    stopped = agijobs("run", str(scenario), "--storage", str(storage), "--stop-after-ticks", "2")
    assert stopped.returncode == 0, stopped.stderr
    acks = issue_all(storage)
    check_exactly_once(storage, acks, "at-rest")
    checkpoint = orjson.loads((storage / "checkpoint.json").read_bytes())
    last = owner_events(storage)[-1]["data"]["effect"]["budget_ms"][1]
    earth = next(s for s in checkpoint["state"]["shards"] if s["id"] == "earth")
    assert earth["budget_ms"] == last
