"""Builders shared by the tests: small scenarios as dicts, engines, the CLI in process and in
child processes, and a stored run's owner events."""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import importlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import yaml
from typer.testing import CliRunner

from agijobs.cli import app
from agijobs.fabric.engine import Engine
from agijobs.scenario.models import Scenario
from agijobs.scenario.plan import fabric_inputs

BASE: dict[str, Any] = {
    "name": "unit",
    "seed": 1,
    "fabric": {
        "owner": {"name": "Owner"},
        "shards": [
            {
                "id": "earth",
                "latency_budget_ms": 120,
                "max_queue": 100,
                "spillover": [{"target": "luna", "threshold": 50, "max_drain_per_tick": 5}],
            },
            {"id": "luna", "latency_budget_ms": 180, "max_queue": 100},
        ],
        "nodes": [
            {
                "id": "earth.a",
                "shard": "earth",
                "slots": 2,
                "skills": ["finance"],
                "latency_ms": 80,
                "heartbeat_ticks": 2,
            },
            {
                "id": "earth.b",
                "shard": "earth",
                "slots": 3,
                "skills": ["finance"],
                "latency_ms": 90,
                "heartbeat_ticks": 2,
            },
            {
                "id": "luna.c",
                "shard": "luna",
                "slots": 2,
                "skills": ["general"],
                "latency_ms": 150,
                "heartbeat_ticks": 3,
            },
        ],
    },
    "workload": [
        {
            "prefix": "f",
            "shard": "earth",
            "skills": ["finance"],
            "count": 10,
            "duration": 2,
            "value": 100,
            "value_step": 1,
        },
    ],
    "run": {"max_ticks": 500, "checkpoint_every": 5},
}


def scenario_dict(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return data


def make_scenario(**changes: Any) -> Scenario:
    return Scenario.model_validate(scenario_dict(**changes))


def engine_of(scenario: Scenario) -> Engine:
    """A fresh engine for a validated scenario."""
    return Engine(fabric_inputs(scenario))


def run_engine(
    scenario: Scenario, ticks: int = 500
) -> tuple[Engine, list[tuple[int, str, dict[str, Any]]]]:
    engine = engine_of(scenario)
    events: list[tuple[int, str, dict[str, Any]]] = []
    while not engine.is_done() and engine.state.tick < ticks:
        for kind, data in engine.run_tick():
            events.append((engine.state.tick, kind, data))
    return engine, events


def write_scenario(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def long_scenario(path: Path, *, duration: int = 2, run: dict[str, Any] | None = None) -> Path:
    """A scenario whose paced run lasts long enough to talk to (400 jobs arriving two a
    tick on earth, each taking `duration` ticks), written to `path`; `run` is its run block
    (default: only the tick-0 checkpoint, so a kill lands before the next one)."""
    group = {
        "prefix": "f",
        "shard": "earth",
        "skills": ["finance"],
        "count": 400,
        "duration": duration,
        "arrive": {"start": 1, "per_tick": 2},
    }
    given = run or {"max_ticks": 2000, "checkpoint_every": 2000}
    return write_scenario(path, scenario_dict(workload=[group], run=given))


def cli(*args: str) -> Any:
    """Invoke the CLI in-process; stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def file_hashes(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def agijobs(
    *args: str, cwd: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as an operator's shell would (`env`: variables
    added to this process's environment)."""
    result = subprocess.run(
        [sys.executable, "-m", "agijobs", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env} if env else None,
        cwd=cwd,
    )
    from .contract_check import check_output  # a plugin: imported after pytest loads it

    check_output(args, result.stdout)  # every --json document keeps its published schema
    return result


def start(*args: str) -> subprocess.Popen[bytes]:
    """Start the real CLI in a child process and leave it running (its output discarded)."""
    return subprocess.Popen(
        [sys.executable, "-m", "agijobs", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(path: Path, seconds: float = 30) -> None:
    """Wait until `path` exists (a runner's checkpoint or live file), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def owner_events(storage: Path) -> list[dict]:
    """The `owner.*` events of a run stored in the directory `storage`, oldest first."""
    lines = (storage / "events.ndjson").read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    return [e for e in events if e["type"].startswith("owner.")]


def fabric_without(node_id: str) -> dict[str, Any]:
    """The base fabric minus one node (e.g. the `general` node that serves anything)."""
    fabric = copy.deepcopy(BASE["fabric"])
    fabric["nodes"] = [n for n in fabric["nodes"] if n["id"] != node_id]
    return fabric


@contextlib.contextmanager
def holding_lock(path: Path) -> Iterator[None]:
    """Hold `path`'s flock as another process would (a descriptor of our own)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def scrape(url: str) -> str:
    """What a Prometheus server would read from `url`."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text: str = answer.read().decode("utf-8")
    return text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of a Prometheus text exposition: (name, labels) -> value."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, labels = series.partition("{")
        pairs = frozenset(
            (key, raw.strip('"'))
            for key, _, raw in (item.partition("=") for item in labels.rstrip("}").split(","))
            if key
        )
        assert (name, pairs) not in found, line
        found[(name, pairs)] = float(value)
    return found


@contextlib.contextmanager
def serving_metrics(scenario: Path, storage: Path, *options: str) -> Iterator[str]:
    """`agijobs run` of `scenario` in a child process, serving /metrics on a free port of
    127.0.0.1; yields the URL once it answers, and stops the runner when the block ends."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    runner = start("run", str(scenario), "--storage", str(storage), "--metrics-addr", address,
                   *options)  # fmt: skip
    url = f"http://{address}/metrics"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                scrape(url)
                break
            except OSError as error:  # not listening yet, or no sample yet (503)
                if isinstance(error, urllib.error.HTTPError):
                    error.close()
                assert runner.poll() is None, f"the runner exited ({runner.returncode})"
                assert time.monotonic() < deadline, f"{url} never answered"
                time.sleep(0.05)
        yield url
    finally:
        runner.terminate()
        runner.wait(timeout=60)


def load_script(name: str) -> ModuleType:
    """scripts/NAME.py as a module. scripts/ is not a package: its modules import each other
    from beside them, as `python scripts/NAME.py` runs them, so it goes on the path."""
    scripts = str(Path(__file__).resolve().parent.parent / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module(name)
