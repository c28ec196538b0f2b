"""A real runner process taking live owner commands; crashes after an acknowledgement."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from .helpers import agijobs, scenario_dict, write_scenario


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agijobs", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def owner_events(storage: Path) -> list[dict]:
    lines = (storage / "events.ndjson").read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    return [e for e in events if e["type"].startswith("owner.")]


@pytest.fixture
def long_run(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A scenario whose paced run lasts long enough to talk to."""
    data = scenario_dict(
        workload=[
            {
                "prefix": "f",
                "shard": "earth",
                "skills": ["finance"],
                "count": 400,
                "duration": 2,
                "arrive": {"start": 1, "per_tick": 2},
            }
        ],
        # Only the tick-0 checkpoint: a kill always lands before the next one.
        run={"max_ticks": 2000, "checkpoint_every": 2000},
    )
    yield write_scenario(tmp_path / "long.yaml", data), tmp_path / "storage"


def test_wait_keeps_a_paused_idle_run_alive_until_resume(tmp_path: Path) -> None:
    data = scenario_dict(schedule=[{"tick": 1, "command": "pause-all", "reason": "hold"}])
    scenario, storage = write_scenario(tmp_path / "s.yaml", data), tmp_path / "storage"
    runner = start("run", str(scenario), "--storage", str(storage), "--wait")
    try:
        wait_for(storage / "checkpoint.json")
        time.sleep(0.5)
        assert runner.poll() is None, "a --wait run must not exit while paused and idle"
        second = agijobs("run", str(scenario), "--storage", str(storage))
        assert second.returncode == 4, second.stderr
        keep = agijobs("resume", "--keep-paused", "--storage", str(storage))
        assert keep.returncode == 4, keep.stderr
        assert "already running" in keep.stderr
        resumed = agijobs(
            "resume", "--reason", "go", "--actor", "bob", "--storage", str(storage), "--json"
        )
        assert resumed.returncode == 0, resumed.stderr
        ack = orjson.loads(resumed.stdout)
        assert (ack["mode"], ack["effect"]["changed"]) == ("live", True)
        assert runner.wait(timeout=30) == 0
    finally:
        runner.kill()
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert summary["status"] == "finished"
    resume_event = owner_events(storage)[-1]
    assert resume_event["tick"] == ack["tick"]
    assert resume_event["data"]["input"]["actor"] == "bob"


def test_acknowledged_live_command_survives_a_crash_at_the_same_tick(
    long_run: tuple[Path, Path],
) -> None:
    scenario, storage = long_run
    runner = start("run", str(scenario), "--storage", str(storage), "--tick-ms", "20")
    try:
        wait_for(storage / "checkpoint.json")
        sent = agijobs(
            "set-latency",
            "--shard",
            "earth",
            "--ms",
            "85",
            "--reason",
            "tighten",
            "--storage",
            str(storage),
            "--json",
        )
        assert sent.returncode == 0, sent.stderr
        os.kill(runner.pid, signal.SIGKILL)  # well before the next checkpoint
        runner.wait()
    finally:
        runner.kill()
    ack = orjson.loads(sent.stdout)
    assert ack["mode"] == "live"
    checkpoint = orjson.loads((storage / "checkpoint.json").read_bytes())
    assert checkpoint["tick"] < ack["tick"], "the kill should land before the checkpoint"
    resumed = agijobs("resume", "--storage", str(storage))
    assert resumed.returncode == 0, resumed.stderr
    applied = [e for e in owner_events(storage) if e["type"] == "owner.set-latency"]
    assert [(e["tick"], e["data"]["input"]["source"]) for e in applied] == [(ack["tick"], "live")]
    audit = agijobs("audit", "--replay", "--storage", str(storage))
    assert audit.returncode == 0, audit.stderr
    assert "replay: matches" in audit.stdout
