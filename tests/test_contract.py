"""The machine contract (agijobs.contract): every schema is valid JSON Schema, every event of
every shipped scenario keeps it, and a document or event that changes shape fails it."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from agijobs import Fabric, contract
from agijobs.contract.build import API_VERSION

from .contract_check import ContractBroken, check_document, check_output
from .helpers import cli, scenario_dict, write_scenario

ROOT = Path(__file__).parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def every_schema() -> list[str]:
    return contract.names()


@pytest.mark.parametrize("name", every_schema())
def test_every_schema_is_draft_2020_12(name: str) -> None:
    schema = contract.schema(name)
    assert schema is not None
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_kinds_are_every_kind_the_cli_prints() -> None:
    assert contract.kind_names() == [
        "Acknowledgement",
        "Audit",
        "Error",
        "FabricList",
        "JobDescription",
        "Key",
        "NodeDescription",
        "Plan",
        "Report",
        "RunOutcome",
        "RunnerStarted",
        "RunnerStopped",
        "ShardDescription",
        "Status",
        "Transfer",
        "WhatIf",
    ]


def test_every_kind_the_code_prints_has_a_schema() -> None:
    """Each `print_json("Kind", …)` in the command line names a published kind, even one
    no test prints with --json yet."""
    printed = set()
    for path in (ROOT / "agijobs" / "cli").glob("*.py"):
        printed |= set(re.findall(r'print_json\(\s*"(\w+)"', path.read_text(encoding="utf-8")))
    assert printed, "print_json calls not found"
    assert printed <= set(contract.kind_names()), sorted(printed - set(contract.kind_names()))


def _closed(schema: Any, where: str, found: list[str]) -> None:
    """Every object that lists its properties allows no other and requires them (but those
    it documents as optional): an added field fails until its schema says so."""
    if isinstance(schema, dict):
        listed = "properties" in schema and schema.get("type") == "object"
        if listed and schema.get("additionalProperties") is not False:
            found.append(where)
        for key, value in schema.items():
            _closed(value, f"{where}/{key}", found)
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            _closed(value, f"{where}/{index}", found)


@pytest.mark.parametrize("name", every_schema())
def test_every_object_with_properties_is_closed(name: str) -> None:
    found: list[str] = []
    _closed(contract.schema(name), name, found)
    assert found == []


# ------------------------------------------------------------------ shipped scenarios


@pytest.fixture(scope="module")
def validators() -> dict[str, jsonschema.Draft202012Validator]:
    return {
        name: jsonschema.Draft202012Validator(contract.schema(name))
        for name in contract.EVENT_TYPES
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_event_of_every_shipped_scenario_keeps_its_schema(
    scenario: Path, tmp_path: Path, validators: dict[str, Any]
) -> None:
    storage = tmp_path / "storage"
    Fabric(storage).run(scenario)
    seen = set()
    with open(storage / "events.ndjson", "rb") as lines:
        for line in lines:
            event = orjson.loads(line)
            validator = validators.get(event["type"])
            assert validator is not None, f"no schema for event type {event['type']}"
            if not validator.is_valid(event):  # the fast check; the slow one says why
                check_document(event, f"{scenario.name}: seq {event['seq']}")
            seen.add(event["type"])
    assert "run.started" in seen and "job.completed" in seen


# ------------------------------------------------------------------ a change of shape


def test_an_added_field_fails_until_the_schema_has_it(tmp_path: Path) -> None:
    result = cli("keys", "new", "alice", "--out", str(tmp_path / "alice.key"), "--json")
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    assert document["api_version"] == API_VERSION and document["kind"] == "Key"
    check_document(document)
    for changed in (
        {**document, "created_at": "2026-01-01"},  # a field the schema does not know
        {k: v for k, v in document.items() if k != "fingerprint"},  # one it requires
        {**document, "fingerprint": 7},  # another type
        {**document, "api_version": "agijobs/v2"},
    ):
        with pytest.raises(ContractBroken, match="does not match its schema"):
            check_document(changed)


def test_an_event_that_changes_shape_fails() -> None:
    event = {
        "seq": 2,
        "tick": 1,
        "type": "job.submitted",
        "hash": "0" * 64,
        "data": {"job": "earth-finance-000001", "shard": "earth", "value": 2500},
    }
    check_document(event)
    extra = copy.deepcopy(event)
    extra["data"]["priority"] = 1
    with pytest.raises(ContractBroken, match="data: Additional properties"):
        check_document(extra)
    unknown = {**event, "type": "job.teleported"}
    with pytest.raises(ContractBroken, match="no published schema for event type"):
        check_document(unknown)


def test_a_kind_without_a_schema_fails() -> None:
    with pytest.raises(ContractBroken, match="no published schema for kind 'Fabrics'"):
        check_output(["fabrics", "--json"], '{"api_version": "agijobs/v1", "kind": "Fabrics"}')
    with pytest.raises(ContractBroken, match="neither api_version and kind"):
        check_output(["status", "--json"], '{"state": "no run"}')


def test_ndjson_is_held_line_by_line() -> None:
    line = orjson.dumps({"api_version": API_VERSION, "kind": "Error", "error": {}}).decode()
    with pytest.raises(ContractBroken, match="error: 'code' is a required property"):
        check_output(["status", "--json"], f"{line}\n{line}\n")


# ------------------------------------------------------------------ effects, named


def test_the_log_keeps_pairs_and_the_outputs_name_them() -> None:
    effect = {"budget_ms": [120, 100], "changed": True, "ineligible": [], "eligible": []}
    assert contract.named_effect("owner.set-latency", effect) == {
        "budget_ms": {"before": 120, "after": 100},
        "changed": True,
        "ineligible": [],
        "eligible": [],
    }
    update = {"node": "n", "changes": {"slots": [2, 4]}, "changed": True}
    assert contract.named_effect("owner.node.update", update)["changes"] == {
        "slots": {"before": 2, "after": 4}
    }
    # Lists that are not changes stay lists; an error text stays text.
    moved = {"shard": "s", "nodes_removed": ["a", "b"], "jobs_moved": ["j1", "j2"]}
    assert contract.named_effect("owner.shard.deregister", moved) == moved
    assert contract.named_effect("owner.rejected", "no such shard") == "no such shard"
    data = contract.event_schema("owner.set-latency")["$defs"]["owner.set-latency"]
    budget = data["properties"]["effect"]["properties"]["budget_ms"]
    assert [side["description"] for side in budget["prefixItems"]] == ["before", "after"]


# ------------------------------------------------------------------ agijobs schema


def test_schema_lists_and_prints_each_schema() -> None:
    listed = cli("schema", "--list")
    assert listed.exit_code == 0, listed.output
    names = listed.stdout.splitlines()
    assert names[:3] == ["scenario", "events", "Acknowledgement"]
    assert names[1:] == contract.names()
    status = cli("schema", "Status")
    assert status.exit_code == 0, status.output
    assert orjson.loads(status.stdout) == contract.schema("Status")
    default = cli("schema")
    assert orjson.loads(default.stdout)["title"] == "agijobs scenario"


def test_schema_names_an_unknown_schema() -> None:
    result = cli("schema", "Statu")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: NAME: no schema named 'Statu'; did you mean `Status`? — see "
        "`agijobs schema --list`\n"
    )


# ------------------------------------------------------------------ kinds few tests print


def test_transfer_and_an_empty_status_keep_their_schemas(tmp_path: Path) -> None:
    """Kinds the other tests print rarely or never with --json (each document is held to its
    schema by tests/contract_check.py as it is printed)."""
    scenario = write_scenario(tmp_path / "s.yaml", scenario_dict())
    storage = tmp_path / "storage"
    ran = cli("run", str(scenario), "--storage", str(storage), "--json")
    assert ran.exit_code == 0, ran.output
    assert orjson.loads(ran.stdout)["kind"] == "RunOutcome"
    copied = cli("export", "--storage", str(storage), str(tmp_path / "copy"), "--json")
    assert copied.exit_code == 0, copied.output
    assert orjson.loads(copied.stdout)["kind"] == "Transfer"
    (tmp_path / "empty").mkdir()
    empty = cli("status", "--storage", str(tmp_path / "empty"), "--json")
    assert empty.exit_code == 0, empty.output
    assert orjson.loads(empty.stdout)["state"] == "no run"


def test_every_owner_effect_keeps_its_schema_in_the_log_and_named_in_the_output(
    tmp_path: Path,
) -> None:
    """The owner commands the CLI tests seldom apply, applied at rest in one batch: their
    events are held to the log's schema as they are recorded, the acknowledgement to its
    own (tests/contract_check.py), with every change named."""
    scenario = write_scenario(tmp_path / "s.yaml", scenario_dict())
    storage = tmp_path / "storage"
    ran = cli("run", str(scenario), "--storage", str(storage), "--stop-after-ticks", "2")
    assert ran.exit_code == 0, ran.output
    commands = [
        {
            "command": "shard.update",
            "shard": "luna",
            "update": {"name": "Luna", "max_queue": 90, "latency_budget_ms": 140},
        },
        {
            "command": "node.update",
            "node": "luna.c",
            "update": {"slots": 3, "latency_ms": 100, "skills": ["general", "x"]},
        },
        {
            "command": "job.reroute",
            "locator": {"kind": "tail", "shard": "earth", "offset": 0, "include_in_flight": True},
            "to": "luna",
        },
        {"command": "checkpoint.save"},
        {"command": "checkpoint.configure", "every": 7},
        {"command": "reporting.configure", "label": "drill"},
        {"command": "shard.pause", "shard": "earth"},
        {"command": "shard.resume", "shard": "earth"},
        {"command": "node.deregister", "node": "earth.b"},
        {
            "command": "shard.deregister",
            "shard": "luna",
            "redistribution": {"mode": "spillover", "target": "earth"},
        },
    ]
    source = tmp_path / "batch.json"
    source.write_bytes(orjson.dumps(commands))
    applied = cli("apply", str(source), "--reason", "drill", "--storage", str(storage), "--json")
    assert applied.exit_code == 0, applied.output
    results = orjson.loads(applied.stdout)["results"]
    assert [r["event"] for r in results] == [f"owner.{c['command']}" for c in commands]
    changes = results[0]["effect"]["changes"]
    assert changes["max_queue"] == {"before": 100, "after": 90}
    assert changes["latency_budget_ms"] == {"before": 180, "after": 140}
    assert results[4]["effect"]["every"] == {"before": 5, "after": 7}
    assert results[5]["effect"]["label"] == {"before": "latest", "after": "drill"}


def test_schema_list_takes_no_name() -> None:
    result = cli("schema", "Status", "--list")
    assert result.exit_code == 2
    assert result.stderr == "Error: NAME: 'Status' given with --list — drop one of them\n"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_an_executors_events_keep_their_schemas(tmp_path: Path, validators: dict[str, Any]) -> None:
    """executor.receipts, job.rejected, job.retimed and an executor's job.failed: what only a
    bridge makes, held to their schemas."""
    rules = tmp_path / "rules.json"
    rules.write_text(
        '{"reject": [{"skill": "gpu", "reason": "quarantined"}],'
        ' "slow": [{"skill": "finance", "duration": 5}]}'
    )
    storage = tmp_path / "storage"
    bridge = f"node {ROOT / 'bridge' / 'bridge.mjs'} --rules {rules}"
    outcome = Fabric(storage).run(
        ROOT / "scenarios" / "planetary.yaml", executor="bridge", bridge=bridge
    )
    assert outcome.expect_failures  # rejected gpu jobs fail, as they should
    seen = set()
    for line in (storage / "events.ndjson").read_bytes().splitlines():
        event = orjson.loads(line)
        if not validators[event["type"]].is_valid(event):
            check_document(event, f"seq {event['seq']}")
        seen.add(event["type"])
    assert {"executor.receipts", "job.rejected", "job.retimed", "job.failed"} <= seen


def test_a_fault_for_a_node_no_longer_there_is_skipped_in_the_schema(tmp_path: Path) -> None:
    data = scenario_dict(
        faults=[{"tick": 6, "node": "earth.b", "kind": "outage", "until": 9}],
        schedule=[{"tick": 3, "command": "node.deregister", "node": "earth.b", "reason": "gone"}],
    )
    scenario = write_scenario(tmp_path / "s.yaml", data)
    ran = cli("run", str(scenario), "--storage", str(tmp_path / "storage"), "--json")
    assert ran.exit_code == 0, ran.output
    lines = (tmp_path / "storage" / "events.ndjson").read_bytes().splitlines()
    skipped = [e for e in map(orjson.loads, lines) if e["type"] == "fault.skipped"]
    assert [e["data"] for e in skipped] == [
        {"node": "earth.b", "kind": "outage", "reason": "no-node"},
        {"node": "earth.b", "kind": "outage", "reason": "no-node"},
    ]
    for event in skipped:
        check_document(event)
