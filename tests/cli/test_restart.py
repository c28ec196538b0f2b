"""`runner start` restarts a runner and never changes the fabric; `resume` only lifts the
pause, as an owner command; `status` always says who paused, since when and why; with
--json every command prints exactly one document, refusals included."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ..helpers import cli, file_hashes, long_scenario, start, wait_for
from .keyed import events


def status_json(storage: Path) -> dict:
    result = cli("status", "--storage", str(storage), "--json")
    assert result.exit_code == 0, result.output
    return dict(orjson.loads(result.stdout))


def test_status_says_who_paused_the_fabric_since_when_and_why(stopped: Path) -> None:
    assert status_json(stopped)["pause"] is None
    cli("pause-all", "--reason", "INC-9: hold", "--actor", "alice", "--storage", str(stopped))
    again = cli("pause-all", "--reason", "again", "--actor", "bob", "--storage", str(stopped))
    assert again.exit_code == 0, again.output
    report = status_json(stopped)
    pause = report["pause"]
    issued = events(stopped)[-2]["data"]["input"]["issued_at"]
    assert pause == {
        "tick": 2,
        "command": "pause-all",
        "actor": "alice",  # pausing again changes nothing, not even who paused
        "reason": "INC-9: hold",
        "source": "at-rest",
        "issued_at": issued,
    }
    assert [s["pause"] for s in report["shards"]] == [None] * len(report["shards"])
    text = cli("status", "--storage", str(stopped))
    assert text.stdout.splitlines()[1:3] == [
        f"fabric paused since tick 2 by alice (at-rest, issued {issued}): INC-9: hold",
        "  lifting it is an owner action: agijobs resume --reason '…'",
    ]
    lifted = cli("resume", "--reason", "INC-9 over", "--storage", str(stopped))
    assert lifted.exit_code == 0, lifted.output
    assert status_json(stopped)["pause"] is None
    assert "paused since" not in cli("status", "--storage", str(stopped)).stdout


def test_status_says_who_paused_a_shard(stopped: Path, tmp_path: Path) -> None:
    command = tmp_path / "pause.yaml"
    command.write_text("{command: shard.pause, shard: earth, reason: 'CHG-1: maintenance'}\n")
    applied = cli("apply", str(command), "--actor", "carol", "--storage", str(stopped))
    assert applied.exit_code == 0, applied.output
    report = status_json(stopped)
    assert report["pause"] is None
    earth = next(s for s in report["shards"] if s["id"] == "earth")
    assert (earth["pause"]["actor"], earth["pause"]["reason"]) == ("carol", "CHG-1: maintenance")
    assert (earth["pause"]["command"], earth["pause"]["tick"]) == ("shard.pause", 2)
    text = cli("status", "--storage", str(stopped)).stdout
    assert "shard earth paused since tick 2 by carol (at-rest, issued " in text


def test_a_scheduled_pause_shows_its_schedule_entry(scenario_file: Path, storage: Path) -> None:
    # The conftest scenario pauses at tick 4 (schedule) and lifts it at 8.
    cli("run", str(scenario_file), "--storage", str(storage), "--stop-after-ticks", "6")
    pause = status_json(storage)["pause"]
    assert (pause["tick"], pause["source"], pause["issued_at"]) == (4, "schedule", None)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--keep-paused"],
            "Error: --keep-paused: resume no longer restarts the runner — restart it with "
            "`agijobs runner start` (a pause in force stays in force)\n",
        ),
        (
            ["--reason", "r", "--stop-after-ticks", "5"],
            "Error: --stop-after-ticks: a runner option; resume no longer restarts the runner "
            "— restart it with `agijobs runner start --stop-after-ticks …` (a pause in force "
            "stays in force); `agijobs resume --reason R` only lifts the pause\n",
        ),
        (
            ["--reason", "r", "--witness", "w.ndjson"],
            "Error: --witness: a runner option; resume no longer restarts the runner — restart "
            "it with `agijobs runner start --witness …` (a pause in force stays in force); "
            "`agijobs resume --reason R` only lifts the pause\n",
        ),
        (
            [],
            "Error: --reason: missing; resume lifts the fabric's pause, an owner action that "
            "is recorded — say why, e.g. --reason 'INC-4711: batch cleared'; to restart a "
            "stopped or crashed runner (the pause staying in force), use `agijobs runner "
            "start`\n",
        ),
    ],
)
def test_resume_refuses_to_be_the_runner(stopped: Path, extra: list[str], message: str) -> None:
    cli("pause-all", "--reason", "hold", "--storage", str(stopped))
    before = file_hashes(stopped)
    result = cli("resume", *extra, "--storage", str(stopped))
    assert result.exit_code == 2, result.output
    assert (result.stdout, result.stderr) == ("", message)
    assert file_hashes(stopped) == before


def test_every_retired_runner_option_of_resume_is_hidden_and_refused(stopped: Path) -> None:
    assert "--keep-paused" not in cli("resume", "--help").stdout
    for option in (
        ["--keep-paused"],
        ["--stop-after-ticks", "1"],
        ["--tick-ms", "0"],
        ["--wait"],
        ["--executor", "inprocess"],
        ["--bridge", "node b.mjs"],
        ["--bridge-timeout", "1"],
        ["--runner-key", "runner"],
        ["--witness", "w"],
    ):
        result = cli("resume", "--reason", "r", *option, "--storage", str(stopped), "--json")
        assert result.exit_code == 2, (option, result.output)
        error = orjson.loads(result.stdout)["error"]
        assert error["message"].startswith(f"{option[0]}: "), error


def test_runner_options_in_the_environment_do_not_make_resume_refuse(
    stopped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGIJOBS_EXECUTOR", "bridge")
    monkeypatch.setenv("AGIJOBS_WITNESS", "/nonexistent/w.ndjson")
    cli("pause-all", "--reason", "hold", "--storage", str(stopped))
    result = cli("resume", "--reason", "go", "--storage", str(stopped))
    assert result.exit_code == 0, result.output
    assert result.stdout == "resume: pause lifted (tick 2, fabric at rest)\n"


def test_resume_refused_by_owner_authority_prints_only_the_error(at_rest: Path) -> None:
    """On a keyed fabric an unsigned resume is refused (exit 5) and recorded: one JSON
    document, the error; in text, nothing on stdout."""
    result = cli("resume", "--reason", "go", "--storage", str(at_rest), "--json")
    assert result.exit_code == 5, result.output
    document = orjson.loads(result.stdout)  # a second document would not parse
    assert (document["kind"], document["error"]["code"]) == ("Error", "refused")
    text = cli("resume", "--reason", "go", "--storage", str(at_rest))
    assert text.exit_code == 5, text.output
    assert text.stdout == ""
    assert text.stderr.startswith("Error: resume is not signed")
    assert [e["type"] for e in events(at_rest)[-2:]] == ["governance.refused"] * 2
    assert status_json(at_rest)["paused"] is True


def test_a_restart_of_a_keyed_fabric_leaves_its_pause_and_signs_nothing_new(
    at_rest: Path,
) -> None:
    pause = status_json(at_rest)["pause"]
    (at_rest / "summary.json").unlink()  # as if it died writing its summary
    started = cli("runner", "start", "--storage", str(at_rest), "--json")
    assert started.exit_code == 0, started.output
    outcome = orjson.loads(started.stdout)
    assert (outcome["kind"], outcome["status"], outcome["paused"]) == ("RunOutcome", "paused", True)
    assert status_json(at_rest)["pause"] == pause
    assert not [e for e in events(at_rest) if e["type"].startswith("owner.resume")]


# Each command, made to fail (a storage that does not exist, or a missing file): with
# --json, stdout holds one JSON document, the error, and nothing else.
FAILING = [
    ["plan", "--from-storage", "--intent", "pause all shards now"],
    ["plan", "missing.yaml"],
    ["run", "missing.yaml"],
    ["runner", "start"],
    ["pause-all", "--reason", "r"],
    ["resume", "--reason", "r"],
    ["resume", "--keep-paused"],
    ["reroute", "--from", "earth", "--to", "luna", "--reason", "r"],
    ["set-latency", "--shard", "earth", "--ms", "90", "--reason", "r"],
    ["apply", "missing.yaml"],
    ["approve", "p-1"],
    ["status"],
    ["status", "--watch"],
    ["audit"],
    ["keys", "show", "nobody-at-all"],
    ["export", "elsewhere"],
    ["import", "elsewhere"],
    ["pause-all"],  # a usage error: --reason missing
]


@pytest.mark.parametrize("argv", FAILING, ids=" ".join)
def test_every_refusal_is_one_json_document(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGIJOBS_KEY_DIR", str(tmp_path / "keys"))
    storage = [] if argv[0] == "keys" else ["--storage", str(tmp_path / "nowhere")]
    result = cli(*argv, *storage, "--json")
    if argv == ["pause-all"]:  # Typer's usage errors: main() makes them a document
        from ..helpers import agijobs

        child = agijobs(*argv, *storage, "--json")
        result_code, stdout = child.returncode, child.stdout
    else:
        result_code, stdout = result.exit_code, result.stdout
    assert result_code != 0, stdout
    document = orjson.loads(stdout)
    assert document["kind"] == "Error", document
    assert document["error"]["exit_code"] == result_code
    assert not (tmp_path / "nowhere").exists()


def test_status_after_a_crash_shows_a_live_pause_the_checkpoint_does_not_hold_yet(
    tmp_path: Path,
) -> None:
    """A pause acknowledged live, then the runner killed before its next checkpoint: the
    checkpoint's state is not paused, but the pause is in force (the journal holds it and
    `runner start` applies it again at its tick), so status says so."""
    # Jobs that stay in flight: a paused runner is never idle, so it writes no checkpoint.
    scenario = long_scenario(
        tmp_path / "long.yaml", duration=50, run={"max_ticks": 5000, "checkpoint_every": 4000}
    )
    storage = tmp_path / "storage"
    runner = start("run", str(scenario), "--storage", str(storage), "--tick-ms", "50", "--wait")
    try:
        wait_for(storage / "live.json")
        paused = cli("pause-all", "--reason", "INC-1: hold", "--actor", "alice",
                     "--timeout", "60", "--storage", str(storage), "--json")  # fmt: skip
        assert paused.exit_code == 0, paused.output
        tick = orjson.loads(paused.stdout)["tick"]
    finally:
        runner.kill()  # SIGKILL: no checkpoint, no session record
        runner.wait()
    report = status_json(storage)
    assert report["state"] == "crashed" and report["paused"] is False
    assert report["acknowledged"] == [
        {"command": "pause-all", "tick": tick, "actor": "alice", "reason": "INC-1: hold"}
    ]
    assert (
        "acknowledged after the checkpoint (in force; `agijobs runner start` applies it again "
        f"at tick {tick}): pause-all by alice — INC-1: hold"
    ) in cli("status", "--storage", str(storage)).stdout.splitlines()
