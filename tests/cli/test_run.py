from __future__ import annotations

from pathlib import Path

import orjson

from ..helpers import cli, file_hashes, holding_lock, scenario_dict, sha, write_scenario


def test_run_finishes_and_prints_the_outcome(scenario_file: Path, storage: Path) -> None:
    result = cli("run", str(scenario_file), "--storage", str(storage))
    assert result.exit_code == 0, result.output
    assert "jobs: 30 completed, 0 failed, 0 cancelled, 0 pending (of 30 planned)" in result.stdout
    assert "governance actions: 2" in result.stdout
    assert "finished at tick" in result.stdout
    assert "expectations held" in result.stdout
    for name in (
        "events.ndjson",
        "checkpoint.json",
        "summary.json",
        "sessions.ndjson",
        "run-plan.json",
        "run.json",
    ):
        assert (storage / name).exists(), name


def test_run_json_is_one_document_with_the_summary(scenario_file: Path, storage: Path) -> None:
    result = cli("run", str(scenario_file), "--storage", str(storage), "--json")
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    assert summary["status"] == "finished"
    assert summary["events_digest"] == sha(storage / "events.ndjson")
    assert summary["expect"] == {"held": True, "failures": [], "skipped": []}


def test_same_scenario_twice_gives_identical_bytes(scenario_file: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        ran = cli("run", str(scenario_file), "--storage", str(tmp_path / name))
        assert ran.exit_code == 0, ran.output
    for name in ("events.ndjson", "checkpoint.json", "summary.json"):
        assert sha(tmp_path / "a" / name) == sha(tmp_path / "b" / name)


def test_run_refuses_a_storage_holding_another_run(scenario_file: Path, storage: Path) -> None:
    ran = cli("run", str(scenario_file), "--storage", str(storage))
    assert ran.exit_code == 0, ran.output
    run_id = orjson.loads((storage / "run.json").read_bytes())["run_id"]
    before = file_hashes(storage)
    result = cli("run", str(scenario_file), "--storage", str(storage))
    assert result.exit_code == 4, result.output
    tick = orjson.loads((storage / "summary.json").read_bytes())["tick"]
    assert result.stderr == (  # finished: nothing to resume, so the hint names what works
        f"Error: storage {storage} holds run {run_id}, which finished at tick {tick} — start "
        "over with `agijobs run SCENARIO --fresh` (moves it to archive/), or prove it with "
        "`agijobs audit`\n"
    )
    assert file_hashes(storage) == before


def test_run_on_a_stopped_run_suggests_resume(scenario_file: Path, stopped: Path) -> None:
    run_id = orjson.loads((stopped / "run.json").read_bytes())["run_id"]
    result = cli("run", str(scenario_file), "--storage", str(stopped))
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: storage {stopped} holds run {run_id} — continue it with `agijobs resume`, "
        "or start over with `--fresh` (moves it to archive/)\n"
    )


def test_fresh_archives_the_previous_run(scenario_file: Path, storage: Path) -> None:
    ran = cli("run", str(scenario_file), "--storage", str(storage))
    assert ran.exit_code == 0, ran.output
    run_id = orjson.loads((storage / "run.json").read_bytes())["run_id"]
    first = sha(storage / "events.ndjson")
    result = cli("run", str(scenario_file), "--storage", str(storage), "--fresh")
    assert result.exit_code == 0, result.output
    assert sha(storage / "archive" / run_id / "events.ndjson") == first
    assert sha(storage / "events.ndjson") == first  # same inputs, same bytes


def test_run_refuses_a_lock_file_that_is_a_link(
    scenario_file: Path, storage: Path, tmp_path: Path
) -> None:
    storage.mkdir()
    elsewhere = tmp_path / "elsewhere.lock"
    (storage / "run.lock").symlink_to(elsewhere)
    result = cli("run", str(scenario_file), "--storage", str(storage))
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith(f"Error: storage error ({storage / 'run.lock'})")
    assert not elsewhere.exists() and not (storage / "events.ndjson").exists()


def test_run_refuses_a_storage_in_use(scenario_file: Path, storage: Path) -> None:
    storage.mkdir()
    with holding_lock(storage / "run.lock"):
        result = cli("run", str(scenario_file), "--storage", str(storage))
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith(
        f"Error: storage {storage} is in use by another agijobs process"
    )
    assert not (storage / "events.ndjson").exists()


def test_failed_expectations_exit_1(tmp_path: Path, storage: Path) -> None:
    data = scenario_dict(
        workload=[
            {"prefix": "q", "shard": "earth", "skills": ["quantum"], "count": 2, "duration": 1}
        ],
        expect={"max_failed_ratio": 0.0},
    )
    data["fabric"]["nodes"] = [n for n in data["fabric"]["nodes"] if n["id"] != "luna.c"]
    result = cli("run", str(write_scenario(tmp_path / "s.yaml", data)), "--storage", str(storage))
    assert result.exit_code == 1, result.output
    assert "expectation failed: failed ratio 1.0000 > max_failed_ratio 0.0" in result.stderr


def test_golden_digest_mismatch_fails_the_run(tmp_path: Path, storage: Path) -> None:
    data = scenario_dict(expect={"events_digest": "0" * 64})
    result = cli("run", str(write_scenario(tmp_path / "s.yaml", data)), "--storage", str(storage))
    assert result.exit_code == 1, result.output
    assert f"events_digest {sha(storage / 'events.ndjson')} != expected {'0' * 64}" in (
        result.stderr
    )


def test_bad_scenario_exits_2_and_writes_nothing(tmp_path: Path, storage: Path) -> None:
    data = scenario_dict()
    data["fabric"]["shards"][1]["max_queue"] = -5
    path = write_scenario(tmp_path / "bad.yaml", data)
    result = cli("run", str(path), "--storage", str(storage))
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {path}: fabric -> shards -> 1 -> max_queue: Input should be greater than 0 "
        "(got -5) — fix the value(s) named above\n"
    )
    assert not storage.exists()


def test_stop_after_ticks_then_resume_equals_uninterrupted(
    scenario_file: Path, tmp_path: Path
) -> None:
    whole, pieces = tmp_path / "whole", tmp_path / "pieces"
    ran = cli("run", str(scenario_file), "--storage", str(whole))
    assert ran.exit_code == 0, ran.output
    stopped = cli("run", str(scenario_file), "--storage", str(pieces), "--stop-after-ticks", "6")
    assert stopped.exit_code == 0, stopped.output
    assert "stopped at tick 6 (stop-after-ticks); agijobs resume continues" in stopped.stdout
    resumed = cli("resume", "--storage", str(pieces), "--keep-paused")
    assert resumed.exit_code == 0, resumed.output
    for name in ("events.ndjson", "checkpoint.json", "summary.json"):
        assert sha(whole / name) == sha(pieces / name), name


def test_run_of_a_plan_file_matches_run_of_its_scenario(
    scenario_file: Path, tmp_path: Path
) -> None:
    plan_path = tmp_path / "plan.json"
    planned = cli("plan", str(scenario_file), "--out", str(plan_path))
    assert planned.exit_code == 0, planned.output
    from_plan = cli("run", str(plan_path), "--storage", str(tmp_path / "p"))
    assert from_plan.exit_code == 0, from_plan.output
    from_scenario = cli("run", str(scenario_file), "--storage", str(tmp_path / "s"))
    assert from_scenario.exit_code == 0, from_scenario.output
    for name in ("events.ndjson", "checkpoint.json"):
        assert sha(tmp_path / "p" / name) == sha(tmp_path / "s" / name)
