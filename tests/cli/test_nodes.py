"""cordon, uncordon, drain: exact messages and exit codes, at rest and live, and what
`status` and `audit` say of them."""

from __future__ import annotations

import signal
from pathlib import Path

import orjson
import pytest

from ..helpers import agijobs, cli, file_hashes, owner_events, start, wait_for


def run(storage: Path, *args: str) -> object:
    return cli(*args, "--storage", str(storage))


def test_cordon_at_rest_then_again_is_idempotent(stopped: Path) -> None:
    first = run(stopped, "cordon", "earth.b", "--reason", "flaky NIC", "--actor", "alice")
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        "node.cordon: node earth.b cordoned: no new work; its running jobs carry on "
        "(tick 2, fabric at rest)\n"
    )
    second = run(stopped, "cordon", "earth.b", "--reason", "flaky NIC")
    assert second.exit_code == 0, second.output
    assert second.stdout == "node.cordon: node earth.b already cordoned (tick 2, fabric at rest)\n"
    events = owner_events(stopped)
    assert [(e["type"], e["data"]["effect"]["changed"]) for e in events] == [
        ("owner.node.cordon", True),
        ("owner.node.cordon", False),
    ]
    assert events[0]["data"]["input"]["args"] == {"node": "earth.b"}
    assert events[0]["data"]["input"]["actor"] == "alice"


def test_drain_then_uncordon_at_rest(stopped: Path) -> None:
    drained = run(stopped, "drain", "earth.a", "--deadline", "3", "--reason", "kernel upgrade")
    assert drained.exit_code == 0, drained.output
    assert drained.stdout == (
        "node.drain: node earth.a draining: no new work; jobs still running at the end of "
        "tick 5 go back to the queue (tick 2, fabric at rest)\n"
    )
    again = run(stopped, "drain", "earth.a", "--deadline", "3", "--reason", "kernel upgrade")
    assert again.stdout == (
        "node.drain: node earth.a already draining until tick 5 (tick 2, fabric at rest)\n"
    )
    status = run(stopped, "status")
    assert "no new work (cordoned): earth.a (draining until tick 5, 1 running)\n" in status.stdout
    lifted = run(stopped, "uncordon", "earth.a", "--reason", "upgrade postponed")
    assert lifted.stdout == (
        "node.uncordon: node earth.a uncordoned: takes new work again (its drain ended; its "
        "jobs stay) (tick 2, fabric at rest)\n"
    )
    noop = run(stopped, "uncordon", "earth.a", "--reason", "again")
    assert noop.exit_code == 0, noop.output
    assert noop.stdout == (
        "node.uncordon: node earth.a not cordoned; nothing to lift (tick 2, fabric at rest)\n"
    )


def test_drain_json_is_one_acknowledgement(stopped: Path) -> None:
    result = run(stopped, "drain", "earth.b", "--deadline", "4", "--reason", "r", "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {
        "api_version": "agijobs/v1",
        "kind": "Acknowledgement",
        "command": "node.drain",
        "mode": "at-rest",
        "tick": 2,
        "event": "owner.node.drain",
        "effect": {
            "node": "earth.b",
            "shard": "earth",
            "schedulable": {"before": "schedulable", "after": "draining"},
            "deadline_tick": {"before": None, "after": 6},
            "changed": True,
        },
        "id": None,
    }


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("cordon", "earth.c"),
            "Error: node: unknown node `earth.c` — did you mean `earth.b`?\n",
        ),
        (
            ("uncordon", "luna"),
            "Error: node: unknown node `luna` — did you mean `luna.c`?\n",
        ),
        (
            ("drain", "mars.x", "--deadline", "2"),
            "Error: node: unknown node `mars.x` — known: earth.a, earth.b, luna.c\n",
        ),
    ],
    ids=["cordon", "uncordon", "drain"],
)
def test_an_unknown_node_is_exit_2_with_a_did_you_mean_and_changes_nothing(
    stopped: Path, args: tuple[str, ...], error: str
) -> None:
    before = file_hashes(stopped)
    result = run(stopped, *args, "--reason", "typo")
    assert result.exit_code == 2, result.output
    assert result.stderr == error
    assert file_hashes(stopped) == before


def test_an_unknown_node_with_json_is_one_error_document(stopped: Path) -> None:
    result = run(stopped, "cordon", "earth.c", "--reason", "typo", "--json")
    assert result.exit_code == 2, result.output
    assert orjson.loads(result.stdout) == {  # one document
        "api_version": "agijobs/v1",
        "kind": "Error",
        "error": {
            "code": "bad-input",
            "exit_code": 2,
            "message": "node: unknown node `earth.c` — did you mean `earth.b`?",
        },
    }


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("drain", "earth.a", "--deadline", "0"), "Invalid value for '--deadline'"),
        (("cordon", "earth.a", "--reason", " "), "--reason: must not be empty"),
        (("cordon", "bad\nname"), "NODE: "),
    ],
    ids=["deadline-0", "blank-reason", "control-character"],
)
def test_bad_arguments_are_exit_2(stopped: Path, args: tuple[str, ...], error: str) -> None:
    before = file_hashes(stopped)
    result = run(stopped, *args, "--reason", "r") if "--reason" not in args else run(stopped, *args)
    assert result.exit_code == 2, result.output
    assert error in result.stderr
    assert file_hashes(stopped) == before


def test_the_audit_timeline_tells_node_operations(stopped: Path) -> None:
    run(stopped, "cordon", "earth.b", "--reason", "flaky NIC")
    run(stopped, "drain", "earth.a", "--deadline", "2", "--reason", "kernel")
    resumed = run(stopped, "runner", "start")
    assert resumed.exit_code == 0, resumed.output
    audited = run(stopped, "audit", "--json")
    assert audited.exit_code == 0, audited.output
    report = orjson.loads(audited.stdout)
    assert report["mode"] == "derived"
    effects = [(g["command"], g["effect"]) for g in report["governance"]]
    assert effects[:2] == [
        (
            "node.cordon",
            {
                "node": "earth.b",
                "shard": "earth",
                "schedulable": {"before": "schedulable", "after": "cordoned"},
                "changed": True,
            },
        ),
        (
            "node.drain",
            {
                "node": "earth.a",
                "shard": "earth",
                "schedulable": {"before": "schedulable", "after": "draining"},
                "deadline_tick": {"before": None, "after": 4},
                "changed": True,
            },
        ),
    ]
    events = [orjson.loads(line) for line in (stopped / "events.ndjson").read_bytes().splitlines()]
    drained = [(e["tick"], e["data"]) for e in events if e["type"] == "node.drained"]
    assert drained == [(4, {"node": "earth.a", "shard": "earth", "requeued": 0})]
    after = {e["data"]["node"] for e in events if e["type"] == "job.assigned" and e["tick"] > 2}
    assert not after & {"earth.a", "earth.b"}


def test_live_cordon_is_acknowledged_with_its_tick(tmp_path: Path) -> None:
    from ..helpers import long_scenario

    scenario, storage = long_scenario(tmp_path / "long.yaml"), tmp_path / "storage"
    runner = start("run", str(scenario), "--storage", str(storage), "--tick-ms", "20")
    try:
        wait_for(storage / "checkpoint.json")
        done = agijobs("cordon", "earth.b", "--reason", "live drill", "--storage", str(storage))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("node.cordon: node earth.b cordoned: no new work; ")
        assert done.stdout.endswith(", live run)\n")
        refused = agijobs("drain", "earth.c", "--deadline", "3", "--reason", "x",
                          "--storage", str(storage))  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr == (
            "Error: the live run rejected node.drain: node: unknown node `earth.c` — did you "
            "mean `earth.b`?\n"
        )
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=30)
    event = owner_events(storage)[0]
    tick = int(done.stdout.rsplit("(tick ", 1)[1].split(",")[0])
    assert (event["type"], event["tick"], event["data"]["input"]["source"]) == (
        "owner.node.cordon",
        tick,
        "live",
    )
    assigned_b = [
        orjson.loads(line)
        for line in (storage / "events.ndjson").read_bytes().splitlines()
        if b'"job.assigned"' in line and b'"earth.b"' in line
    ]
    assert all(e["tick"] < tick for e in assigned_b)
    audit = agijobs("audit", "--storage", str(storage))
    assert audit.returncode == 0, audit.stderr
