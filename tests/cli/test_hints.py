"""Every hint names a command that works in the state that printed it.

The table below is the walk: in a state (no storage, an empty one, a stopped, finished,
crashed or live run, a mistyped PostgreSQL fabric), a command prints a hint naming another
command; run as the operator would type it, in the state the first command left, that one
must succeed (exit 0), not fail again. A row marked `restart` continues a stopped run with
`agijobs runner start`.

The hints come from the `— ` fix texts in agijobs/ (grep "agijobs " in their second halves)
and the lines the commands print after a stop (`agijobs runner start` continues).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..helpers import agijobs, cli, long_scenario, start, wait_for


@dataclass(frozen=True)
class Hint:
    state: str  # a key of STATES
    command: tuple[str, ...]  # what the operator typed (SCENARIO, STORAGE filled in)
    hint: str  # the command the message or output names
    follow: tuple[str, ...]  # that command, as typed
    restart: bool = False  # continues a stopped run (to become `agijobs runner start`)


TABLE = [
    Hint("missing", ("status",), "`agijobs run SCENARIO --storage PATH` creates one", ("run",)),
    Hint(
        "empty", ("pause-all", "--reason", "x"), "start one with `agijobs run SCENARIO`", ("run",)
    ),
    Hint("empty", ("runner", "start"), "start one with `agijobs run SCENARIO`", ("run",)),
    Hint("empty", ("audit",), "start one with `agijobs run SCENARIO`", ("run",)),
    Hint(
        "empty",
        ("run", "--stop-after-ticks", "2"),
        "stopped at tick 2 (stop-after-ticks); `agijobs runner start` continues",
        ("runner", "start"),
        restart=True,
    ),
    Hint(
        "stopped",
        ("run",),
        "continue it with `agijobs runner start`, or start over with `--fresh`",
        ("runner", "start"),
        restart=True,
    ),
    Hint("stopped", ("run",), "or start over with `--fresh`", ("run", "--fresh")),
    Hint(
        "finished", ("run",), "start over with `agijobs run SCENARIO --fresh`", ("run", "--fresh")
    ),
    Hint("finished", ("run",), "or prove it with `agijobs audit`", ("audit",)),
    Hint(
        "finished",
        ("runner", "start"),
        "start a new one with `agijobs run SCENARIO --fresh`",
        ("run", "--fresh"),
    ),
    Hint(
        "crashed",
        ("status",),
        "`agijobs runner start` continues from the checkpoint",
        ("runner", "start"),
        restart=True,
    ),
    Hint("live", ("run",), "see `agijobs status`", ("status",)),
    Hint(
        "live",
        ("run",),
        "a live run takes owner commands (pause-all, reroute, …)",
        ("pause-all", "--reason", "hint"),
    ),
    # `resume` is the owner command that lifts the pause; a runner option names runner start.
    Hint(
        "stopped",
        ("resume", "--keep-paused"),
        "restart it with `agijobs runner start`",
        ("runner", "start"),
        restart=True,
    ),
    Hint(
        "pg-typo",
        ("status",),
        "`agijobs fabrics --storage DATABASE` lists them",
        ("fabrics", "--storage", "DATABASE"),
    ),
]


@dataclass
class State:
    storage: str
    scenario: Path
    database: str = ""


def _long_scenario(tmp_path: Path) -> Path:
    """A run that lasts: paced, a live runner stays up long enough to talk to."""
    return long_scenario(tmp_path / "long.yaml", run={"max_ticks": 2000, "checkpoint_every": 5})


def _ok(result: subprocess.CompletedProcess[str] | object) -> None:
    code = getattr(result, "returncode", getattr(result, "exit_code", None))
    assert code == 0, getattr(result, "stderr", "") or getattr(result, "output", "")


def _missing(tmp_path: Path, scenario: Path) -> Iterator[State]:
    yield State(str(tmp_path / "storage"), scenario)


def _empty(tmp_path: Path, scenario: Path) -> Iterator[State]:
    (tmp_path / "storage").mkdir()
    yield State(str(tmp_path / "storage"), scenario)


def _stopped(tmp_path: Path, scenario: Path) -> Iterator[State]:
    storage = str(tmp_path / "storage")
    _ok(cli("run", str(scenario), "--storage", storage, "--stop-after-ticks", "2"))
    yield State(storage, scenario)


def _finished(tmp_path: Path, scenario: Path) -> Iterator[State]:
    storage = str(tmp_path / "storage")
    _ok(cli("run", str(scenario), "--storage", storage))
    yield State(storage, scenario)


def _crashed(tmp_path: Path, scenario: Path) -> Iterator[State]:
    storage = str(tmp_path / "storage")
    crashed = agijobs("run", str(scenario), "--storage", storage, AGIJOBS_CRASH_AT_TICK="5")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    yield State(storage, scenario)


def _live(tmp_path: Path, scenario: Path) -> Iterator[State]:
    storage = tmp_path / "storage"
    long = _long_scenario(tmp_path)
    runner = start("run", str(long), "--storage", str(storage), "--tick-ms", "50")
    try:
        wait_for(storage / "live.json")
        yield State(str(storage), long)
        assert runner.poll() is None, "the runner stopped before the walk was done"
    finally:
        runner.kill()
        runner.wait()


STATES: dict[str, Callable[[Path, Path], Iterator[State]]] = {
    "missing": _missing,
    "empty": _empty,
    "stopped": _stopped,
    "finished": _finished,
    "crashed": _crashed,
    "live": _live,
}


def _typed(words: tuple[str, ...], state: State) -> list[str]:
    """A command line of the table as typed: the scenario after `run`, the state's storage
    unless the line names one, DATABASE filled in."""
    typed = [state.database if word == "DATABASE" else word for word in words]
    if typed[0] == "run":
        typed.insert(1, str(state.scenario))
    if "--storage" not in typed:
        typed += ["--storage", state.storage]
    return typed


def _walk(row: Hint, state: State) -> None:
    first = agijobs(*_typed(row.command, state))
    printed = first.stdout + first.stderr
    assert row.hint.replace("DATABASE", state.database) in printed, printed
    follow = agijobs(*_typed(row.follow, state))
    assert follow.returncode == 0, (
        f"`{' '.join(row.command)}` in a {row.state} state says {row.hint!r}, and "
        f"`{' '.join(row.follow)}` then fails: {follow.stderr}"
    )


@pytest.mark.parametrize(
    "row",
    [row for row in TABLE if row.state in STATES],
    ids=lambda r: f"{r.state}: {' '.join(r.command)} -> {' '.join(r.follow)}",
)
def test_the_hint_names_a_command_that_works(
    row: Hint, tmp_path: Path, scenario_file: Path
) -> None:
    states = STATES[row.state](tmp_path, scenario_file)
    state = next(states)
    try:
        _walk(row, state)
    finally:
        states.close()


@pytest.mark.parametrize("row", [row for row in TABLE if row.state == "pg-typo"], ids=str)
def test_the_hint_for_a_mistyped_database_fabric_works(
    row: Hint, pg_server: str, tmp_path: Path, scenario_file: Path
) -> None:
    from agijobs.store.postgres import PostgresStore

    admin = PostgresStore(f"{pg_server}?fabric=admin")
    admin.aux().execute("DROP DATABASE IF EXISTS hints")
    admin.aux().execute("CREATE DATABASE hints")
    admin.close()
    database = pg_server.rsplit("/", 1)[0] + "/hints"
    _ok(agijobs("run", str(scenario_file), "--storage", f"{database}?fabric=planetary"))
    _walk(row, State(f"{database}?fabric=planetry", scenario_file, database))


def test_every_state_of_the_table_is_walked() -> None:
    assert {row.state for row in TABLE} == {*STATES, "pg-typo"}
