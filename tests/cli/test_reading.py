from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ..helpers import cli


def test_status_of_an_empty_storage(storage: Path) -> None:
    storage.mkdir()  # one that does not exist is an error (below)
    result = cli("status", "--storage", str(storage))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"no run in {storage}\n"


def test_status_after_stop_and_finish(scenario_file: Path, storage: Path) -> None:
    cli("run", str(scenario_file), "--storage", str(storage), "--stop-after-ticks", "5")
    report = orjson.loads(cli("status", "--storage", str(storage), "--json").stdout)
    assert (report["state"], report["tick"], report["paused"]) == ("paused", 5, True)
    earth = next(s for s in report["shards"] if s["id"] == "earth")
    assert earth["budget_ms"] == 120
    assert report["checkpoint"]["tick"] == 5
    cli("runner", "start", "--storage", str(storage))
    human = cli("status", "--storage", str(storage))
    assert human.exit_code == 0, human.output
    assert human.stdout.startswith("unit: finished at tick")
    assert "chain head: " in human.stdout


def test_status_reports_a_crashed_run(scenario_file: Path, storage: Path) -> None:
    cli("run", str(scenario_file), "--storage", str(storage), "--stop-after-ticks", "5")
    sessions = storage / "sessions.ndjson"
    sessions.write_bytes(
        sessions.read_bytes()
        + orjson.dumps({"event": "resumed", "pid": 999999, "tick": 5, "at": "x"})
        + b"\n"
    )
    report = orjson.loads(cli("status", "--storage", str(storage), "--json").stdout)
    assert report["state"] == "crashed"


def test_audit_prints_the_governance_timeline(scenario_file: Path, storage: Path) -> None:
    cli("run", str(scenario_file), "--storage", str(storage))
    result = cli("audit", "--storage", str(storage), "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert [
        (g["tick"], g["command"], g["actor"], g["reason"], g["effect"]["changed"])
        for g in report["governance"]
    ] == [
        (4, "pause-all", "Owner", "drill", True),
        (8, "resume", "Owner", "drill over", True),
    ]
    assert report["conservation"]["holds"] is True
    human = cli("audit", "--storage", str(storage), "--replay")
    assert human.exit_code == 0, human.output
    assert "pause-all" in human.stdout and "drill over" in human.stdout
    assert "proved: events 1-" in human.stdout


def test_recorded_text_is_shown_as_written_never_obeyed(stopped: Path) -> None:
    # Brackets are text: Rich must neither style "[blink]" nor fail on "[/bold]".
    given = cli(
        "pause-all", "--reason", "[/bold] closing tag", "--actor", "[blink]ops", "--storage",
        str(stopped),
    )  # fmt: skip
    assert given.exit_code == 0, given.output
    # Text recorded before control characters were refused at input (or written by hand):
    # the audit shows each one escaped, and the terminal receives none.
    from agijobs.run.delivery import issue_command
    from agijobs.store import open_store

    audit = cli("audit", "--storage", str(stopped)).stdout
    assert "[/bold] closing tag" in audit and "[blink]ops" in audit
    issue_command(open_store(str(stopped)), "resume", {}, "x\x1b[2Jy\u202e", "ops\x9b", 5.0)
    status = cli("status", "--storage", str(stopped))
    assert status.exit_code == 0, status.output
    assert not any(c in status.stdout for c in "\x1b\x9b\u202e")
    # The audit re-applies recorded commands only as the command line would have sent them:
    # it refuses this one, naming it, and prints no control character either.
    refused = cli("audit", "--storage", str(stopped))
    assert refused.exit_code == 3, refused.output
    assert "data -> input -> reason: contains the control character \\x1b" in refused.stderr
    assert not any(c in refused.stderr for c in "\x1b\x9b\u202e")


def test_version_prints_the_package_version() -> None:
    from agijobs import __version__

    result = cli("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"agijobs {__version__}\n"


@pytest.mark.parametrize("command", [["status"], ["audit"], ["pause-all", "--reason", "x"]])
def test_a_storage_that_does_not_exist_is_named_not_taken_for_an_empty_one(
    tmp_path: Path, command: list[str]
) -> None:
    typo = tmp_path / "storag"
    result = cli(*command, "--storage", str(typo))
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: storage {typo} does not exist — check --storage (or AGIJOBS_STORAGE); "
        "`agijobs run SCENARIO --storage PATH` creates one\n"
    )
    assert not typo.exists()
    as_json = cli(*command, "--storage", str(typo), "--json")
    assert as_json.exit_code == 4, as_json.output
    assert orjson.loads(as_json.stdout)["error"]["message"].startswith(f"storage {typo} does not")
    empty = tmp_path / "empty"
    empty.mkdir()
    if command == ["status"]:  # an empty storage is a fabric with no run yet
        assert cli("status", "--storage", str(empty)).stdout == f"no run in {empty}\n"
