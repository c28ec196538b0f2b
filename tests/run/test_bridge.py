"""The executor bridge, end to end: parity with in process, and every failure it must survive
or report (a real child process each time: the reference Node bridge, or the Python one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from agijobs.errors import BadInput
from agijobs.run.bridge import BridgeExecutor, BridgeSettings, ExecutorFailed

from ..contract_check import check_document
from ..helpers import agijobs as run_cli
from ..helpers import file_hashes, sha

ROOT = Path(__file__).parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
NODE = shutil.which("node")
NODE_BRIDGE = f"node {ROOT / 'bridge' / 'bridge.mjs'}"
PYTHON_BRIDGE = f"{sys.executable} {ROOT / 'bridge' / 'tiny_bridge.py'}"
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def agijobs(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=ROOT, timeout=300, **env)


def golden(path: Path) -> str:
    text = path.read_text()
    return text.split("events_digest:")[1].split()[0]


@needs_node
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_gives_the_same_log_through_the_bridge(
    path: Path, tmp_path: Path
) -> None:
    ran = agijobs("run", str(path), "--storage", str(tmp_path / "s"), "--executor", "bridge",
                  AGIJOBS_BRIDGE=NODE_BRIDGE)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert sha(tmp_path / "s" / "events.ndjson") == golden(path)


def test_the_python_bridge_speaks_the_same_protocol(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "incident-pause.yaml"
    ran = agijobs("run", str(path), "--storage", str(tmp_path / "s"), "--executor", "bridge",
                  "--bridge", PYTHON_BRIDGE)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert sha(tmp_path / "s" / "events.ndjson") == golden(path)
    sessions = (tmp_path / "s" / "sessions.ndjson").read_bytes().splitlines()
    payloads = [orjson.loads(s) for s in sessions if b"governance.payload" in s]
    assert payloads and all(p["payload"]["to"] == "fabric-governor" for p in payloads)


@needs_node
def test_a_bridge_killed_mid_run_is_restarted_and_nothing_is_lost(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "earth-backlog-reroute.yaml"
    marker = tmp_path / "crashed-once"
    ran = agijobs("run", str(path), "--storage", str(tmp_path / "s"), "--executor", "bridge",
                  AGIJOBS_BRIDGE=NODE_BRIDGE, AGIJOBS_BRIDGE_CRASH_AT_TICK="40",
                  AGIJOBS_BRIDGE_CRASH_MARKER=str(marker))  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert marker.exists(), "the bridge never crashed: the test tested nothing"
    # The re-sent tick was answered once: the log is the in-process one, byte for byte.
    assert sha(tmp_path / "s" / "events.ndjson") == golden(path)


@needs_node
def test_a_hung_bridge_times_out_retries_then_stops_the_run_resumably(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "earth-backlog-reroute.yaml"
    storage = tmp_path / "s"
    ran = agijobs("run", str(path), "--storage", str(storage), "--executor", "bridge",
                  "--bridge-timeout", "0.2", AGIJOBS_BRIDGE=NODE_BRIDGE,
                  AGIJOBS_BRIDGE_HANG_AT_TICK="10")  # fmt: skip
    assert ran.returncode == 4, ran.stderr
    expected = f"bridge `{NODE_BRIDGE}`: no answer to tick 10 within 0.2s (3 retries failed)"
    assert f"Error: {expected}" in ran.stderr
    resumed = agijobs("runner", "start", "--storage", str(storage), "--executor", "bridge",
                      AGIJOBS_BRIDGE=NODE_BRIDGE)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert sha(storage / "events.ndjson") == golden(path)


@needs_node
def test_a_bridge_writing_garbage_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "earth-backlog-reroute.yaml"
    ran = agijobs("run", str(path), "--storage", str(tmp_path / "s"), "--executor", "bridge",
                  AGIJOBS_BRIDGE=NODE_BRIDGE, AGIJOBS_BRIDGE_GARBAGE_AT_TICK="4")  # fmt: skip
    assert ran.returncode == 4, ran.stderr
    assert "is not JSON: b'this is not json'" in ran.stderr
    # Lines are counted per child: each restarted one answers hello, then garbles tick 4.
    assert "bridge stdout line 2 is not JSON" in ran.stderr


@needs_node
def test_a_protocol_mismatch_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "incident-pause.yaml"
    ran = agijobs("run", str(path), "--storage", str(tmp_path / "s"), "--executor", "bridge",
                  AGIJOBS_BRIDGE=NODE_BRIDGE, AGIJOBS_BRIDGE_PROTOCOL="2")  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert "speaks protocol 2, agijobs speaks 1" in ran.stderr
    assert file_hashes(tmp_path / "s") == {}


def test_bridge_without_a_command_is_bad_input(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGIJOBS_BRIDGE"}
    ran = subprocess.run(
        [sys.executable, "-m", "agijobs", "run", str(ROOT / "scenarios" / "incident-pause.yaml"),
         "--storage", str(tmp_path / "s"), "--executor", "bridge"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.startswith("Error: --executor bridge: no bridge command")


@needs_node
def test_rejected_jobs_are_retried_then_fail_with_the_executors_reason(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('{"reject": [{"skill": "gpu", "reason": "skill gpu is quarantined"}]}')
    storage = tmp_path / "s"
    bridge = f"{NODE_BRIDGE} --rules {rules}"
    ran = agijobs("run", str(ROOT / "scenarios" / "planetary.yaml"), "--storage", str(storage),
                  "--executor", "bridge", "--bridge", bridge)  # fmt: skip
    assert ran.returncode == 1, ran.stderr  # the scenario's expectations fail, as they should
    events = [orjson.loads(line) for line in (storage / "events.ndjson").read_bytes().splitlines()]
    first = next(e["data"]["job"] for e in events if e["type"] == "job.rejected")
    journey = [
        (e["type"], e["data"].get("attempt"), e["data"].get("reason"))
        for e in events
        if e["type"] in ("job.assigned", "job.rejected", "job.failed") and e["data"]["job"] == first
    ]
    assert journey == [
        ("job.assigned", None, None),
        ("job.rejected", 1, "skill gpu is quarantined"),
        ("job.assigned", None, None),
        ("job.rejected", 2, "skill gpu is quarantined"),
        ("job.assigned", None, None),
        ("job.rejected", 3, "skill gpu is quarantined"),
        ("job.failed", None, "executor: skill gpu is quarantined"),
    ]
    # Without the bridge the run cannot be re-made: the quick audit, saying so.
    audited = agijobs("audit", "--storage", str(storage), "--json")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    report = orjson.loads(audited.stdout)
    assert report["mode"] == "quick"
    assert report["not_proved"][0].startswith(
        "that the events are what the plan, the owner commands and the external executor's "
        "answers give ("
    )
    derived = agijobs("audit", "--storage", str(storage), "--executor", "bridge",
                      "--bridge", bridge, "--json")  # fmt: skip
    assert derived.returncode == 0, derived.stderr
    assert orjson.loads(derived.stdout)["mode"] == "derived"


FAKE = """
import sys, json
for n, line in enumerate(sys.stdin):
    request = json.loads(line)
    if request["op"] == "hello":
        print(json.dumps({"id": "hello", "ok": True, "protocol": 1}), flush=True)
    else:
        print("x" * 2000, flush=True)
"""


def test_an_oversized_line_is_an_error_naming_it(tmp_path: Path) -> None:
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    settings = BridgeSettings([sys.executable, str(script)], timeout=5, retries=1, max_line=1000)
    executor = BridgeExecutor(settings, seed=1)
    executor.start()
    try:
        with pytest.raises(ExecutorFailed, match="stdout line 2 is longer than 1000 bytes"):
            executor.tick(1, [], [])
    finally:
        executor.close()


def test_a_bridge_that_cannot_start_is_bad_input() -> None:
    executor = BridgeExecutor(BridgeSettings(["/nonexistent/bridge"]), seed=1)
    with pytest.raises(BadInput, match="cannot start"):
        executor.start()


# ------------------------------------------------------------------ node operations


@needs_node
def test_cordon_drain_and_bridge_node_reports_are_recorded_and_replayed(tmp_path: Path) -> None:
    """A run whose bridge reports a node down then up, with a cordon and a drain at rest in
    between: the audit re-makes it, byte for byte, with the same bridge (and says it cannot
    without it)."""
    storage = tmp_path / "s"
    bridge = f"{NODE_BRIDGE} --nodes earth.edge-europa,12,down;earth.edge-europa,30,up"
    common = ("--storage", str(storage), "--executor", "bridge", "--bridge", bridge)
    ran = agijobs("run", str(ROOT / "scenarios" / "planetary.yaml"), *common,
                  "--stop-after-ticks", "20")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    for command in (
        ("cordon", "luna.nav-station", "--reason", "flaky NIC"),
        ("drain", "mars.regolith-cradle", "--deadline", "5", "--reason", "kernel upgrade"),
    ):
        done = agijobs(*command, "--storage", str(storage))
        assert done.returncode == 0, done.stderr
    resumed = agijobs("runner", "start", *common, "--stop-after-ticks", "30")
    assert resumed.returncode == 0, resumed.stderr
    events = [orjson.loads(line) for line in (storage / "events.ndjson").read_bytes().splitlines()]
    for event in events:  # written by child processes: held to their schemas here
        check_document(event, f"events.ndjson line {event['seq']}")
    noted = [
        (e["tick"], e["type"], e["data"].get("node"), e["data"].get("by"))
        for e in events
        if e["type"]
        in ("executor.nodes", "node.down", "node.up", "node.drained", "owner.node.cordon")
    ]
    assert noted[0][:2] == (12, "executor.nodes")
    assert (12, "node.down", "earth.edge-europa", "executor") in noted
    assert (20, "owner.node.cordon", None, None) in noted
    assert (25, "node.drained", "mars.regolith-cradle", None) in noted
    up = next(t for t, kind, node, by in noted if kind == "node.up" and by == "executor")
    assert up >= 30  # reported at the first tick the runner asks the bridge from tick 30 on
    luna = [e for e in events if e["type"] == "job.assigned" and e["tick"] > 20]
    assert luna and all(e["data"]["node"] != "luna.nav-station" for e in luna)
    quick = orjson.loads(agijobs("audit", "--storage", str(storage), "--json").stdout)
    assert quick["mode"] == "quick"
    derived = agijobs("audit", *common, "--json")
    assert derived.returncode == 0, derived.stderr
    assert orjson.loads(derived.stdout)["mode"] == "derived"
    # Another bridge, reporting otherwise, makes the replay diverge.
    other = ("--storage", str(storage), "--executor", "bridge", "--bridge", NODE_BRIDGE)
    diverged = agijobs("audit", *other)
    assert diverged.returncode == 3, diverged.stderr
    assert "the bridge answered differently this time" in diverged.stderr
