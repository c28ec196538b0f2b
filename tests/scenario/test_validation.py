"""Scenario validation: every error names the file, the key path and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agijobs.errors import BadInput
from agijobs.scenario.loading import load_plan

from ..helpers import scenario_dict, write_scenario


def error_for(tmp_path: Path, data: Any) -> str:
    path = write_scenario(tmp_path / "s.yaml", data)
    with pytest.raises(BadInput) as caught:
        load_plan(path)
    return caught.value.render().replace(str(path), "s.yaml")


def with_change(path: list[Any], value: Any) -> dict[str, Any]:
    data = scenario_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def test_unknown_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    data = scenario_dict()
    data["fabric"]["shards"][0]["max_queu"] = 5
    assert error_for(tmp_path, data).startswith(
        "s.yaml: fabric -> shards -> 0 -> max_queu: unknown key; did you mean `max_queue`?"
    )


def test_unknown_key_in_a_schedule_entry(tmp_path: Path) -> None:
    data = scenario_dict(
        schedule=[
            {"tick": 3, "command": "set-latency", "shard": "earth", "millis": 5, "reason": "r"}
        ]
    )
    message = error_for(tmp_path, data)
    assert "s.yaml: schedule -> 0 -> millis: unknown key" in message


def test_unknown_schedule_command_gets_a_did_you_mean(tmp_path: Path) -> None:
    data = scenario_dict(schedule=[{"tick": 3, "command": "pause_all", "reason": "r"}])
    assert error_for(tmp_path, data).startswith(
        "s.yaml: schedule -> 0 -> command: unknown command `pause_all`; did you mean "
        "`pause-all`? (one of pause-all, resume, reroute, set-latency, shard.pause, "
        "shard.resume, shard.register, shard.deregister, shard.update, node.register, "
        "node.update, node.deregister, node.cordon, node.uncordon, node.drain, job.submit, "
        "job.cancel, job.reroute, checkpoint.save, "
        "checkpoint.configure, reporting.configure, governance.update)"
    )


def test_missing_argument_of_a_schedule_entry_is_located_flat(tmp_path: Path) -> None:
    data = scenario_dict(schedule=[{"tick": 3, "command": "reroute", "to": "luna", "reason": "r"}])
    assert error_for(tmp_path, data).startswith(
        "s.yaml: schedule -> 0 -> from: required key is missing"
    )


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: a\nseed: 1\nseed: 2\n", encoding="utf-8")
    with pytest.raises(BadInput) as caught:
        load_plan(path)
    assert caught.value.message == (f"{path}: line 3 column 1: invalid YAML (duplicate key `seed`)")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ["fabric", "nodes", 0, "slots"],
            0,
            "s.yaml: fabric -> nodes -> 0 -> slots: Input should be greater than 0 (got 0)",
        ),
        (
            ["workload", 0, "count"],
            10**12,
            "s.yaml: workload -> 0 -> count: Input should be less than or equal to 100000000",
        ),
        (
            ["workload", 0, "duration"],
            -1,
            "s.yaml: workload -> 0 -> duration: Input should be greater than 0 (got -1)",
        ),
        (
            ["fabric", "shards", 0, "latency_budget_ms"],
            "fast",
            "s.yaml: fabric -> shards -> 0 -> latency_budget_ms: Input should be a valid integer",
        ),
        (
            ["workload", 0, "shard"],
            "earht",
            "s.yaml: workload -> 0 -> shard: unknown shard `earht`; did you mean `earth`?",
        ),
        (
            ["fabric", "nodes", 1, "shard"],
            "venus",
            "s.yaml: fabric -> nodes -> 1 -> shard: unknown shard `venus`",
        ),
        (
            ["fabric", "shards", 0, "spillover", 0, "target"],
            "earth",
            "s.yaml: fabric -> shards -> 0 -> spillover -> 0 -> target: a shard cannot spill "
            "over to itself",
        ),
        (
            ["fabric", "nodes", 1, "id"],
            "earth.a",
            "s.yaml: fabric -> nodes -> 1 -> id: duplicate id `earth.a`",
        ),
        (
            ["run", "max_ticks"],
            0,
            "s.yaml: run -> max_ticks: Input should be greater than 0 (got 0)",
        ),
    ],
)
def test_invalid_values_are_located(
    tmp_path: Path, path: list[Any], value: Any, expected: str
) -> None:
    assert error_for(tmp_path, with_change(path, value)).startswith(expected)


def test_missing_required_key(tmp_path: Path) -> None:
    data = scenario_dict()
    del data["fabric"]["shards"][0]["max_queue"]
    assert error_for(tmp_path, data).startswith(
        "s.yaml: fabric -> shards -> 0 -> max_queue: required key is missing"
    )


def test_unknown_fault_node_and_schedule_after_max_ticks(tmp_path: Path) -> None:
    data = scenario_dict(
        faults=[{"tick": 3, "node": "earth.z", "kind": "outage"}],
        schedule=[{"tick": 900, "command": "pause-all", "reason": "late"}],
    )
    message = error_for(tmp_path, data)
    assert "s.yaml: faults -> 0 -> node: unknown node `earth.z`" in message
    assert "s.yaml: schedule -> 0 -> tick: 900 is after run -> max_ticks (500)" in message


def test_fault_until_before_tick(tmp_path: Path) -> None:
    data = scenario_dict(faults=[{"tick": 9, "node": "earth.a", "kind": "outage", "until": 4}])
    assert "s.yaml: faults -> 0: until (4) must be after tick (9)" in error_for(tmp_path, data)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"name: [unclosed", "invalid YAML"),
        (b"\xff\xfe\x00bad", "not UTF-8 text (byte 0)"),
        (b"- just\n- a list\n", "expected a mapping at the top level (got list)"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(content)
    with pytest.raises(BadInput) as caught:
        load_plan(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert expected in caught.value.message


def test_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"name": "x",\n  "seed": }', encoding="utf-8")
    with pytest.raises(BadInput) as caught:
        load_plan(path)
    assert caught.value.message.startswith(f"{path}: line 2 column")


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="is a directory"):
        load_plan(tmp_path)
    with pytest.raises(BadInput, match="no such file"):
        load_plan(tmp_path / "missing.yaml")


def test_fabric_may_live_in_its_own_file(tmp_path: Path) -> None:
    data = scenario_dict()
    write_scenario(tmp_path / "fabric.yaml", data["fabric"])
    data["fabric"] = "fabric.yaml"
    inline = load_plan(write_scenario(tmp_path / "inline.yaml", scenario_dict()))
    referenced = load_plan(write_scenario(tmp_path / "ref.yaml", data))
    assert referenced.inputs_id == inline.inputs_id


def test_expect_does_not_change_the_inputs_identity(tmp_path: Path) -> None:
    plain = load_plan(write_scenario(tmp_path / "a.yaml", scenario_dict()))
    golden = load_plan(
        write_scenario(tmp_path / "b.yaml", scenario_dict(expect={"events_digest": "a" * 64}))
    )
    assert plain.inputs_id == golden.inputs_id
    assert plain.plan_id != golden.plan_id


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"tick": 3, "command": "node.cordon", "node": "earth.c", "reason": "r"},
            "s.yaml: schedule -> 0 -> node: unknown node `earth.c`; did you mean `earth.b`?",
        ),
        (
            {
                "tick": 3,
                "command": "node.drain",
                "node": "luna.c",
                "deadline_ticks": 0,
                "reason": "r",
            },
            "s.yaml: schedule -> 0 -> deadline_ticks: Input should be greater than 0 (got 0)",
        ),
    ],
    ids=["unknown-node", "zero-deadline"],
)
def test_node_operations_in_a_schedule_are_checked(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    assert message in error_for(tmp_path, scenario_dict(schedule=[entry]))
