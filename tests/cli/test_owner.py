"""pause-all, reroute, set-latency (and resume's pause lifting): at rest and live."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from ..helpers import cli, file_hashes, holding_lock, owner_events


def test_pause_all_at_rest_then_again_is_idempotent(stopped: Path) -> None:
    first = cli(
        "pause-all", "--reason", "incident 42", "--actor", "alice", "--storage", str(stopped)
    )
    assert first.exit_code == 0, first.output
    assert first.stdout == "pause-all: fabric paused (tick 2, fabric at rest)\n"
    second = cli("pause-all", "--reason", "incident 42", "--storage", str(stopped))
    assert second.exit_code == 0, second.output
    assert second.stdout == "pause-all: already paused (tick 2, fabric at rest)\n"
    event = owner_events(stopped)[0]
    assert event["tick"] == 2
    assert event["data"]["input"]["actor"] == "alice"
    assert event["data"]["input"]["reason"] == "incident 42"
    assert event["data"]["input"]["source"] == "at-rest"
    assert event["data"]["input"]["issued_at"].endswith("Z")
    audited = cli("audit", "--storage", str(stopped))
    assert audited.exit_code == 0, audited.output


def test_resume_lifts_the_pause_at_rest_and_runner_start_runs_to_the_end(stopped: Path) -> None:
    cli("pause-all", "--reason", "hold", "--storage", str(stopped))
    result = cli("resume", "--reason", "all clear", "--storage", str(stopped))
    assert result.exit_code == 0, result.output
    assert result.stdout == "resume: pause lifted (tick 2, fabric at rest)\n"
    commands = [(e["type"], e["data"]["input"]["source"]) for e in owner_events(stopped)]
    assert commands[:2] == [("owner.pause-all", "at-rest"), ("owner.resume", "at-rest")]
    started = cli("runner", "start", "--storage", str(stopped))
    assert started.exit_code == 0, started.output
    assert "finished at tick" in started.stdout


def test_runner_start_leaves_a_pause_in_force(scenario_file: Path, storage: Path) -> None:
    # Stop after the scenario's own pause/resume (ticks 4 and 8) and its last arrival (10).
    cli("run", str(scenario_file), "--storage", str(storage), "--stop-after-ticks", "10")
    cli("pause-all", "--reason", "hold", "--storage", str(storage))
    result = cli("runner", "start", "--storage", str(storage))
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        "paused at tick 11, nothing left to do until the pause is lifted: `agijobs resume "
        "--reason R`, then `agijobs runner start` continues\n"
    )
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert (summary["status"], summary["paused"]) == ("paused", True)
    assert summary["jobs"]["pending"] > 0  # queued behind the pause, nothing in flight
    assert [e["type"] for e in owner_events(storage)][-1] == "owner.pause-all"


def test_set_latency_reports_nodes_that_became_ineligible(stopped: Path) -> None:
    result = cli(
        "set-latency",
        "--shard",
        "earth",
        "--ms",
        "85",
        "--reason",
        "tighten",
        "--storage",
        str(stopped),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "set-latency: budget 120 ms → 85 ms; now over budget: earth.b (tick 2, fabric at rest)\n"
    )


def test_reroute_moves_and_reports(stopped: Path) -> None:
    result = cli(
        "reroute",
        "--from",
        "earth",
        "--to",
        "luna",
        "--backlog",
        "all",
        "--reason",
        "drain",
        "--storage",
        str(stopped),
        "--json",
    )
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    # Each change is named in the output (the event log keeps its [before, after] pair).
    assert document["effect"]["reroute_target"] == {"before": None, "after": "luna"}
    assert document["effect"]["first_target"] == {"before": "luna", "after": "luna"}
    assert document["effect"]["moved"] == 1  # ticks 1-2 brought 6 jobs; 5 are running
    cleared = cli(
        "reroute",
        "--from",
        "earth",
        "--clear",
        "--reason",
        "back to normal",
        "--storage",
        str(stopped),
    )
    assert cleared.exit_code == 0, cleared.output
    assert cleared.stdout.startswith(
        "reroute: reroute to luna cleared; first spillover target now luna"
    )
    again = cli(
        "reroute", "--from", "earth", "--clear", "--reason", "again", "--storage", str(stopped)
    )
    assert again.stdout.startswith(
        "reroute: no reroute in force; configured targets in use (first: luna)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["pause-all", "--reason", "  "],
            "Error: --reason: must not be empty — say why, e.g. --reason 'incident 42'\n",
        ),
        (
            ["set-latency", "--shard", "earthh", "--ms", "100", "--reason", "r"],
            "Error: --shard: unknown shard `earthh` — did you mean `earth`?\n",
        ),
        (
            ["set-latency", "--shard", "earth", "--ms", "0", "--reason", "r"],
            "Error: --ms: Input should be greater than 0 (got 0) — see `agijobs set-latency "
            "--help`\n",
        ),
        (
            ["set-latency", "--shard", "earth", "--ms", "1000000000", "--reason", "r"],
            "Error: --ms: Input should be less than or equal to 3600000 (got 1000000000) — see "
            "`agijobs set-latency --help`\n",
        ),
        (
            ["reroute", "--from", "earth", "--reason", "r"],
            "Error: reroute needs --to (or --clear) — see `agijobs reroute --help`\n",
        ),
        (
            ["reroute", "--from", "earth", "--to", "earth", "--reason", "r"],
            "Error: --to must differ from --from — see `agijobs reroute --help`\n",
        ),
        (
            ["reroute", "--from", "earth", "--to", "venus", "--reason", "r"],
            "Error: --to: unknown shard `venus` — known: earth, luna\n",
        ),
        (
            ["reroute", "--from", "earth", "--to", "luna", "--backlog", "lots", "--reason", "r"],
            "Error: --backlog: expected 'all' or a whole number of jobs, 0 or more (got 'lots') "
            "— e.g. --backlog 500\n",
        ),
        (
            ["reroute", "--from", "earth", "--to", "luna", "--job", "nope", "--reason", "r"],
            "Error: --job: no queued or running job `nope` — ids look like "
            "`earth-finance-000042`; a completed, failed or cancelled job cannot change\n",
        ),
    ],
)
def test_invalid_commands_exit_2_and_change_nothing(
    stopped: Path, args: list[str], message: str
) -> None:
    before = file_hashes(stopped)
    result = cli(*args, "--storage", str(stopped))
    assert result.exit_code == 2, result.output
    assert result.stderr == message
    assert file_hashes(stopped) == before


def test_missing_reason_is_a_usage_error_with_json_too(stopped: Path) -> None:
    result = cli("pause-all", "--storage", str(stopped))
    assert result.exit_code == 2, result.output
    assert "Missing option '--reason'" in result.stderr


def test_commands_on_no_run_or_a_finished_run_exit_4(scenario_file: Path, storage: Path) -> None:
    result = cli("pause-all", "--reason", "r", "--storage", str(storage))
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: storage {storage} does not exist — check --storage (or AGIJOBS_STORAGE); "
        "`agijobs run SCENARIO --storage PATH` creates one\n"
    )
    ran = cli("run", str(scenario_file), "--storage", str(storage))
    assert ran.exit_code == 0, ran.output
    before = file_hashes(storage)
    result = cli("pause-all", "--reason", "r", "--storage", str(storage), "--json")
    assert result.exit_code == 4, result.output
    error = orjson.loads(result.stdout)["error"]
    assert error["code"] == "conflict"
    assert error["message"].startswith(f"the run in {storage} finished at tick")
    assert file_hashes(storage) == before
    resumed = cli("runner", "start", "--storage", str(storage))
    assert resumed.exit_code == 4, resumed.output
    assert "finished at tick" in resumed.stderr and "nothing to continue" in resumed.stderr


def test_live_runner_that_does_not_acknowledge_gives_exit_6_and_keeps_the_command(
    stopped: Path,
) -> None:
    """A 'runner' that holds the lock but never reads its inbox."""
    (stopped / "run.json").write_bytes(
        orjson.dumps({"run_id": "x", "pid": os.getpid(), "role": "runner"})
    )
    with holding_lock(stopped / "run.lock"):
        result = cli("pause-all", "--reason", "r", "--timeout", "0.2", "--storage", str(stopped))
    assert result.exit_code == 6, result.output
    assert "did not acknowledge pause-all within 0.2s" in result.stderr
    pending = list((stopped / "inbox" / "pending").glob("*.json"))
    assert len(pending) == 1
    # The next runner takes it: it applies it at its first tick.
    resumed = cli("runner", "start", "--storage", str(stopped))
    assert resumed.exit_code == 0, resumed.output
    live = [e for e in owner_events(stopped) if e["data"]["input"]["source"] == "live"]
    assert [(e["type"], e["tick"]) for e in live] == [("owner.pause-all", 3)]
    assert not list((stopped / "inbox" / "pending").glob("*.json"))


def test_golden_digest_is_not_checked_once_an_owner_intervened(storage: Path) -> None:
    scenario = Path(__file__).parents[2] / "scenarios" / "incident-pause.yaml"
    cli("run", str(scenario), "--storage", str(storage), "--stop-after-ticks", "10")
    cli("pause-all", "--reason", "drill", "--storage", str(storage))
    lifted = cli("resume", "--reason", "drill over", "--storage", str(storage))
    assert lifted.exit_code == 0, lifted.output
    result = cli("runner", "start", "--storage", str(storage))
    assert result.exit_code == 0, result.output
    assert (
        "events_digest not checked: 2 owner command(s) came from outside the scenario's schedule"
    ) in result.stdout
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert summary["expect"]["held"] is True
    assert summary["outside_commands"] == 2
