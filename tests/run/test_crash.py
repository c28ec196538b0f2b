"""SIGKILL a real `agijobs run` process mid-run; `agijobs resume` gives the same bytes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..helpers import agijobs, sha

SCENARIO = Path(__file__).parents[2] / "scenarios" / "crash-resume.yaml"
OUTPUTS = ("events.ndjson", "checkpoint.json", "summary.json")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    storage = tmp_path_factory.mktemp("whole") / "storage"
    result = agijobs("run", str(SCENARIO), "--storage", str(storage))
    assert result.returncode == 0, result.stderr
    return storage


@pytest.mark.parametrize("events_before_kill", [200, 1500, 4000])
def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_bytes(
    uninterrupted: Path, tmp_path: Path, events_before_kill: int
) -> None:
    storage = tmp_path / "storage"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agijobs",
            "run",
            str(SCENARIO),
            "--storage",
            str(storage),
            "--tick-ms",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = storage / "events.ndjson"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if log.exists() and log.stat().st_size // 150 >= events_before_kill:
            break
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    status = agijobs("status", "--storage", str(storage), "--json")
    assert '"state": "crashed"' in status.stdout, status.stdout + status.stderr
    resumed = agijobs("runner", "start", "--storage", str(storage))
    assert resumed.returncode == 0, resumed.stderr
    for name in OUTPUTS:
        assert sha(storage / name) == sha(uninterrupted / name), name
    sessions = (storage / "sessions.ndjson").read_text()
    assert '"event":"crash-detected"' in sessions
    audited = agijobs("audit", "--storage", str(storage))
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_crash_before_the_first_checkpoint_resumes_from_scratch(
    uninterrupted: Path, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    stopped = agijobs("run", str(SCENARIO), "--storage", str(storage), "--stop-after-ticks", "3")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    # As if killed right after writing run.started: first line only, no checkpoint.
    first = (storage / "events.ndjson").read_bytes().split(b"\n")[0] + b"\n"
    (storage / "events.ndjson").write_bytes(first + b'{"data":{"jo')
    (storage / "checkpoint.json").unlink()
    resumed = agijobs("runner", "start", "--storage", str(storage))
    assert resumed.returncode == 0, resumed.stderr
    for name in OUTPUTS:
        assert sha(storage / name) == sha(uninterrupted / name), name
