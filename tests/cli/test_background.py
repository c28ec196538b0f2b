"""The runner as a service: `run --detach` returns once the runner is live, `runner stop`
stops it at a checkpoint, and a run in the background of a terminal draws nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from agijobs.cli import render
from agijobs.cli.background import command_line
from agijobs.cli.running import run
from agijobs.run.sessions import host

from ..helpers import (
    agijobs,
    file_hashes,
    long_scenario,
    make_scenario,
    run_engine,
    scenario_dict,
    write_scenario,
)


@pytest.fixture
def paced(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A scenario that runs long enough to talk to, and its storage; no runner is left
    behind, whatever the test did."""
    storage = tmp_path / "storage"
    yield long_scenario(tmp_path / "long.yaml", run={"max_ticks": 2000}), storage
    if storage.is_dir():
        stopped = agijobs("runner", "stop", "--storage", str(storage))
        assert stopped.returncode == 0, stopped.stderr


def detach(scenario: Path, storage: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return agijobs(
        "run", str(scenario), "--storage", str(storage), "--detach", "--tick-ms", "20", *more
    )


def test_run_detach_returns_once_live_and_runner_stop_stops_it_at_a_checkpoint(
    paced: tuple[Path, Path],
) -> None:
    scenario, storage = paced
    started = detach(scenario, storage, "--wait")
    assert started.returncode == 0, started.stderr
    printed = re.fullmatch(
        rf"runner (\d+) live at tick 0 on {re.escape(str(storage))} "
        rf"\(log: {re.escape(str(storage / 'runner.log'))}\)\n",
        started.stdout,
    )
    assert printed, started.stdout
    pid = int(printed.group(1))
    status = orjson.loads(agijobs("status", "--storage", str(storage), "--json").stdout)
    assert (status["state"], status["pid"]) == ("running", pid)  # live as soon as it returns
    paused = agijobs("pause-all", "--reason", "hold", "--storage", str(storage))
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.endswith(" live run)\n"), paused.stdout

    stopped = agijobs("runner", "stop", "--storage", str(storage), "--json")
    assert stopped.returncode == 0, stopped.stderr
    document = orjson.loads(stopped.stdout)
    checkpoint = orjson.loads((storage / "checkpoint.json").read_bytes())
    assert document == {
        "api_version": "agijobs/v1",
        "kind": "RunnerStopped",
        "pid": pid,
        "tick": checkpoint["tick"],
        "how": "SIGTERM",
    }
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert (summary["reason"], summary["tick"]) == ("interrupted", checkpoint["tick"])
    sessions = [orjson.loads(line) for line in (storage / "sessions.ndjson").read_bytes().split()]
    assert sessions[-1]["event"] == "stopped" and sessions[-1]["pid"] == pid
    log = (storage / "runner.log").read_text(encoding="utf-8")
    assert log.startswith("--- ")
    assert f"stopped at tick {checkpoint['tick']} (interrupted)" in log
    again = agijobs("runner", "stop", "--storage", str(storage))
    assert (again.returncode, again.stdout) == (0, "no runner live\n")
    audit = agijobs("audit", "--storage", str(storage))
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_run_detach_json_is_one_runner_started_document(paced: tuple[Path, Path]) -> None:
    scenario, storage = paced
    log = storage.parent / "elsewhere.log"
    started = detach(scenario, storage, "--wait", "--log", str(log), "--json")
    assert started.returncode == 0, started.stderr
    document = orjson.loads(started.stdout)
    assert document == {
        "api_version": "agijobs/v1",
        "kind": "RunnerStarted",
        "pid": document["pid"],
        "storage": str(storage),
        "log": str(log),
        "tick": 0,
        "live": True,
    }
    assert not (storage / "runner.log").exists()
    stopped = agijobs("runner", "stop", "--storage", str(storage))
    assert stopped.stdout.startswith(f"runner {document['pid']} stopped at tick "), stopped.stdout
    assert "(interrupted)" in log.read_text(encoding="utf-8")


def test_a_detached_runner_that_refuses_bad_input_leaves_no_trace(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    started = detach(tmp_path / "missing.yaml", storage)
    assert started.returncode == 2, started.stderr
    assert started.stdout == ""
    assert f"Error: {tmp_path / 'missing.yaml'}: no such file — check the path\n" in started.stderr
    assert re.search(
        r"Error: the runner \(pid \d+\) exited 2 before it was live; its last lines are above "
        r"— mend what they say, then start it again\n$",
        started.stderr,
    )
    assert not storage.exists()


def test_a_detached_runner_refused_by_a_busy_storage_exits_as_it_did(
    paced: tuple[Path, Path],
) -> None:
    scenario, storage = paced
    assert detach(scenario, storage, "--wait").returncode == 0
    before = (storage / "runner.log").read_bytes()
    second = detach(scenario, storage, "--fresh", "--json")
    assert second.returncode == 4, second.stderr
    error = orjson.loads(second.stdout)["error"]
    assert (error["code"], error["exit_code"]) == ("runner-exited", 4)
    assert f"all of them in {storage / 'runner.log'}" in error["message"]
    assert "is in use by another agijobs process" in second.stderr  # the runner's own words
    assert (storage / "runner.log").read_bytes().startswith(before)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--log", "x.log"],
            "Error: --log: given without --detach — add --detach, or drop --log\n",
        ),
        (
            ["--detach", "--witness", "-"],
            "Error: --witness -: not with --detach (a detached runner has no standard output) "
            "— publish to a file (--witness FILE), or drop --detach\n",
        ),
    ],
)
def test_detach_options_that_cannot_work_are_refused_before_anything_starts(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    scenario = write_scenario(tmp_path / "s.yaml", scenario_dict())
    storage = tmp_path / "storage"
    refused = agijobs("run", str(scenario), "--storage", str(storage), *extra)
    assert (refused.returncode, refused.stderr) == (2, message)
    assert file_hashes(storage) == {}


@pytest.fixture
def stubborn(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A process that holds a storage's run lock as its runner and ignores SIGTERM."""
    storage = tmp_path / "storage"
    storage.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "lock = open(sys.argv[1], 'a')\n"
            "fcntl.flock(lock, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
            str(storage / "run.lock"),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        info = {"pid": holder.pid, "host": host(), "role": "runner"}
        (storage / "run.json").write_bytes(orjson.dumps(info))
        yield storage, holder
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_runner_stop_gives_up_after_its_timeout_with_exit_6(
    stubborn: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    storage, holder = stubborn
    stopped = agijobs("runner", "stop", "--timeout", "0.2", "--storage", str(storage))
    assert stopped.returncode == 6, stopped.stderr
    assert stopped.stderr == (
        f"Error: the runner (pid {holder.pid}) did not stop within 0.2 s; it stops at the end "
        "of its current tick — see `agijobs status`; wait longer with "
        "`agijobs runner stop --timeout S`\n"
    )
    assert holder.poll() is None


def test_runner_stop_signals_no_process_on_another_host(
    stubborn: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    storage, holder = stubborn
    info = {"pid": holder.pid, "host": "elsewhere", "role": "runner"}
    (storage / "run.json").write_bytes(orjson.dumps(info))
    stopped = agijobs("runner", "stop", "--storage", str(storage))
    assert stopped.returncode == 4, stopped.stderr
    assert stopped.stderr == (
        f"Error: the runner of {storage} is pid {holder.pid} on host elsewhere, not this one "
        "— run `agijobs runner stop` on elsewhere\n"
    )


def test_runner_stop_names_a_storage_that_does_not_exist(tmp_path: Path) -> None:
    stopped = agijobs("runner", "stop", "--storage", str(tmp_path / "nope"))
    assert stopped.returncode == 4, stopped.stderr
    assert stopped.stderr.startswith(f"Error: storage {tmp_path / 'nope'} does not exist — ")


def test_the_detached_command_line_gives_what_was_given_and_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGIJOBS_WITNESS", "secret-witness.log")
    values: dict[str, Any] = {
        "scenario": Path("scenarios/x.yaml"),
        "blueprint": None,
        "owner_commands": None,
        "stop_after_ticks": 0,
        "tick_ms": 100,
        "wait": True,
        "fresh": False,
        "executor": "inprocess",
        "bridge": None,
        "bridge_timeout": 2.5,
        "runner_key": None,
        "witness": "secret-witness.log",  # from the environment: the runner inherits it
        "detach": True,
        "log": "x.log",
        "storage": "postgresql://u:password@h/db?fabric=f",
        "as_json": True,
    }
    assert command_line(run, values) == [
        "--stop-after-ticks",
        "0",
        "--tick-ms",
        "100",
        "--wait",
        "--bridge-timeout",
        "2.5",
        "--",
        "scenarios/x.yaml",
    ]


def test_a_run_in_the_background_of_a_terminal_never_draws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, _ = run_engine(make_scenario(), ticks=3)
    foreground = False
    monkeypatch.setattr(render, "in_foreground", lambda stream: foreground)
    view = render.LiveView(tty=True)
    view(engine, 1)
    assert view.live is None  # `agijobs run … &`: not a character on the terminal
    foreground = True  # `fg`
    view.last_draw = 0.0
    view(engine, 1)
    try:
        assert view.live is not None
    finally:
        view.close()


def test_a_terminal_without_job_control_is_the_foreground_and_a_file_is_not() -> None:
    with open(os.devnull) as nothing:
        assert not render.in_foreground(nothing)  # no terminal at all
    primary, secondary = os.openpty()
    try:
        with open(secondary, closefd=False) as stream:
            # A terminal, but not this process's controlling one: no job control, no
            # prompt to draw over (the live view on a pty a tool hands the run).
            assert render.in_foreground(stream)
    finally:
        os.close(primary)
        os.close(secondary)


def test_a_detached_runner_on_postgresql_logs_here_and_keeps_the_url_out_of_ps(
    paced: tuple[Path, Path], pg_url: str, tmp_path: Path
) -> None:
    scenario, _ = paced
    fabric = pg_url.rpartition("fabric=")[2]
    started = agijobs(
        "run", str(scenario), "--storage", pg_url, "--detach", "--wait", "--tick-ms", "20",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr
        document = orjson.loads(started.stdout)
        assert (document["log"], document["live"]) == (f"agijobs-{fabric}.log", True)
        assert (tmp_path / document["log"]).read_text(encoding="utf-8").startswith("--- ")
        command = Path(f"/proc/{document['pid']}/cmdline").read_bytes().split(b"\0")
        assert not [word for word in command if b"postgresql" in word], command
        status = orjson.loads(agijobs("status", "--storage", pg_url, "--json").stdout)
        assert (status["state"], status["pid"]) == ("running", document["pid"])
    finally:
        stopped = agijobs("runner", "stop", "--storage", pg_url, "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert orjson.loads(stopped.stdout)["pid"] == document["pid"]
    status = orjson.loads(agijobs("status", "--storage", pg_url, "--json").stdout)
    assert status["state"] == "stopped"


def test_an_exited_runner_nobody_reaps_is_gone() -> None:
    from agijobs.run.background import _running, _zombie

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        while not _zombie(child.pid):  # until it has exited, unreaped
            time.sleep(0.01)
        assert Path(f"/proc/{child.pid}").exists()
        os.kill(child.pid, 0)  # still signalable, as a zombie is
        assert not _running(child.pid)
    finally:
        child.wait()
    assert not _running(os.getpid() + 10_000_000)  # no such process
    assert _running(os.getpid())
