"""Runs on disk: stop anywhere and resume equals an uninterrupted run, byte for byte."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agijobs.run.delivery import issue_command
from agijobs.run.lifecycle import continue_run, start_run
from agijobs.run.runner import RunOptions
from agijobs.scenario.loading import build_plan, load_plan
from agijobs.scenario.models import Expectations, Scenario
from agijobs.store.files import FileStore

from ..fabric.strategies import valid_scenarios
from ..helpers import sha

ROOT = Path(__file__).parents[2]
OUTPUTS = ("events.ndjson", "checkpoint.json", "summary.json")


def run_to_end(storage: Path, scenario: Scenario, stop: int | None = None) -> None:
    plan = build_plan(scenario, Expectations())
    store = FileStore(storage)
    outcome = start_run(store, plan, "test", RunOptions(stop_after_ticks=stop))
    while outcome.reason == "stop-after-ticks":
        outcome = continue_run(store, RunOptions(stop_after_ticks=stop))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_scenarios(), st.integers(1, 60))
def test_stopping_every_n_ticks_and_resuming_equals_uninterrupted(
    scenario: Scenario, every: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        whole, pieces = Path(tmp) / "whole", Path(tmp) / "pieces"
        run_to_end(whole, scenario)
        run_to_end(pieces, scenario, stop=every)
        for name in OUTPUTS:
            assert sha(whole / name) == sha(pieces / name), name


def test_live_command_is_acknowledged_with_its_tick_and_replays(tmp_path: Path) -> None:
    plan = load_plan(ROOT / "scenarios" / "crash-resume.yaml")
    store = FileStore(tmp_path / "storage")
    done: list[object] = []
    runner = threading.Thread(
        target=lambda: done.append(start_run(store, plan, "test", RunOptions(tick_ms=5))),
    )
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not (store.root / "checkpoint.json").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        results = [
            issue_command(store, "pause-all", {}, "live test", "tester", 10.0) for _ in range(2)
        ]
    finally:
        runner.join(30)
    assert results[0].mode == "live"
    assert results[0].effect["changed"] is True
    assert results[1].effect["changed"] is False
    assert results[1].tick >= results[0].tick
    from agijobs.audit.verify import audit

    report = audit(store)
    live = [g for g in report.governance if g["source"] == "live"]
    assert [(g["command"], g["tick"], g["actor"]) for g in live] == [
        ("pause-all", results[0].tick, "tester"),
        ("pause-all", results[1].tick, "tester"),
    ]
    assert report.replay is not None and report.replay["matches"]
