"""agijobs apply: any owner command from YAML/JSON, one or a list applied all or none."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from agijobs.cli import app

from ..helpers import cli, file_hashes, owner_events


def apply_stdin(storage: Path, text: str, *args: str) -> object:
    return CliRunner().invoke(
        app, ["apply", "-", "--storage", str(storage), *args], input=text, catch_exceptions=False
    )


def test_one_command_from_a_file_is_applied_at_rest(stopped: Path, tmp_path: Path) -> None:
    command = tmp_path / "pause-luna.yaml"
    command.write_text("{command: shard.pause, shard: luna, reason: maintenance}\n")
    result = cli("apply", str(command), "--actor", "alice", "--storage", str(stopped))
    assert result.exit_code == 0, result.output
    assert result.stdout == "shard.pause: shard luna paused (tick 2, fabric at rest)\n"
    [event] = owner_events(stopped)
    assert event["type"] == "owner.shard.pause"
    assert event["data"]["input"]["actor"] == "alice"
    assert event["data"]["effect"] == {"shard": "luna", "paused": [False, True], "changed": True}


def test_a_list_is_applied_in_order_in_one_tick(stopped: Path) -> None:
    text = """
- {command: shard.register, shard: {id: mars, latency_budget_ms: 400, max_queue: 50}}
- {command: node.register, node: {id: mars.x, shard: mars, slots: 2, skills: [finance]}}
- {command: reroute, from: earth, to: mars, backlog: all}
"""
    result = apply_stdin(stopped, text, "--reason", "open mars", "--json")
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    assert document["command"] == "batch"
    assert [r["event"] for r in document["results"]] == [
        "owner.shard.register",
        "owner.node.register",
        "owner.reroute",
    ]
    assert document["results"][2]["effect"]["moved"] > 0
    events = owner_events(stopped)
    assert {e["tick"] for e in events} == {2}
    assert {e["data"]["input"]["reason"] for e in events} == {"open mars"}


def test_a_list_with_one_bad_command_changes_nothing(stopped: Path) -> None:
    before = file_hashes(stopped)
    text = """
- {command: shard.pause, shard: earth, reason: first}
- {command: node.deregister, node: mars.q, reason: second}
"""
    result = apply_stdin(stopped, text)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: commands -> 1 (node.deregister): node: unknown node `mars.q` — "
        "known: earth.a, earth.b, luna.c\n"
    )
    assert file_hashes(stopped) == before


def test_a_list_with_a_malformed_command_is_refused_before_anything(stopped: Path) -> None:
    before = file_hashes(stopped)
    text = """
- {command: shard.pause, shard: earth, reason: first}
- {command: job.cancel, reason: second}
"""
    result = apply_stdin(stopped, text)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: <stdin>: commands -> 1: give exactly one of `job` (an id) or `locator` — "
        "fix the value(s) named above\n"
    )
    assert file_hashes(stopped) == before


def test_reference_form_commands_are_accepted(stopped: Path) -> None:
    text = '{"type": "job.cancel", "locator": {"kind": "tail", "shard": "earth", "offset": 0}, '
    text += '"reason": "ticket closed"}'
    result = apply_stdin(stopped, text)
    assert result.exit_code == 0, result.output
    [event] = owner_events(stopped)
    assert event["type"] == "owner.job.cancel"
    assert event["data"]["input"]["args"] == {
        "locator": {"kind": "tail", "shard": "earth", "offset": 0, "include_in_flight": False}
    }


def test_a_locator_past_the_end_is_an_error_not_a_clamp(stopped: Path) -> None:
    before = file_hashes(stopped)
    text = "{command: job.cancel, locator: {kind: tail, shard: luna, offset: 3}, reason: r}"
    result = apply_stdin(stopped, text)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: locator -> offset: 3 is past the end of shard `luna`: it has 0 queued job(s) "
        "— the shard has no job to pick\n"
    )
    assert file_hashes(stopped) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{tick: 5, command: pause-all, reason: r}",
            "Error: <stdin>: commands -> 0 -> tick: not allowed here — apply runs commands "
            "now; scheduled commands belong in a scenario\n",
        ),
        (
            "{command: pause-all}",
            "Error: <stdin>: commands -> 0 -> reason: required key is missing — fix the "
            "value(s) named above\n",
        ),
        (
            "{command: shard.pauze, shard: earth, reason: r}",
            "Error: <stdin>: commands -> 0 -> command: unknown command `shard.pauze`; did you "
            "mean `shard.pause`?",
        ),
        (
            '{"type": "shard.pauze", "shard": "earth"}',
            "Error: <stdin>: commands -> 0 -> type: unknown command type `shard.pauze`; did you "
            "mean `shard.pause`?",
        ),
        ("[]", "Error: <stdin>: expected a command, a list of commands or {commands: [...]}"),
    ],
)
def test_bad_apply_documents_exit_2(stopped: Path, text: str, message: str) -> None:
    before = file_hashes(stopped)
    result = apply_stdin(stopped, text)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message)
    assert file_hashes(stopped) == before


def test_apply_without_a_run_is_a_conflict(storage: Path) -> None:
    result = apply_stdin(storage, "{command: pause-all, reason: r}")
    assert result.exit_code == 4, result.output


def test_the_help_names_every_owner_command_once() -> None:
    """The vocabulary is the fabric's; `apply --help` lists it (it once missed one)."""
    from agijobs.cli.owner import apply
    from agijobs.fabric.commands import COMMAND_NAMES

    listed = re.search(
        r"Any of the (\d+) owner commands \(([^)]*)\)", " ".join(apply.__doc__.split())
    )
    assert listed is not None, apply.__doc__
    assert int(listed.group(1)) == len(COMMAND_NAMES)
    assert tuple(listed.group(2).split(", ")) == COMMAND_NAMES
