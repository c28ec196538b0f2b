"""A live runner's /metrics (`--metrics-addr`): the series a scrape shows, their values
against `status`, the same text as the textfile; an address in use (exit 4) and one that is
not an address (exit 2), with the storage untouched."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from ..helpers import cli, samples, scenario_dict, scrape, serving_metrics, write_scenario

SHARDS = ("earth", "luna")
NODES = (("earth", "earth.a"), ("earth", "earth.b"), ("luna", "luna.c"))
FABRIC_SERIES = (
    "agijobs_last_tick",
    "agijobs_paused",
    "agijobs_events_total",
    "agijobs_owner_actions_total",
    "agijobs_owner_interventions_total",
)
SHARD_SERIES = (
    "agijobs_queue_depth",
    "agijobs_in_flight",
    "agijobs_latency_budget_ms",
    "agijobs_shard_up",
    "agijobs_nodes_up",
    "agijobs_jobs_completed_total",
    "agijobs_jobs_failed_total",
)
NODE_SERIES = (
    "agijobs_node_up",
    "agijobs_node_in_flight",
    "agijobs_node_slots",
    "agijobs_node_latency_ms",
    "agijobs_node_over_budget",
    "agijobs_node_jobs_completed_total",
    "agijobs_node_jobs_failed_total",
)


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset({"fabric": "unit", **pairs}.items())


@pytest.fixture
def paused_scenario(tmp_path: Path) -> Path:
    """Jobs arriving on earth, a pause at tick 3 that nothing lifts: run with --wait, the
    runner finishes what is in flight and waits, its fabric still."""
    data = scenario_dict(
        workload=[
            {
                "prefix": "f",
                "shard": "earth",
                "skills": ["finance"],
                "count": 40,
                "duration": 2,
                "value": 100,
                "arrive": {"start": 1, "per_tick": 20},
            }
        ],
        schedule=[{"tick": 3, "command": "pause-all", "reason": "hold"}],
    )
    return write_scenario(tmp_path / "paused.yaml", data)


def settled(url: str, storage: Path) -> tuple[str, dict]:
    """A scrape and a `status` of the paused, idle runner, taken once both show it so, and
    the runner's tick stays where it is (paced at 20 ms a tick, it would have moved)."""
    deadline = time.monotonic() + 60
    while True:
        text = scrape(url)
        status = orjson.loads(cli("status", "--json", "--storage", str(storage)).stdout)
        found = samples(text)
        idle = status["state"] == "running, paused" and not any(
            shard["in_flight"] for shard in status["shards"]
        )
        if idle and found[("agijobs_last_tick", labels())] == status["tick"]:
            time.sleep(0.3)
            if scrape(url) == text:
                return text, status
        assert time.monotonic() < deadline, (status, text)
        time.sleep(0.1)


def test_a_scrape_shows_every_series_with_the_values_status_shows(
    paused_scenario: Path, tmp_path: Path
) -> None:
    storage = tmp_path / "s"
    with serving_metrics(paused_scenario, storage, "--wait", "--tick-ms", "20") as url:
        text, status = settled(url, storage)
        head = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(head, timeout=10) as answer:
            assert answer.status == 200 and answer.read() == b""
        with pytest.raises(urllib.error.HTTPError) as elsewhere:
            urllib.request.urlopen(url.removesuffix("metrics") + "other", timeout=10)
        elsewhere.value.close()
        assert elsewhere.value.code == 404
    found = samples(text)
    expected = {(name, labels()) for name in FABRIC_SERIES}
    expected |= {(name, labels(shard=s)) for name in SHARD_SERIES for s in SHARDS}
    expected |= {
        ("agijobs_spillovers_total", labels(shard=s, direction=d))
        for s in SHARDS
        for d in ("in", "out")
    }
    expected |= {(name, labels(shard=s, node=n)) for name in NODE_SERIES for s, n in NODES}
    assert set(found) == expected
    # Every family says what it is; counters are named so.
    for name in {name for name, _ in found}:
        assert f"# HELP {name} " in text
        kind = "counter" if name.endswith("_total") else "gauge"
        assert f"# TYPE {name} {kind}\n" in text

    assert found[("agijobs_paused", labels())] == 1
    assert found[("agijobs_events_total", labels())] == status["events"]
    assert found[("agijobs_owner_actions_total", labels())] == 1  # the scheduled pause
    assert found[("agijobs_owner_interventions_total", labels())] == 0
    for shard in status["shards"]:
        at = labels(shard=shard["id"])
        assert found[("agijobs_queue_depth", at)] == shard["queued"]
        assert found[("agijobs_in_flight", at)] == shard["in_flight"] == 0
        assert found[("agijobs_latency_budget_ms", at)] == shard["budget_ms"]
        assert found[("agijobs_jobs_completed_total", at)] == shard["completed"]
        assert found[("agijobs_jobs_failed_total", at)] == shard["failed"]
        on_shard = [n for n in status["nodes"] if n["shard"] == shard["id"]]
        up = sum(n["status"] == "up" for n in on_shard)
        assert found[("agijobs_nodes_up", at)] == up
        assert found[("agijobs_shard_up", at)] == (1 if up else 0)
        completed = sum(
            found[("agijobs_node_jobs_completed_total", labels(shard=shard["id"], node=n["id"]))]
            for n in on_shard
        )
        assert completed == shard["completed"]
    earth = next(s for s in status["shards"] if s["id"] == "earth")
    assert earth["completed"] > 0 and earth["queued"] > 0  # the pause held work back
    for node in status["nodes"]:
        at = labels(shard=node["shard"], node=node["id"])
        assert found[("agijobs_node_up", at)] == (node["status"] == "up")
        assert found[("agijobs_node_in_flight", at)] == node["running"]
        assert found[("agijobs_node_slots", at)] == node["slots"]
        assert found[("agijobs_node_latency_ms", at)] == node["latency_ms"]
        assert found[("agijobs_node_over_budget", at)] == node["over_budget"]
        assert found[("agijobs_node_jobs_failed_total", at)] == 0
    # The textfile of the checkpoint the runner waits at is the same text, byte for byte.
    assert (storage / "metrics.prom").read_text() == text


def test_an_address_in_use_exits_4_naming_it_and_the_fix(
    paused_scenario: Path, tmp_path: Path
) -> None:
    storage = tmp_path / "s"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("run", str(paused_scenario), "--storage", str(storage),
                     "--metrics-addr", f"127.0.0.1:{port}")  # fmt: skip
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: --metrics-addr 127.0.0.1:{port}: the address is in use (another runner or "
        "exporter listens there) — stop what listens there, or give another port, e.g. "
        f"--metrics-addr 127.0.0.1:{port + 1}\n"
    )
    assert not storage.exists()


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("9464", "'9464' is not HOST:PORT"),
        ("localhost:http", "'localhost:http' is not HOST:PORT"),
        ("127.0.0.1:70000", "'127.0.0.1:70000' is not HOST:PORT"),
    ],
)
def test_a_bad_address_exits_2_and_writes_nothing(
    paused_scenario: Path, tmp_path: Path, address: str, problem: str
) -> None:
    storage = tmp_path / "s"
    result = cli("run", str(paused_scenario), "--storage", str(storage), "--metrics-addr", address)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: --metrics-addr: {problem} — e.g. --metrics-addr 127.0.0.1:9464, or :9464 for "
        "every interface\n"
    )
    assert not storage.exists()


def test_an_address_not_of_this_machine_exits_2(paused_scenario: Path, tmp_path: Path) -> None:
    storage = tmp_path / "s"
    result = cli(
        "run", str(paused_scenario), "--storage", str(storage), "--metrics-addr", "192.0.2.1:9464"
    )  # fmt: skip  (TEST-NET-1: never ours)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: --metrics-addr 192.0.2.1:9464: cannot listen there (")
    assert not storage.exists()


def test_serving_metrics_changes_no_byte_of_the_run(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "f.yaml", scenario_dict())
    plain, served = tmp_path / "plain", tmp_path / "served"
    assert cli("run", str(scenario), "--storage", str(plain)).exit_code == 0
    result = cli("run", str(scenario), "--storage", str(served), "--metrics-addr", "127.0.0.1:0")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Notice: serving Prometheus metrics at http://127.0.0.1:")
    for name in ("events.ndjson", "checkpoint.json", "metrics.prom", "metrics.ndjson"):
        assert (served / name).read_bytes() == (plain / name).read_bytes(), name


def test_runner_start_serves_metrics_while_it_runs(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "f.yaml", scenario_dict())
    storage = tmp_path / "s"
    stopped = cli("run", str(scenario), "--storage", str(storage), "--stop-after-ticks", "2")
    assert stopped.exit_code == 0, stopped.output
    resumed = cli("runner", "start", "--storage", str(storage), "--metrics-addr", "127.0.0.1:0")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stderr.startswith("Notice: serving Prometheus metrics at http://127.0.0.1:")
    assert 'agijobs_jobs_completed_total{fabric="unit",shard="earth"} 10\n' in (
        (storage / "metrics.prom").read_text()
    )
