"""The planner from the command line: intents, what-if from a storage, plan artefacts."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from ..helpers import agijobs, cli, file_hashes, start, wait_for

ROOT = Path(__file__).parent.parent.parent
SCENARIO = ROOT / "scenarios" / "earth-backlog-reroute.yaml"
WHAT_IF = ["--intent", "reroute the earth backlog to luna now", "--intent", "resume now"]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    copy = tmp_path / "earth.yaml"
    shutil.copy(SCENARIO, copy)
    return copy


@pytest.fixture
def paused(scenario: Path, tmp_path: Path) -> Path:
    """A storage at rest at tick 30, paused by its owner mid-backlog."""
    storage = tmp_path / "storage"
    ran = cli("run", str(scenario), "--storage", str(storage), "--stop-after-ticks", "30")
    assert ran.exit_code == 0, ran.output
    paused = cli("pause-all", "--reason", "incident", "--storage", str(storage))
    assert paused.exit_code == 0, paused.output
    return storage


def outcome(document: dict[str, Any]) -> dict[str, Any]:
    """What a prediction and a real run can be compared on."""
    shards = document["shards"]
    return {
        "tick": document["tick"],
        "jobs": document["jobs"],
        "spillovers": document["spillovers"],
        "cost": document["cost"],
        "completed": {s: shards[s]["completed"] for s in sorted(shards)},
        "failed": {s: shards[s]["failed"] for s in sorted(shards)},
    }


def test_intents_become_schedule_entries_listed_beside_their_sentences(
    scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.json"
    intents = ["pause all shards at tick 120 because luna relay swap", "resume at tick 150"]
    result = cli(
        "plan", str(scenario), "--out", str(out), "--json", "--intent", intents[0],
        "--intent", intents[1],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = orjson.loads(out.read_bytes())
    assert [(i["text"], i["became"]) for i in plan["intents"]] == [
        (intents[0], "pause-all @120 — reason: luna relay swap"),
        (intents[1], "resume @150 — reason: intent: resume at tick 150"),
    ]
    schedule = plan["scenario"]["schedule"]
    assert [(e["tick"], e["command"]["command"]) for e in schedule[-2:]] == [
        (120, "pause-all"),
        (150, "resume"),
    ]
    assert orjson.loads(result.stdout)["intents"] == plan["intents"]


def test_a_sentence_that_does_not_parse_exits_2_and_writes_nothing(
    scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.json"
    result = cli("plan", str(scenario), "--out", str(out), "--intent", "reroute earth to marz")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith('Error: intent "reroute earth to marz": unknown shard `marz`')
    assert not out.exists()


def test_now_needs_a_storage(scenario: Path, tmp_path: Path) -> None:
    result = cli("plan", str(scenario), "--out", str(tmp_path / "p"), "--intent", "resume now")
    assert result.exit_code == 2, result.output
    assert "--from-storage" in result.stderr


def test_intents_in_the_scenario_file_are_read_too(scenario: Path, tmp_path: Path) -> None:
    text = scenario.read_text() + "intents:\n  - complete at least 98% of jobs\n"
    scenario.write_text(text)
    result = cli("plan", str(scenario), "--out", str(tmp_path / "p.json"), "--json")
    assert result.exit_code == 0, result.output
    plan = orjson.loads((tmp_path / "p.json").read_bytes())
    assert plan["expect"]["min_completed_ratio"] == 0.98


def test_check_exits_1_when_an_expectation_is_predicted_to_fail(
    scenario: Path, tmp_path: Path
) -> None:
    args = ["plan", str(scenario), "--out", str(tmp_path / "p.json")]
    failing = ["--intent", "finish all jobs within 100 ticks"]
    passed = cli(*args, "--check")
    assert passed.exit_code == 0, passed.output
    warned = cli(*args, *failing)
    assert warned.exit_code == 0, warned.output
    assert "expectations will FAIL" in warned.stdout
    assert "drained_by_tick 100" in warned.stdout
    checked = cli(*args, *failing, "--check")
    assert checked.exit_code == 1, checked.output


def test_plans_are_the_same_bytes_from_two_processes(scenario: Path, tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        made = agijobs("plan", str(scenario), "--out", str(tmp_path / name), *WHAT_IF[:0])
        assert made.returncode == 0, made.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_a_plan_whose_scenario_changed_is_stale(scenario: Path, tmp_path: Path) -> None:
    plan = tmp_path / "p.json"
    planned = cli("plan", str(scenario), "--out", str(plan))
    assert planned.exit_code == 0, planned.output
    scenario.write_text(scenario.read_text().replace("max_queue: 250", "max_queue: 260"))
    result = cli("run", str(plan), "--storage", str(tmp_path / "s"))
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: {plan}: plan is stale: {scenario} changed since it was planned — "
        f"re-run `agijobs plan {scenario}`\n"
    )
    assert not (tmp_path / "s").exists()


def test_a_tampered_plan_is_refused(scenario: Path, tmp_path: Path) -> None:
    plan = tmp_path / "p.json"
    planned = cli("plan", str(scenario), "--out", str(plan))
    assert planned.exit_code == 0, planned.output
    plan.write_bytes(plan.read_bytes().replace(b'"max_queue":250', b'"max_queue":999'))
    result = cli("run", str(plan), "--storage", str(tmp_path / "s"))
    assert result.exit_code == 2, result.output
    assert "plan_id does not match the plan's content" in result.stderr


def test_what_if_leaves_the_storage_untouched_and_predicts_what_happens(paused: Path) -> None:
    before = file_hashes(paused)
    asked = cli("plan", "--from-storage", "--storage", str(paused), "--json", *WHAT_IF)
    assert asked.exit_code == 0, asked.output
    assert file_hashes(paused) == before
    report = orjson.loads(asked.stdout)
    assert (report["from_tick"], report["now"]) == (30, 31)
    assert report["without"]["reason"] == "paused and idle"
    assert report["without"]["shards"]["earth"]["drained_at"] is None
    predicted = report["with"]
    assert predicted["status"] == "finished"
    # Now do it for real, at rest: the same tick, the same commands, the same outcome.
    moved = cli("reroute", "--from", "earth", "--to", "luna", "--backlog", "all",
                "--reason", "real", "--storage", str(paused))  # fmt: skip
    assert moved.exit_code == 0, moved.output
    lifted = cli("resume", "--reason", "real", "--storage", str(paused))
    assert lifted.exit_code == 0, lifted.output
    real = cli("runner", "start", "--storage", str(paused), "--json")
    assert real.exit_code == 0, real.output
    assert outcome(orjson.loads(real.stdout)) == outcome(predicted)
    assert predicted["shards"]["earth"]["drained_at"] == predicted["tick"]


def test_what_if_against_a_paused_live_runner(scenario: Path, tmp_path: Path) -> None:
    text = scenario.read_text().replace(
        "schedule:\n", "schedule:\n  - {tick: 30, command: pause-all, reason: hold}\n"
    )
    scenario.write_text(text)
    storage = tmp_path / "storage"
    runner = start("run", str(scenario), "--storage", str(storage), "--wait")
    try:
        wait_for(storage / "live.json")
        deadline = time.monotonic() + 60
        while orjson.loads((storage / "live.json").read_bytes()).get("tick", 0) < 60:
            assert time.monotonic() < deadline, "the runner never came to rest"
            time.sleep(0.05)
        time.sleep(0.3)  # it checkpoints before it waits
        before = file_hashes(storage)
        asked = agijobs("plan", "--from-storage", "--storage", str(storage), "--json", *WHAT_IF)
        assert asked.returncode == 0, asked.stderr
        assert file_hashes(storage) == before
        predicted = orjson.loads(asked.stdout)["with"]
        # Both at the runner's next tick, as the intents' `now`: one live batch.
        commands = tmp_path / "commands.yaml"
        commands.write_text(
            "- {command: reroute, from: earth, to: luna, backlog: all}\n- {command: resume}\n"
        )
        sent = agijobs("apply", str(commands), "--reason", "real", "--storage", str(storage))
        assert sent.returncode == 0, sent.stderr
        assert "live run" in sent.stdout
        assert runner.wait(timeout=60) == 0
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGTERM)
            runner.wait(timeout=30)
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert outcome(summary) == outcome(predicted)


def test_a_trigger_fires_at_the_same_tick_after_a_resume_and_in_a_replay(
    scenario: Path, tmp_path: Path
) -> None:
    sentence = "reroute 100 jobs from earth to luna when earth queue exceeds 300 every time"
    scenario.write_text(scenario.read_text() + f"intents:\n  - {sentence}\n")
    straight, split = tmp_path / "straight", tmp_path / "split"
    ran = cli("run", str(scenario), "--storage", str(straight))
    assert ran.exit_code == 1, ran.output  # golden moved
    first = cli("run", str(scenario), "--storage", str(split), "--stop-after-ticks", "37")
    assert first.exit_code == 0, first.output
    resumed = cli("runner", "start", "--storage", str(split))
    assert resumed.exit_code == 1, resumed.output
    events = (straight / "events.ndjson").read_bytes()
    assert (split / "events.ndjson").read_bytes() == events
    fired = [orjson.loads(line) for line in events.splitlines() if b"trigger.fired" in line]
    assert len(fired) >= 2, "the repeating trigger should fire more than once"
    assert {e["data"]["when"] for e in fired} == {"earth queue > 300"}
    replayed = cli("audit", "--replay", "--storage", str(split))
    assert replayed.exit_code == 0, replayed.output


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_plan_predicts_each_shipped_scenario_exactly(path: Path, tmp_path: Path) -> None:
    planned = cli("plan", str(path), "--out", str(tmp_path / "p.json"), "--json")
    assert planned.exit_code == 0, planned.output
    predicted = orjson.loads(planned.stdout)["predicted"]
    ran = cli("run", str(tmp_path / "p.json"), "--storage", str(tmp_path / "s"))
    assert ran.exit_code == 0, ran.output
    summary = orjson.loads((tmp_path / "s" / "summary.json").read_bytes())
    for key in ("status", "tick", "jobs", "spillovers", "head", "events_digest"):
        assert predicted[key] == summary[key], key
    assert predicted["shards"] == summary["shards"]
