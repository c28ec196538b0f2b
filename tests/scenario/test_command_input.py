"""`check_issued`: a command as `agijobs` issues it to a live runner passes, whatever the
command line or a scenario produced; anything else is named by its field, in the words the
command line's own validation uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agijobs.errors import BadInput
from agijobs.scenario.command_input import check_issued, commands_from_document
from agijobs.scenario.loading import load_plan

ROOT = Path(__file__).parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
APPLY_DOCUMENTS = [
    ROOT / "tests" / "fixtures" / "reference" / "owner-commands.example.json",
    ROOT / "docs" / "examples" / "mars-maintenance.yaml",
]
# The commands neither a shipped scenario nor an example document issues.
REST = """
commands:
  - {command: shard.resume, shard: mars}
  - {command: node.deregister, node: mars.gpu-helion}
  - {command: governance.update, approvals: {default: 2}, operator_may: [pause-all]}
  - command: node.register
    node: {id: n9, shard: mars, slots: 2, skills: [gpu], price_per_job: 1.5, metadata: {a: [1]}}
  - {command: reroute, from: earth, clear: true}
  - {command: job.cancel, locator: {kind: tail, shard: earth, offset: 0}}
"""


def issued(name: str, args: dict[str, Any], reason: str = "why", **changes: Any) -> dict[str, Any]:
    """A command as `run.delivery` writes it into an inbox (the store adds the id)."""
    raw = {
        "command": name,
        "args": args,
        "reason": reason,
        "actor": "op",
        "issued_at": "2026-01-01T00:00:00.000Z",
        "issued_ns": 1767225600000000000,
        "id": "c-1",
    }
    raw.update(changes)
    return raw


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_command_a_shipped_scenario_schedules_passes_as_issued(path: Path) -> None:
    timed = load_plan(path).inputs.timed()
    scheduled = [command for entries in timed.schedule.values() for _, command in entries]
    for command in [*scheduled, *(trigger[3] for trigger in timed.triggers)]:
        check_issued(issued(command.name, command.args, command.reason), "x", (), "c-1")


@pytest.mark.parametrize("path", [*APPLY_DOCUMENTS, None], ids=["reference", "mars", "rest"])
def test_what_apply_sends_passes_as_issued_alone_and_together(
    path: Path | None, tmp_path: Path
) -> None:
    if path is None:
        path = tmp_path / "rest.yaml"
        path.write_text(REST, encoding="utf-8")
    name, args, why, _ = commands_from_document(path, None, "from the test")
    assert name == "batch"
    check_issued(issued(name, args, why), "x", (), "c-1")
    for part in args["commands"]:
        check_issued(issued(part["command"], part["args"], part["reason"]), "x", (), "c-1")


def problem(raw: Any) -> str:
    with pytest.raises(BadInput) as caught:
        check_issued(raw, "J line 3", ("command",), "c-1")
    return caught.value.message


LATENCY = {"shard": "earth", "ms": 85}
PAUSE = {"command": "pause-all", "args": {}, "reason": "a"}
ZERO = {"command": "set-latency", "args": {"shard": "earth", "ms": 0}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            issued("set-latency", {"shard": "earth", "ms": -5}),
            "command -> args -> ms: Input should be greater than 0 (got -5)",
        ),
        (
            issued("set-latency", {"shard": "earth", "ms": "85"}),
            "command -> args -> ms: Input should be a valid integer, not a string (write the "
            "number without quotes) (got '85')",
        ),
        (
            issued("set-latency", {"shard": "earth"}),
            "command -> args -> ms: required key is missing",
        ),
        (
            issued("set-latency", {**LATENCY, "mss": 1}),
            "command -> args -> mss: unknown key; did you mean `ms`?",
        ),
        (
            issued("set-latency", {**LATENCY, "reason": "x"}),
            "command -> args -> reason: not an argument `agijobs set-latency` gives (got 'x')",
        ),
        (
            issued("set-latancy", LATENCY),
            "command -> command: unknown command `set-latancy`; did you mean `set-latency`? "
            "(one of pause-all, resume, reroute, set-latency, shard.pause, shard.resume, "
            "shard.register, shard.deregister, shard.update, node.register, node.update, "
            "node.deregister, node.cordon, node.uncordon, node.drain, job.submit, job.cancel, "
            "job.reroute, checkpoint.save, checkpoint.configure, "
            "reporting.configure, governance.update)",
        ),
        (
            issued("reroute", {"from": "earth"}),
            "command -> args: reroute needs `to` (or `clear: true`)",
        ),
        (
            issued("reroute", {"from": "earth", "to": "luna", "clear": False}),
            "command -> args -> clear: not an argument `agijobs reroute` gives (got False)",
        ),
        (
            issued("batch", {"commands": [PAUSE, {**PAUSE, **ZERO}]}),
            "command -> args -> commands -> 1 -> args -> ms: Input should be greater than 0 "
            "(got 0)",
        ),
        (
            issued("batch", {"commands": []}),
            "command -> args -> commands: List should have at least 1 item after validation, not 0",
        ),
        (
            issued("approve", {"proposal": 7}),
            "command -> args -> proposal: Input should be a valid string (got 7)",
        ),
        (
            issued("pause-all", {}, reason=""),
            "command -> reason: String should have at least 1 character (got '')",
        ),
        (
            issued("pause-all", {}, actor=None),
            "command -> actor: Input should be a valid string (got None)",
        ),
        (
            issued("pause-all", {}, issued_ns=-1),
            "command -> issued_ns: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            issued("pause-all", {}, auth="x"),
            "command -> auth: Input should be a valid dictionary (got 'x')",
        ),
        (issued("pause-all", {}, id="c-2"), "command -> id: 'c-2' is not the inbox's id 'c-1'"),
        (issued("pause-all", {}, note=1), "command -> note: unknown key"),
        (issued("pause-all", [1]), "command -> args: Input should be a valid dictionary"),
        ("pause-all", "command: Input should be a valid dictionary (got 'pause-all')"),
    ],
)
def test_anything_else_is_named_by_its_field(raw: Any, message: str) -> None:
    assert problem(raw) == f"J line 3: {message}"


def test_approve_and_signed_commands_pass() -> None:
    check_issued(issued("approve", {"proposal": "p-0123456789ab"}), "x")
    signature = {"key": "k", "fingerprint": "f", "signature": "s"}
    auth = {"run_id": "r", "nonce": "n", "signatures": [signature]}
    check_issued(issued("pause-all", {}, auth=auth), "x")


def test_an_auth_field_no_signer_writes_is_refused() -> None:
    """What no signer writes is never carried into the log (the event schema's AUTH)."""
    auth = {"run_id": "r", "nonce": "n", "signatures": [], "shard": "earth"}
    with pytest.raises(BadInput) as refused:
        check_issued(issued("pause-all", {}, auth=auth), "x")
    assert refused.value.message.startswith("x: auth -> shard: ")
