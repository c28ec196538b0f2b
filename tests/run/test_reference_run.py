"""The reference demo's four files, unchanged, run end to end; and the migration round trip."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from agijobs.run.planning import make_plan

from ..helpers import cli, scenario_dict, write_scenario

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reference"
MISSION = FIXTURES / "mission-plan.example.json"
SCHEDULED = [
    (90, "owner.shard.register"),
    (120, "owner.pause-all"),
    (150, "owner.resume"),
    (155, "owner.shard.update"),
    (180, "owner.node.register"),
    (220, "owner.checkpoint.save"),
    (260, "owner.checkpoint.configure"),
    (270, "owner.reporting.configure"),
    (280, "owner.job.reroute"),
    (285, "owner.job.cancel"),
    (300, "owner.shard.deregister"),
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mission plan run as an operator would: it stops at run.stopAfterTicks (240),
    `agijobs runner start` takes it to the end."""
    storage = tmp_path_factory.mktemp("reference") / "storage"
    first = cli("run", str(MISSION), "--storage", str(storage))
    assert first.exit_code == 0, first.output
    assert "stopped at tick 240 (stop-after-ticks)" in first.stdout
    second = cli("runner", "start", "--storage", str(storage))
    assert second.exit_code == 0, second.output
    return storage


def events_of(storage: Path) -> list[dict]:
    return [orjson.loads(line) for line in (storage / "events.ndjson").read_bytes().splitlines()]


def test_every_scheduled_command_is_applied_at_its_tick(finished: Path) -> None:
    owner = [(e["tick"], e["type"]) for e in events_of(finished) if e["type"].startswith("owner.")]
    assert owner == SCHEDULED


def test_every_job_is_completed_or_accounted_for(finished: Path) -> None:
    summary = orjson.loads((finished / "summary.json").read_bytes())
    assert summary["status"] == "finished"
    jobs = summary["jobs"]
    assert jobs["submitted"] == 5800
    assert jobs["pending"] == 0 and jobs["failed"] == 0
    assert jobs["completed"] + jobs["cancelled"] == 5800
    assert jobs["cancelled"] == 1  # job.cancel at tick 285: cancelled only, not also failed
    cancelled = [e for e in events_of(finished) if e["type"] == "job.cancelled"]
    assert len(cancelled) == 1


def test_no_job_bounces_between_shards(finished: Path) -> None:
    path: dict[str, list[str]] = defaultdict(list)
    for event in events_of(finished):
        if event["type"] == "job.submitted":
            path[event["data"]["job"]].append(event["data"]["shard"])
        elif event["type"] == "job.spilled":
            path[event["data"]["job"]].append(event["data"]["to"])
    assert len(path) == 5800
    revisits = {job: shards for job, shards in path.items() if len(shards) != len(set(shards))}
    assert revisits == {}


def test_the_escalation_to_a_shard_that_cannot_serve_leaves_the_job_in_place(
    finished: Path,
) -> None:
    [reroute] = [e for e in events_of(finished) if e["type"] == "owner.job.reroute"]
    effect = reroute["data"]["effect"]
    assert (effect["from"], effect["to"], effect["moved"], effect["left_unservable"]) == (
        "mars",
        "helios",
        0,
        1,
    )


def test_audit_verifies_chain_checkpoint_and_conservation(finished: Path) -> None:
    result = cli("audit", "--replay", "--storage", str(finished), "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["conservation"]["holds"] is True
    assert report["replay"]["matches"] is True


def test_run_and_resume_give_the_bytes_the_plan_predicted(finished: Path, tmp_path: Path) -> None:
    plan = make_plan(MISSION, tmp_path / "plan.json")
    summary = orjson.loads((finished / "summary.json").read_bytes())
    assert summary["events_digest"] == plan["predicted"]["events_digest"]
    assert summary["tick"] == plan["predicted"]["tick"]


def test_outputs_stay_inside_storage_and_the_ignored_paths_are_named(tmp_path: Path) -> None:
    result = cli("plan", str(MISSION), "--storage", str(tmp_path / "s"))
    assert result.exit_code == 0, result.output
    assert (
        f"Notice: {MISSION}: run -> checkpoint -> path: ignored; agijobs keeps checkpoints "
        "inside --storage.\n" in result.stderr
    )
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["plan.json"]


def test_migration_round_trip_gives_the_same_plan(tmp_path: Path) -> None:
    emitted = tmp_path / "mission.yaml"
    original = make_plan(MISSION, tmp_path / "a.json", emit_scenario=emitted)
    migrated = make_plan(emitted, tmp_path / "b.json")
    assert migrated["notices"] == []
    assert migrated["plan_id"] == original["plan_id"]
    assert migrated["predicted"] == original["predicted"]


def test_a_fabric_config_runs_with_its_blueprint(tmp_path: Path) -> None:
    result = cli(
        "plan",
        str(FIXTURES / "fabric.example.json"),
        "--blueprint",
        str(FIXTURES / "jobs.blueprint.example.json"),
        "--storage",
        str(tmp_path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    predicted = orjson.loads(result.stdout)["predicted"]
    assert predicted["jobs"]["submitted"] == predicted["jobs"]["completed"] == 5800


def test_a_locator_past_the_end_in_the_reference_schedule_is_refused_at_plan_time(
    tmp_path: Path,
) -> None:
    # Without the mission plan's GPU outage, earth has drained by tick 285, so the
    # reference's "cancel the 5th job from earth's tail" has no job to pick: the reference
    # clamped silently; agijobs names the entry before anything runs.
    result = cli(
        "plan",
        str(FIXTURES / "fabric.example.json"),
        "--blueprint",
        str(FIXTURES / "jobs.blueprint.example.json"),
        "--owner-commands",
        str(FIXTURES / "owner-commands.example.json"),
        "--storage",
        str(tmp_path / "s"),
    )
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {FIXTURES / 'owner-commands.example.json'}: commands -> 9: at tick 285 it "
        "would be refused: locator -> offset: 4 is past the end of shard `earth`: it has 0 "
        "queued or running job(s) — the shard has no job to pick — fix or remove the entries "
        "named above\n"
    )
    assert not (tmp_path / "s").exists()


def test_reference_options_only_go_with_a_fabric_config(tmp_path: Path) -> None:
    result = cli("plan", str(MISSION), "--blueprint", str(FIXTURES / "jobs.blueprint.example.json"))
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: --blueprint: only for a reference fabric config; {MISSION} is a reference "
        "mission plan — drop the option (a mission plan names its blueprint and commands "
        "itself)\n"
    )


def test_plan_refuses_a_schedule_entry_the_dry_run_rejects(tmp_path: Path) -> None:
    entry = {
        "tick": 2,
        "command": "job.cancel",
        "locator": {"kind": "tail", "shard": "luna", "offset": 7},
        "reason": "r",
    }
    path = write_scenario(tmp_path / "s.yaml", scenario_dict(schedule=[entry]))
    result = cli("plan", str(path), "--storage", str(tmp_path / "st"))
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {path}: schedule -> 0: at tick 2 it would be refused: locator -> offset: 7 is "
        "past the end of shard `luna`: it has 0 queued job(s) — the shard has no job to pick "
        "— fix or remove the entries named above\n"
    )
    assert not (tmp_path / "st").exists()
    # `run` never aborts mid-way: the entry is recorded as refused and the run goes on.
    run = cli("run", str(path), "--storage", str(tmp_path / "st"))
    assert run.exit_code == 0, run.output
    rejected = [e for e in events_of(tmp_path / "st") if e["type"] == "owner.rejected"]
    assert [e["tick"] for e in rejected] == [2]
