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

from ..helpers import (
    agijobs,
    long_scenario,
    owner_events,
    scenario_dict,
    start,
    wait_for,
    write_scenario,
)


@pytest.fixture
def long_run(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A scenario whose paced run lasts long enough to talk to."""
    yield long_scenario(tmp_path / "long.yaml"), tmp_path / "storage"


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
        keep = agijobs("runner", "start", "--storage", str(storage))
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
    resumed = agijobs("runner", "start", "--storage", str(storage))
    assert resumed.returncode == 0, resumed.stderr
    applied = [e for e in owner_events(storage) if e["type"] == "owner.set-latency"]
    assert [(e["tick"], e["data"]["input"]["source"]) for e in applied] == [(ack["tick"], "live")]
    audit = agijobs("audit", "--replay", "--storage", str(storage))
    assert audit.returncode == 0, audit.stderr
    assert "proved: events 1-" in audit.stdout


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_run_cleanly_and_resumably_with_128_plus_its_number(
    long_run: tuple[Path, Path], sent: signal.Signals, code: int
) -> None:
    scenario, storage = long_run
    runner = start("run", str(scenario), "--storage", str(storage), "--tick-ms", "10")
    try:
        wait_for(storage / "checkpoint.json")
        time.sleep(0.3)
        runner.send_signal(sent)
        assert runner.wait(timeout=30) == code
    finally:
        runner.kill()
    report = orjson.loads(agijobs("status", "--storage", str(storage), "--json").stdout)
    assert report["state"] == "stopped"
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert (summary["status"], summary["reason"]) == ("stopped", "interrupted")
    resumed = agijobs("runner", "start", "--storage", str(storage))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr


def test_status_of_a_live_run_shows_its_current_tick_not_the_checkpoint(
    long_run: tuple[Path, Path],
) -> None:
    scenario, storage = long_run
    runner = start("run", str(scenario), "--storage", str(storage), "--tick-ms", "20")
    try:
        wait_for(storage / "checkpoint.json")
        paused = orjson.loads(
            agijobs("pause-all", "--reason", "look", "--storage", str(storage), "--json").stdout
        )
        report = orjson.loads(agijobs("status", "--storage", str(storage), "--json").stdout)
        assert report["state"] == "running, paused"
        assert report["tick"] >= paused["tick"] > report["checkpoint"]["tick"] == 0
        audit = agijobs("audit", "--storage", str(storage))
        assert audit.returncode == 0, audit.stderr
        assert "a runner is live" in audit.stdout
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=30)


def test_an_at_rest_command_after_a_crash_recovers_the_run(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    scenario = Path(__file__).parents[2] / "scenarios" / "crash-resume.yaml"
    crashed = subprocess.run(
        [sys.executable, "-m", "agijobs", "run", str(scenario), "--storage", str(storage)],
        env={**os.environ, "AGIJOBS_CRASH_AT_TICK": "45"},
        capture_output=True,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, (crashed.stdout + crashed.stderr).decode()
    status = agijobs("status", "--storage", str(storage))
    assert status.stdout.startswith(
        "crash-resume: crashed after tick 45; `agijobs runner start` continues from the "
        "checkpoint at tick 40"
    )
    paused = agijobs("pause-all", "--reason", "hold after crash", "--storage", str(storage))
    assert paused.returncode == 0, paused.stderr
    assert "tick 40, fabric at rest" in paused.stdout
    report = orjson.loads(agijobs("status", "--storage", str(storage), "--json").stdout)
    assert report["state"] == "paused"
    events = [s["event"] for s in report["sessions"]]
    assert events[-4:] == ["crash-detected", "recovered", "command", "stopped"]


@pytest.mark.parametrize("command", [["resume", "--reason", "r"], ["runner", "start"]])
def test_resume_or_runner_start_of_a_missing_storage_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    result = agijobs(*command, "--storage", str(tmp_path / "nowhere"))
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr == (
        f"Error: storage {tmp_path / 'nowhere'} does not exist — check --storage (or "
        "AGIJOBS_STORAGE); `agijobs run SCENARIO --storage PATH` creates one\n"
    )
    assert not (tmp_path / "nowhere").exists()


def test_a_closed_pipe_ends_quietly_with_141(tmp_path: Path) -> None:
    scenario = Path(__file__).parents[2] / "scenarios" / "incident-pause.yaml"
    storage = tmp_path / "storage"
    ran = agijobs("run", str(scenario), "--storage", str(storage))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    reader = subprocess.Popen(
        [sys.executable, "-m", "agijobs", "audit", "--storage", str(storage)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # gone before agijobs writes a byte: its first write fails
    with reader.stderr:
        errors = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 141, errors
    assert errors == ""


def test_apply_against_a_live_run_is_all_or_none_and_replays(
    long_run: tuple[Path, Path], tmp_path: Path
) -> None:
    scenario, storage = long_run
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(
        "- {command: shard.pause, shard: luna, reason: relay work}\n"
        "- {command: checkpoint.configure, every: 5, reason: denser checkpoints}\n"
    )
    bad.write_text(
        "- {command: shard.resume, shard: luna, reason: too early}\n"
        "- {command: node.deregister, node: mars.q, reason: typo}\n"
    )
    runner = start("run", str(scenario), "--storage", str(storage), "--tick-ms", "20")
    try:
        wait_for(storage / "checkpoint.json")
        applied = agijobs("apply", str(good), "--storage", str(storage), "--json")
        assert applied.returncode == 0, applied.stderr
        result = orjson.loads(applied.stdout)
        assert result["mode"] == "live"
        assert [r["event"] for r in result["results"]] == [
            "owner.shard.pause",
            "owner.checkpoint.configure",
        ]
        refused = agijobs("apply", str(bad), "--storage", str(storage))
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr == (
            "Error: the live run rejected batch: commands -> 1 (node.deregister): node: "
            "unknown node `mars.q` — known: earth.a, earth.b, luna.c\n"
        )
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=30)
    status = orjson.loads(agijobs("status", "--storage", str(storage), "--json").stdout)
    luna = next(s for s in status["shards"] if s["id"] == "luna")
    assert luna["paused"] is True  # the refused list's resume never happened
    events = owner_events(storage)
    assert [e["type"] for e in events] == [
        "owner.shard.pause",
        "owner.checkpoint.configure",
        "owner.rejected",
    ]
    assert events[0]["tick"] == events[1]["tick"]
    audit = agijobs("audit", "--replay", "--storage", str(storage))
    assert audit.returncode == 0, audit.stderr
