"""Translating the reference demo's files: every rule, notice and error, on small inputs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from agijobs.errors import BadInput
from agijobs.scenario.loading import load_plan
from agijobs.scenario.models import Scenario, ScenarioFile
from agijobs.scenario.reference import (
    REFERENCE_NODE_LATENCY_MS,
    SECONDS_PER_TICK,
    Translation,
    emit_yaml,
    kind_of,
    read_reference,
    translate_fabric,
    translate_mission,
)
from agijobs.scenario.validation import check_references

from ..helpers import scenario_dict

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reference"
MISSION = FIXTURES / "mission-plan.example.json"
FABRIC = FIXTURES / "fabric.example.json"
BLUEPRINT = FIXTURES / "jobs.blueprint.example.json"
COMMANDS = FIXTURES / "owner-commands.example.json"

# A small reference fabric: earth spills to luna; one node per shard.
SMALL: dict[str, Any] = {
    "owner": {"name": "Owner", "address": "0x1"},
    "shards": [
        {
            "id": "earth",
            "displayName": "Earth",
            "latencyBudgetMs": 120,
            "maxQueue": 100,
            "spilloverTargets": ["luna"],
            "router": {
                "queueAlertThreshold": 60,
                "spilloverPolicies": [{"target": "luna", "threshold": 80, "maxDrainPerTick": 5}],
            },
        },
        {"id": "luna", "latencyBudgetMs": 180, "maxQueue": 40},
    ],
    "nodes": [
        {
            "id": "earth.a",
            "region": "earth",
            "capacity": 4,
            "maxConcurrency": 3,
            "specialties": ["finance"],
            "heartbeatIntervalSec": 5,
        },
        {
            "id": "luna.b",
            "region": "luna",
            "capacity": 2,
            "specialties": ["nav"],
            "heartbeatIntervalSec": 2,
        },
    ],
}
JOBS: dict[str, Any] = {
    "jobs": [{"idPrefix": "f", "shard": "earth", "skills": ["finance"], "duration": 2, "count": 9}]
}
LATENCY_NOTICE = (
    "reference nodes have no latency; latency_ms is set to 50 "
    "(50 ms, capped by the smallest shard latencyBudgetMs)."
)


def small(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SMALL)
    data.update(copy.deepcopy(changes))
    return data


def write(path: Path, data: Any) -> Path:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return path


def validate(doc: dict[str, Any]) -> Scenario:
    """What `load_plan` does with a scenario: validate, then check cross references."""
    parsed = ScenarioFile.model_validate(doc)
    body = {
        k: v for k, v in parsed.model_dump(by_alias=True).items() if k not in ("expect", "intents")
    }
    scenario = Scenario.model_validate(body)
    check_references(Path("translated.yaml"), scenario)
    return scenario


def fabric_only(tmp_path: Path, raw: dict[str, Any]) -> Translation:
    return translate_fabric(tmp_path / "fabric.json", raw, None, None)


def with_commands(
    tmp_path: Path, commands: list[dict[str, Any]], raw: dict[str, Any] | None = None
) -> Translation:
    blueprint = write(tmp_path / "jobs.json", JOBS)
    owner = write(tmp_path / "owner.json", {"commands": commands})
    return translate_fabric(tmp_path / "fabric.json", raw or small(), blueprint, owner)


def error(call: Any, *args: Any) -> BadInput:
    with pytest.raises(BadInput) as caught:
        call(*args)
    return caught.value


# ------------------------------------------------------------------------- fixtures


def test_fixture_files_are_the_reference_bytes() -> None:
    shared = Path("/work/shared/reference")
    if not shared.is_dir():
        pytest.skip("the shared reference folder is not on this machine")
    for name in ("mission-plan", "fabric", "jobs.blueprint", "owner-commands"):
        path = f"{name}.example.json"
        assert (FIXTURES / path).read_bytes() == (shared / path).read_bytes()


def test_mission_fixture_translates_to_a_valid_scenario() -> None:
    translation = translate_mission(MISSION, read_reference(MISSION))
    scenario = validate(translation.scenario)
    doc = translation.scenario
    assert list(doc) == ["name", "fabric", "workload", "faults", "schedule", "run", "reporting"]
    assert list(doc["fabric"]) == ["owner", "shards", "nodes"]
    assert doc["name"] == "kardashev-ii-planetary-drill"
    assert doc["faults"] == [{"tick": 45, "node": "mars.gpu-helion", "kind": "outage"}]
    assert doc["run"] == {"checkpoint_every": 30, "stop_after_ticks": 240}
    assert doc["reporting"] == {"label": "mission-plan"}
    assert sum(group.count for group in scenario.workload) == 5800
    assert [s.id for s in scenario.fabric.shards] == ["earth", "luna", "mars", "helios"]
    assert len(scenario.fabric.nodes) == 6
    assert [(e["tick"], e["command"]) for e in doc["schedule"]] == [
        (90, "shard.register"),
        (120, "pause-all"),
        (150, "resume"),
        (155, "shard.update"),
        (180, "node.register"),
        (220, "checkpoint.save"),
        (260, "checkpoint.configure"),
        (270, "reporting.configure"),
        (280, "job.reroute"),
        (285, "job.cancel"),
        (300, "shard.deregister"),
    ]
    assert len(scenario.schedule) == 11


def test_mission_fixture_notices() -> None:
    notices = translate_mission(MISSION, read_reference(MISSION)).notices
    shown = [n.replace(f"{FIXTURES}/", "") for n in notices]
    assert shown == [
        "mission-plan.example.json: reporting -> directory: ignored; "
        "agijobs keeps reports inside --storage.",
        "mission-plan.example.json: run -> checkpoint -> path: ignored; "
        "agijobs keeps checkpoints inside --storage.",
        "mission-plan.example.json: run -> jobs: ignored; the jobBlueprint defines the "
        "workload (5,800 jobs) and agijobs runs exactly those.",
        "mission-plan.example.json: run -> preserveReportDirOnResume: ignored; "
        "agijobs keeps reports inside --storage.",
        "fabric.example.json: reporting -> defaultLabel: overridden by the mission plan "
        "(label `mission-plan`).",
        "fabric.example.json: checkpoint -> intervalTicks: overridden by the mission plan "
        "(checkpoint_every 30).",
        f"fabric.example.json: nodes: {LATENCY_NOTICE}",
        "fabric.example.json: checkpoint -> path: ignored; "
        "agijobs keeps checkpoints inside --storage.",
        "fabric.example.json: reporting -> directory: ignored; "
        "agijobs keeps reports inside --storage.",
        f"owner-commands.example.json: commands -> 4 -> command -> node: {LATENCY_NOTICE}",
        "owner-commands.example.json: commands -> 6 -> command -> update -> path: ignored; "
        "agijobs keeps checkpoints inside --storage.",
        "owner-commands.example.json: commands -> 7 -> command -> update -> directory: "
        "ignored; agijobs keeps reports inside --storage.",
    ]


def test_fabric_fixture_alone_has_no_workload_and_no_schedule() -> None:
    translation = translate_fabric(FABRIC, read_reference(FABRIC), None, None)
    doc = translation.scenario
    validate(doc)
    assert doc["name"] == "fabric.example"
    assert (doc["workload"], doc["faults"], doc["schedule"]) == ([], [], [])
    assert doc["run"] == {"checkpoint_every": 20}
    assert doc["reporting"] == {"label": "latest"}


def test_fabric_fixture_with_blueprint_and_commands() -> None:
    translation = translate_fabric(FABRIC, read_reference(FABRIC), BLUEPRINT, COMMANDS)
    scenario = validate(translation.scenario)
    assert scenario.name == "kardashev-acceptance-blueprint"
    assert sum(group.count for group in scenario.workload) == 5800
    assert len(scenario.schedule) == 11
    # Without a mission plan, reporting.configure keeps the fabric's label before it applies.
    assert scenario.reporting.label == "latest"


def test_fixture_shard_and_node_translate_exactly() -> None:
    doc = translate_fabric(FABRIC, read_reference(FABRIC), None, None).scenario
    assert doc["fabric"]["owner"] == {
        "name": "Planetary Fabric Owner",
        "metadata": {
            "address": "0xF4BR1C0000000000000000000000000000000WN",
            "multisig": "0xFABR1C00000000000000000000000000000000MS",
            "pauseRole": "SystemPause",
            "commandDeck": [
                "owner:pause-all",
                "owner:update-thermostat",
                "owner:reroute-shard",
                "owner:set-latency-budget",
                "owner:register-shard",
                "owner:deregister-shard",
            ],
        },
    }
    assert doc["fabric"]["shards"][2] == {
        "id": "mars",
        "name": "Mars Foundry",
        "latency_budget_ms": 420,
        "max_queue": 4000,
        "alert_threshold": 3000,
        "spillover": [
            {
                "target": "earth",
                "threshold": 3200,
                "max_drain_per_tick": 30,
                "required_skills": ["manufacturing"],
            },
            {
                "target": "helios",
                "threshold": 3600,
                "max_drain_per_tick": 30,
                "required_skills": ["gpu", "vision"],
            },
        ],
    }
    node = doc["fabric"]["nodes"][1]
    raw = read_reference(FABRIC)["nodes"][1]
    assert node == {
        "id": "earth.edge-europa",
        "shard": "earth",
        "slots": 12,
        "skills": ["logistics", "iot", "edge"],
        "latency_ms": 50,
        "heartbeat_ticks": 18,
        "price_per_job": 0.00038,
        "metadata": {
            key: raw[key]
            for key in (
                "endpoint",
                "deployment",
                "availabilityZones",
                "pricing",
                "tags",
                "compliance",
            )
        },
    }


@pytest.mark.parametrize(
    ("path", "kind"),
    [(MISSION, "mission"), (FABRIC, "fabric"), (BLUEPRINT, None), (COMMANDS, None)],
)
def test_kind_of_each_fixture(path: Path, kind: str | None) -> None:
    assert kind_of(read_reference(path)) == kind


def test_kind_of_is_by_content() -> None:
    assert kind_of(scenario_dict()) is None
    assert kind_of({"shards": [], "nodes": []}) == "fabric"
    assert kind_of({"shards": [], "nodes": [], "fabric": "x.yaml"}) is None
    assert kind_of({"config": "f.json", "workload": []}) is None
    assert kind_of({"ownerCommands": "o.json"}) == "mission"
    assert kind_of([1, 2]) is None


# --------------------------------------------------------------------------- fabric


@pytest.mark.parametrize(
    ("capacity", "concurrency", "slots"),
    [(24, 24, 24), (16, 12, 12), (8, None, 8), (None, 5, 5)],
)
def test_slots_are_the_smaller_of_capacity_and_max_concurrency(
    tmp_path: Path, capacity: int | None, concurrency: int | None, slots: int
) -> None:
    raw = small()
    node = raw["nodes"][0]
    del node["capacity"], node["maxConcurrency"]
    for key, value in (("capacity", capacity), ("maxConcurrency", concurrency)):
        if value is not None:
            node[key] = value
    assert fabric_only(tmp_path, raw).scenario["fabric"]["nodes"][0]["slots"] == slots


@pytest.mark.parametrize(("seconds", "ticks"), [(12, 12), (2.3, 3), (0.4, 1)])
def test_heartbeat_seconds_round_up_to_ticks(tmp_path: Path, seconds: float, ticks: int) -> None:
    assert SECONDS_PER_TICK == 1
    raw = small()
    raw["nodes"][0]["heartbeatIntervalSec"] = seconds
    assert fabric_only(tmp_path, raw).scenario["fabric"]["nodes"][0]["heartbeat_ticks"] == ticks


def test_missing_heartbeat_defaults_to_one_tick_with_a_notice(tmp_path: Path) -> None:
    raw = small()
    del raw["nodes"][1]["heartbeatIntervalSec"]
    translation = fabric_only(tmp_path, raw)
    assert translation.scenario["fabric"]["nodes"][1]["heartbeat_ticks"] == 1
    assert (
        f"{tmp_path / 'fabric.json'}: nodes -> 1 -> heartbeatIntervalSec: absent; "
        "heartbeat_ticks defaults to 1." in translation.notices
    )


def test_node_latency_is_the_default_capped_by_the_tightest_budget(tmp_path: Path) -> None:
    nodes = fabric_only(tmp_path, small()).scenario["fabric"]["nodes"]
    assert [n["latency_ms"] for n in nodes] == [REFERENCE_NODE_LATENCY_MS] * 2
    raw = small()
    raw["shards"][1]["latencyBudgetMs"] = 30
    translation = fabric_only(tmp_path, raw)
    assert [n["latency_ms"] for n in translation.scenario["fabric"]["nodes"]] == [30, 30]
    assert (
        f"{tmp_path / 'fabric.json'}: nodes: reference nodes have no latency; "
        in (translation.notices[0])
    )
    validate(translation.scenario)


def test_price_only_when_the_unit_is_job_and_metadata_keeps_the_rest(tmp_path: Path) -> None:
    raw = small()
    raw["nodes"][0].update(
        pricing={"amount": 0.5, "currency": "USDC", "unit": "job"}, tags=["t"], endpoint="e"
    )
    raw["nodes"][1]["pricing"] = {"amount": 3, "unit": "hour"}
    translation = fabric_only(tmp_path, raw)
    first, second = translation.scenario["fabric"]["nodes"]
    assert first["price_per_job"] == 0.5
    assert first["metadata"] == {
        "pricing": {"amount": 0.5, "currency": "USDC", "unit": "job"},
        "tags": ["t"],
        "endpoint": "e",
    }
    assert "price_per_job" not in second
    assert second["metadata"] == {"pricing": {"amount": 3, "unit": "hour"}}
    assert (
        f"{tmp_path / 'fabric.json'}: nodes -> 1 -> pricing -> unit: 'hour' is not 'job', "
        "so there is no price_per_job (pricing stays in metadata)." in translation.notices
    )
    assert "metadata" not in fabric_only(tmp_path, small()).scenario["fabric"]["nodes"][0]


def test_spillover_target_without_a_policy_gets_a_default_one(tmp_path: Path) -> None:
    raw = small()
    raw["shards"].append({"id": "mars", "latencyBudgetMs": 400, "maxQueue": 50})
    raw["shards"][0]["spilloverTargets"] = ["luna", "mars"]
    raw["shards"][0]["router"]["spilloverPolicies"].append(
        {"target": "luna", "threshold": 90, "maxDrainPerTick": 9, "requiredSkills": ["nav"]}
    )
    raw["shards"][1]["spilloverTargets"] = ["earth"]
    translation = fabric_only(tmp_path, raw)
    earth, luna, _ = translation.scenario["fabric"]["shards"]
    assert earth["spillover"] == [
        {"target": "luna", "threshold": 80, "max_drain_per_tick": 5, "required_skills": []},
        {"target": "luna", "threshold": 90, "max_drain_per_tick": 9, "required_skills": ["nav"]},
        # threshold: earth's queueAlertThreshold; drain: the largest of earth's policies
        {"target": "mars", "threshold": 60, "max_drain_per_tick": 9, "required_skills": []},
    ]
    # luna has no alert threshold and no policies: 70% of max_queue, drain 50
    assert luna["spillover"] == [
        {"target": "earth", "threshold": 28, "max_drain_per_tick": 50, "required_skills": []}
    ]
    assert "alert_threshold" not in luna
    assert (
        f"{tmp_path / 'fabric.json'}: shards -> 1: spillover target `earth` has no router -> "
        "spilloverPolicies entry; added one with threshold 28 and max_drain_per_tick 50."
        in translation.notices
    )
    validate(translation.scenario)


def test_checkpoint_and_reporting_of_the_fabric(tmp_path: Path) -> None:
    raw = small(
        checkpoint={"path": "x/cp.json", "intervalTicks": 7},
        reporting={"directory": "out", "defaultLabel": "Nightly Drill #3"},
    )
    translation = fabric_only(tmp_path, raw)
    assert translation.scenario["run"] == {"checkpoint_every": 7}
    assert translation.scenario["reporting"] == {"label": "nightly-drill-3"}
    where = tmp_path / "fabric.json"
    assert translation.notices[-2:] == (
        f"{where}: checkpoint -> path: ignored; agijobs keeps checkpoints inside --storage.",
        f"{where}: reporting -> directory: ignored; agijobs keeps reports inside --storage.",
    )


def test_unknown_keys_become_notices_not_errors(tmp_path: Path) -> None:
    raw = small(theme="dark")
    raw["shards"][0]["colour"] = "blue"
    raw["shards"][0]["router"]["mode"] = "fast"
    translation = fabric_only(tmp_path, raw)
    where = tmp_path / "fabric.json"
    assert translation.notices[:3] == (
        f"{where}: theme: ignored key; agijobs has no equivalent.",
        f"{where}: shards -> 0 -> colour: ignored key; agijobs has no equivalent.",
        f"{where}: shards -> 0 -> router -> mode: ignored key; agijobs has no equivalent.",
    )


# ------------------------------------------------------------------------ blueprint


def test_blueprint_aliases_explicit_id_and_submission_tick(tmp_path: Path) -> None:
    blueprint = write(
        tmp_path / "jobs.json",
        {
            "metadata": {"label": "Small Jobs", "author": "me"},
            "jobs": [
                {
                    "id": "audit-1",
                    "shard": "earth",
                    "requiredSkills": ["finance"],
                    "estimatedDurationTicks": 4,
                    "submissionTick": 12,
                    "note": "one urgent audit",
                },
                {
                    "idPrefix": "nav",
                    "id": "nav-special",
                    "shard": "luna",
                    "skills": ["nav"],
                    "duration": 3,
                    "count": 1,
                    "value": 7,
                    "valueStep": -2,
                },
            ],
        },
    )
    translation = translate_fabric(tmp_path / "fabric.json", small(), blueprint, None)
    assert translation.scenario["name"] == "small-jobs"
    assert translation.scenario["workload"] == [
        {
            "prefix": "audit-1",
            "id": "audit-1",
            "shard": "earth",
            "skills": ["finance"],
            "duration": 4,
            "value": 0,
            "count": 1,
            "arrive": {"start": 12},
            "note": "one urgent audit",
        },
        {
            "prefix": "nav",
            "id": "nav-special",
            "shard": "luna",
            "skills": ["nav"],
            "duration": 3,
            "value": 7,
            "value_step": -2,
            "count": 1,
        },
    ]
    validate(translation.scenario)


def test_an_explicit_id_names_a_single_job(tmp_path: Path) -> None:
    blueprint = write(
        tmp_path / "jobs.json",
        {"jobs": [{"id": "a", "shard": "earth", "skills": ["x"], "duration": 1, "count": 3}]},
    )
    caught = error(translate_fabric, tmp_path / "fabric.json", small(), blueprint, None)
    assert caught.message == f"{blueprint}: jobs -> 0 -> id: names a single job, but count is 3"
    assert caught.hint == "drop `id` (jobs are then named after idPrefix) or set count to 1"


# --------------------------------------------------------------------- owner commands

ALL_COMMANDS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"type": "system.pause", "reason": "r"}, {"command": "pause-all", "reason": "r"}),
    ({"type": "system.resume", "reason": "r"}, {"command": "resume", "reason": "r"}),
    (
        {"type": "shard.pause", "reason": "r", "shard": "luna"},
        {"command": "shard.pause", "reason": "r", "shard": "luna"},
    ),
    (
        {"type": "shard.resume", "reason": "r", "shardId": "luna"},
        {"command": "shard.resume", "reason": "r", "shard": "luna"},
    ),
    (
        {
            "type": "shard.register",
            "reason": "r",
            "shard": {
                "id": "mars",
                "latencyBudgetMs": 300,
                "maxQueue": 50,
                "spilloverTargets": ["earth"],
            },
        },
        {
            "command": "shard.register",
            "reason": "r",
            "shard": {
                "id": "mars",
                "latency_budget_ms": 300,
                "max_queue": 50,
                "spillover": [
                    {
                        "target": "earth",
                        "threshold": 35,
                        "max_drain_per_tick": 50,
                        "required_skills": [],
                    }
                ],
            },
        },
    ),
    (
        {
            "type": "shard.deregister",
            "reason": "r",
            "shard": "luna",
            "redistribution": {"mode": "spillover", "targetShard": "earth"},
        },
        {
            "command": "shard.deregister",
            "reason": "r",
            "shard": "luna",
            "redistribution": {"mode": "spillover", "target": "earth"},
        },
    ),
    (
        {
            "type": "shard.deregister",
            "reason": "r",
            "shardId": "luna",
            "redistribution": {"mode": "cancel"},
        },
        {
            "command": "shard.deregister",
            "reason": "r",
            "shard": "luna",
            "redistribution": {"mode": "cancel"},
        },
    ),
    (
        {
            "type": "shard.update",
            "reason": "r",
            "shard": "earth",
            "update": {
                "displayName": "Earth 2",
                "latencyBudgetMs": 90,
                "maxQueue": 200,
                "router": {
                    "queueAlertThreshold": 150,
                    "spilloverPolicies": [
                        {"target": "luna", "threshold": 170, "maxDrainPerTick": 8}
                    ],
                },
            },
        },
        {
            "command": "shard.update",
            "reason": "r",
            "shard": "earth",
            "update": {
                "name": "Earth 2",
                "latency_budget_ms": 90,
                "max_queue": 200,
                "alert_threshold": 150,
                "spillover": [
                    {
                        "target": "luna",
                        "threshold": 170,
                        "max_drain_per_tick": 8,
                        "required_skills": [],
                    }
                ],
            },
        },
    ),
    (
        {
            "type": "node.register",
            "reason": "r",
            "node": {
                "id": "luna.c",
                "region": "luna",
                "capacity": 6,
                "maxConcurrency": 5,
                "specialties": ["nav"],
                "heartbeatIntervalSec": 9,
                "pricing": {"amount": 0.2, "unit": "job"},
            },
        },
        {
            "command": "node.register",
            "reason": "r",
            "node": {
                "id": "luna.c",
                "shard": "luna",
                "slots": 5,
                "skills": ["nav"],
                "latency_ms": 50,
                "heartbeat_ticks": 9,
                "price_per_job": 0.2,
                "metadata": {"pricing": {"amount": 0.2, "unit": "job"}},
            },
        },
    ),
    (
        {
            "type": "node.update",
            "reason": "r",
            "nodeId": "earth.a",
            "update": {
                "capacity": 2,
                "specialties": ["finance", "audit"],
                "heartbeatIntervalSec": 3,
                "pricing": {"amount": 0.5, "unit": "job"},
                "tags": ["x"],
            },
        },
        {
            "command": "node.update",
            "reason": "r",
            "node": "earth.a",
            "update": {
                "slots": 2,
                "skills": ["finance", "audit"],
                "heartbeat_ticks": 3,
                "price_per_job": 0.5,
                "metadata": {"pricing": {"amount": 0.5, "unit": "job"}, "tags": ["x"]},
            },
        },
    ),
    (
        {"type": "node.deregister", "reason": "r", "node": "luna.b"},
        {"command": "node.deregister", "reason": "r", "node": "luna.b"},
    ),
    (
        {"type": "job.cancel", "reason": "r", "jobId": "f-000003"},
        {"command": "job.cancel", "reason": "r", "job": "f-000003"},
    ),
    (
        {
            "type": "job.cancel",
            "reason": "r",
            "locator": {"kind": "tail", "shard": "earth", "offset": 4},
        },
        {
            "command": "job.cancel",
            "reason": "r",
            "locator": {"kind": "tail", "shard": "earth", "offset": 4, "include_in_flight": False},
        },
    ),
    (
        {
            "type": "job.reroute",
            "reason": "r",
            "locator": {"kind": "tail", "shard": "earth", "offset": 0, "includeInFlight": True},
            "targetShard": "luna",
        },
        {
            "command": "job.reroute",
            "reason": "r",
            "locator": {"kind": "tail", "shard": "earth", "offset": 0, "include_in_flight": True},
            "to": "luna",
        },
    ),
    (
        {"type": "job.reroute", "reason": "r", "jobId": "f-000001", "targetShard": "luna"},
        {"command": "job.reroute", "reason": "r", "job": "f-000001", "to": "luna"},
    ),
    ({"type": "checkpoint.save", "reason": "r"}, {"command": "checkpoint.save", "reason": "r"}),
    (
        {"type": "checkpoint.configure", "reason": "r", "update": {"intervalTicks": 7}},
        {"command": "checkpoint.configure", "reason": "r", "every": 7},
    ),
    (
        {"type": "reporting.configure", "reason": "r", "update": {"defaultLabel": "Gov Drill"}},
        {"command": "reporting.configure", "reason": "r", "label": "gov-drill"},
    ),
]


@pytest.mark.parametrize(
    ("command", "expected"), ALL_COMMANDS, ids=[c["type"] for c, _ in ALL_COMMANDS]
)
def test_each_command_type_translates_and_validates(
    tmp_path: Path, command: dict[str, Any], expected: dict[str, Any]
) -> None:
    translation = with_commands(tmp_path, [{"tick": 5, "command": command}])
    assert translation.scenario["schedule"] == [{"tick": 5, **expected}]
    validate(translation.scenario)


def test_all_fifteen_command_types_are_covered() -> None:
    assert len({c["type"] for c, _ in ALL_COMMANDS}) == 15


def test_reason_falls_back_to_the_note_then_the_type(tmp_path: Path) -> None:
    commands = [
        {"tick": 3, "note": "calm down", "command": {"type": "system.pause"}},
        {"tick": 4, "command": {"type": "system.resume"}},
        {"tick": 5, "note": "n", "command": {"type": "checkpoint.save", "reason": "keep it"}},
    ]
    schedule = with_commands(tmp_path, commands).scenario["schedule"]
    assert schedule == [
        {"tick": 3, "command": "pause-all", "reason": "calm down", "note": "calm down"},
        {"tick": 4, "command": "resume", "reason": "system.resume (reference schedule)"},
        {"tick": 5, "command": "checkpoint.save", "reason": "keep it", "note": "n"},
    ]


def node_update(tick: int, node: str, **update: Any) -> dict[str, Any]:
    return {"tick": tick, "command": {"type": "node.update", "node": node, "update": update}}


def test_node_update_slots_use_the_other_limit_the_node_has_by_then(tmp_path: Path) -> None:
    register = {
        "tick": 2,
        "command": {
            "type": "node.register",
            "node": {"id": "luna.c", "region": "luna", "maxConcurrency": 3, "specialties": ["n"]},
        },
    }
    commands = [
        node_update(5, "earth.a", maxConcurrency=6),  # capacity 4 from the fabric
        node_update(6, "earth.a", capacity=2),  # maxConcurrency 6 from tick 5
        node_update(7, "earth.a", capacity=10, maxConcurrency=8),
        node_update(8, "luna.b", maxConcurrency=1),  # capacity 2 from the fabric
        node_update(9, "luna.b", capacity=5),  # maxConcurrency 1 from tick 8
        node_update(10, "luna.c", capacity=9),  # maxConcurrency 3 from node.register
        register,  # listed last, applies first: entries are read in tick order
    ]
    schedule = with_commands(tmp_path, commands).scenario["schedule"]
    assert [e["update"]["slots"] for e in schedule[:-1]] == [4, 2, 8, 1, 1, 3]
    assert schedule[-1]["command"] == "node.register"
    only = with_commands(tmp_path, [node_update(5, "ghost", capacity=5)]).scenario["schedule"]
    assert only[0]["update"] == {"slots": 5}


def test_shard_update_with_targets_only_rebuilds_spillover_from_the_shard(tmp_path: Path) -> None:
    command = {
        "type": "shard.update",
        "shard": "luna",
        "update": {"spilloverTargets": ["earth"]},
    }
    translation = with_commands(tmp_path, [{"tick": 5, "command": command}])
    assert translation.scenario["schedule"][0]["update"] == {
        "spillover": [
            {"target": "earth", "threshold": 28, "max_drain_per_tick": 50, "required_skills": []}
        ]
    }
    validate(translation.scenario)


def test_configure_commands_note_the_paths_they_ignore(tmp_path: Path) -> None:
    commands = [
        {
            "tick": 5,
            "command": {
                "type": "checkpoint.configure",
                "update": {"intervalTicks": 4, "path": "cp.json"},
            },
        },
        {"tick": 6, "command": {"type": "reporting.configure", "update": {"directory": "out"}}},
    ]
    translation = with_commands(tmp_path, commands, small(reporting={"defaultLabel": "Base"}))
    assert [e.get("every", e.get("label")) for e in translation.scenario["schedule"]] == [
        4,
        "base",
    ]
    owner = tmp_path / "owner.json"
    assert translation.notices[-3:] == (
        f"{owner}: commands -> 0 -> command -> update -> path: ignored; "
        "agijobs keeps checkpoints inside --storage.",
        f"{owner}: commands -> 1 -> command -> update -> directory: ignored; "
        "agijobs keeps reports inside --storage.",
        f"{owner}: commands -> 1 -> command -> update: names no defaultLabel; "
        "the current label `base` stays.",
    )


def test_a_command_that_changes_nothing_is_left_out_with_a_notice(tmp_path: Path) -> None:
    command = {"type": "checkpoint.configure", "update": {"path": "cp.json"}}
    translation = with_commands(tmp_path, [{"tick": 5, "command": command}])
    assert translation.scenario["schedule"] == []
    assert translation.notices[-1] == (
        f"{tmp_path / 'owner.json'}: commands -> 0 -> command: changes nothing agijobs can "
        "apply; the entry is left out."
    )


# ------------------------------------------------------------------------- missions


def write_mission(tmp_path: Path, **changes: Any) -> Path:
    write(tmp_path / "fabric.json", small())
    write(tmp_path / "jobs.json", JOBS)
    mission: dict[str, Any] = {"config": "./fabric.json", "jobBlueprint": "./jobs.json"}
    mission.update(changes)
    return write(tmp_path / "mission.json", mission)


def mission_of(path: Path) -> Translation:
    return translate_mission(path, read_reference(path))


def test_mission_run_directives(tmp_path: Path) -> None:
    path = write_mission(
        tmp_path,
        metadata={"label": "  My Drill!! 2 ", "author": "me"},
        reporting={"defaultLabel": "Mission Report"},
        run={"simulateOutage": "luna.b", "outageTick": 12, "stopAfterTicks": 40},
    )
    doc = mission_of(path).scenario
    assert doc["name"] == "my-drill-2"
    assert doc["faults"] == [{"tick": 12, "node": "luna.b", "kind": "outage"}]
    assert doc["run"] == {"stop_after_ticks": 40}
    assert doc["reporting"] == {"label": "mission-report"}
    validate(doc)


def test_mission_name_falls_back_to_the_blueprint_label_then_the_fabric_stem(
    tmp_path: Path,
) -> None:
    assert mission_of(write_mission(tmp_path)).scenario["name"] == "fabric"
    write(tmp_path / "jobs.json", {**JOBS, "metadata": {"label": "Blue Print"}})
    path = tmp_path / "mission.json"
    assert mission_of(path).scenario["name"] == "blue-print"


def test_mission_with_inline_config_and_a_yaml_blueprint(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump(JOBS), encoding="utf-8")
    path = write(tmp_path / "drill.json", {"config": small(), "jobBlueprint": "jobs.yaml"})
    translation = mission_of(path)
    assert translation.scenario["name"] == "drill"
    assert translation.scenario["workload"][0]["prefix"] == "f"
    assert translation.notices[0].startswith(f"{path}: config -> nodes: reference nodes")
    validate(translation.scenario)


# --------------------------------------------------------------------------- errors


def test_missing_referenced_file(tmp_path: Path) -> None:
    path = write_mission(tmp_path, config="./nope.json")
    caught = error(mission_of, path)
    assert caught.message == f"{path}: config: no such file {tmp_path / 'nope.json'}"
    assert caught.hint == "paths are relative to the folder of the file that names them"


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = write_mission(tmp_path)
    (tmp_path / "fabric.json").write_text('{\n  "owner": {,\n}', encoding="utf-8")
    caught = error(mission_of, path)
    assert caught.message == (
        f"{tmp_path / 'fabric.json'}: line 2 column 13: invalid JSON "
        "(unexpected character, expected a string key)"
    )
    assert caught.hint == "fix the JSON syntax"


def test_referenced_file_of_the_wrong_kind(tmp_path: Path) -> None:
    path = write_mission(tmp_path, config="./jobs.json")
    caught = error(mission_of, path)
    assert caught.message == (
        f"{path}: config: {tmp_path / 'jobs.json'} is not a fabric config; "
        "it looks like a job blueprint"
    )
    assert caught.hint == "point `config` at a fabric config: top-level `shards` and `nodes` lists"


def test_unknown_command_type_gets_a_did_you_mean(tmp_path: Path) -> None:
    commands = [{"tick": 5, "command": {"type": "shard.pase", "shard": "luna"}}]
    caught = error(with_commands, tmp_path, commands)
    assert caught.message == (
        f"{tmp_path / 'owner.json'}: commands -> 0 -> command -> type: "
        "unknown command type `shard.pase`; did you mean `shard.pause`?"
    )
    assert str(caught.hint).startswith("use one of system.pause, system.resume, shard.pause, ")


def test_node_without_capacity_or_max_concurrency(tmp_path: Path) -> None:
    raw = small()
    del raw["nodes"][1]["capacity"]
    caught = error(fabric_only, tmp_path, raw)
    assert caught.message == (
        f"{tmp_path / 'fabric.json'}: nodes -> 1: needs `capacity` or `maxConcurrency` "
        "(its number of slots)"
    )
    assert caught.hint == "add `capacity` (a whole number > 0, e.g. 12)"


def test_wrong_type_names_the_reference_key_path() -> None:
    raw = small()
    raw["nodes"][1]["capacity"] = "x"
    caught = error(translate_fabric, Path("fabric.example.json"), raw, None, None)
    assert caught.message == (
        "fabric.example.json: nodes -> 1 -> capacity: must be a whole number > 0 (got 'x')"
    )
    assert caught.hint == "write a whole number > 0, e.g. 12"


def test_simulate_outage_needs_an_outage_tick(tmp_path: Path) -> None:
    path = write_mission(tmp_path, run={"simulateOutage": "luna.b"})
    caught = error(mission_of, path)
    assert caught.message == f"{path}: run -> outageTick: required with simulateOutage (`luna.b`)"
    assert caught.hint == "add `outageTick`: the tick the node goes down, e.g. 45"


def test_a_mission_without_a_blueprint_is_refused(tmp_path: Path) -> None:
    path = write_mission(tmp_path, run={"jobs": 500})
    raw = read_reference(path)
    del raw["jobBlueprint"]
    caught = error(translate_mission, path, raw)
    assert caught.message == f"{path}: jobBlueprint: agijobs needs the jobs themselves"
    assert caught.hint == "name a jobBlueprint / pass --blueprint"


def test_a_missing_required_key(tmp_path: Path) -> None:
    raw = small()
    del raw["shards"][1]["maxQueue"]
    caught = error(fabric_only, tmp_path, raw)
    assert (
        caught.message
        == f"{tmp_path / 'fabric.json'}: shards -> 1 -> maxQueue: required key is missing"
    )
    assert caught.hint == "add `maxQueue` (a whole number > 0, e.g. 12)"


# ----------------------------------------------------------------------------- YAML


def test_emit_yaml_parses_back_to_the_same_scenario() -> None:
    translation = translate_mission(MISSION, read_reference(MISSION))
    text = emit_yaml(translation, MISSION)
    lines = text.splitlines()
    assert lines[0] == f"# agijobs scenario translated from the reference demo file {MISSION}"
    assert lines[3 : 3 + len(translation.notices)] == [f"#   - {n}" for n in translation.notices]
    loaded = yaml.safe_load(text)
    assert loaded == translation.scenario
    assert list(loaded) == list(translation.scenario)
    assert list(loaded["fabric"]["nodes"][0]) == list(translation.scenario["fabric"]["nodes"][0])


def test_emit_yaml_without_notices(tmp_path: Path) -> None:
    translation = Translation(scenario_dict(), ())
    text = emit_yaml(translation, tmp_path / "x.json")
    assert "# Notices: none; everything was translated.\n" in text
    assert yaml.safe_load(text) == scenario_dict()


def test_emitted_yaml_loads_as_an_agijobs_scenario_file(tmp_path: Path) -> None:
    translation = translate_mission(MISSION, read_reference(MISSION))
    path = tmp_path / "drill.yaml"
    path.write_text(emit_yaml(translation, MISSION), encoding="utf-8")
    plan = load_plan(path)
    assert plan.scenario.name == "kardashev-ii-planetary-drill"
    assert len(plan.scenario.schedule) == 11
