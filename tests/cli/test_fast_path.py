"""The fast path for pause-all, reroute and set-latency: it takes exactly the options the
Typer commands declare, hands the command exactly what Typer would, and leaves everything
else to Typer."""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from agijobs.cli import app, fast, main
from agijobs.cli.options import COMMANDS

from ..helpers import agijobs

SCENARIOS = Path(__file__).parents[2] / "scenarios"
KINDS: dict[Any, str] = {str: "str", float: "float", int: "int"}


FAST = sorted(name for name, command in COMMANDS.items() if command.fast)


@pytest.mark.parametrize("name", FAST)
def test_the_tables_are_the_typer_commands_parameters(name: str) -> None:
    table = fast.table(fast.command_function(name))
    assert table is not None
    command = get_command(app)
    for word in name.split():  # `describe job`: a group's command
        command = command.commands[word]  # type: ignore[attr-defined]
    declared = {}
    arguments = []
    for param in command.params:
        if param.name == "help":
            continue
        if param.param_type_name == "argument":  # given by position (submit's FILE)
            arguments.append(param.name)
            continue
        annotation = param.type_descriptor.annotation  # type: ignore[attr-defined]
        kind = "flag" if param.is_flag else KINDS[annotation]  # type: ignore[attr-defined]
        (flag,) = param.opts
        assert not param.secondary_opts  # no --no-json and the like
        low, high = param.min, param.max  # type: ignore[attr-defined]
        declared[flag] = fast.Option(param.name, kind, param.envvar, low, high)
    assert table.options == declared
    assert table.arguments == tuple(arguments)
    required = {p.name for p in command.params if p.required}
    assert table.required == required
    optional = {p.name: p.default for p in command.params if not p.required and p.name != "help"}
    assert table.defaults == optional


# Well-formed command lines: the fast path takes them all.
TAKEN = [
    ["pause-all", "--reason", "drill"],
    ["pause-all", "--reason=drill", "--json", "--timeout", "2.5", "--actor", "oncall"],
    ["pause-all", "--reason", "", "--timeout=0"],
    ["reroute", "--from", "earth", "--to", "luna", "--backlog", "all", "--reason", "r"],
    ["reroute", "--from", "earth", "--clear", "--reason", "r", "--key", "alice"],
    [
        "reroute",
        "--from",
        "earth",
        "--job",
        "earth-finance-000001",
        "--to",
        "luna",
        "--reason",
        "r",
    ],
    ["set-latency", "--shard", "mars", "--ms", "350", "--reason", "r", "--json"],
    ["cordon", "earth.core-alpha", "--reason", "r"],
    ["uncordon", "--reason", "r", "earth.core-alpha", "--json"],
    ["drain", "mars.gpu-helion", "--deadline", "20", "--reason=r", "--actor", "oncall"],
    ["status"],
    ["status", "--json", "--storage=there"],
    ["audit"],
    ["audit", "--replay", "--json", "--storage", "there"],
    ["audit", "--executor", "bridge", "--bridge", "node b.mjs", "--bridge-timeout", "0.5"],
    ["resume"],
    ["runner", "stop", "--timeout", "5", "--json", "--storage", "there"],
    ["resume", "--reason", "r", "--keep-paused", "--stop-after-ticks", "0", "--json"],
    ["resume", "--tick-ms=5", "--wait", "--actor", "oncall", "--key", "k", "--timeout", "2"],
    ["submit", "-", "--reason", "r"],
    ["submit", "--reason=r", "jobs.ndjson", "--json", "--actor", "oncall"],
    ["describe", "job", "earth-finance-000001"],
    ["describe", "node", "--json", "mars.gpu-helion", "--storage", "there"],
    ["describe", "shard", "mars", "--json"],
]
# Left to Typer (its messages): help, unknown or repeated options, missing values or
# required options, values Typer would coerce or refuse, other commands.
LEFT = [
    ["pause-all", "--help"],
    ["pause-all"],
    ["pause-all", "--reason"],
    ["pause-all", "--reason", "a", "--reason", "b"],
    ["pause-all", "--reason", "a", "--bogus"],
    ["pause-all", "--reason", "a", "extra"],
    ["pause-all", "--reason", "a", "--json=1"],
    ["pause-all", "--reason", "a", "--timeout", "-1"],
    ["pause-all", "--reason", "a", "--timeout", "1e3"],
    ["pause-all", "--reason", "a", "--timeout", "5."],
    ["pause-all", "--reason", "--json"],
    ["set-latency", "--shard", "mars", "--ms", "3.5", "--reason", "r"],
    ["set-latency", "--shard", "mars", "--ms", "٣", "--reason", "r"],
    ["set-latency", "--shard", "mars", "--reason", "r"],
    ["reroute", "--to", "luna", "--reason", "r"],
    ["cordon", "--reason", "r"],
    ["cordon", "a", "b", "--reason", "r"],
    ["cordon", "-x", "--reason", "r"],
    ["drain", "a", "--deadline", "0", "--reason", "r"],
    ["drain", "a", "--reason", "r"],
    ["status", "--help"],
    ["status", "--watch=yes"],
    ["status", "--reason", "r"],
    ["audit", "--bridge-timeout", "0.001"],
    ["audit", "--bridge-timeout", "0"],
    ["audit", "--replay", "--replay"],
    ["resume", "--stop-after-ticks", "-1"],
    ["resume", "--stop-after-ticks", "1.5"],
    ["resume", "--keep-paused", "--keep-paused"],
    ["run", "scenario.yaml"],
    ["runner"],
    ["runner", "stop", "--timeout", "-1"],
    ["submit", "--reason", "r"],
    ["submit", "a.ndjson", "b.ndjson", "--reason", "r"],
    ["submit", "-x", "--reason", "r"],
    ["submit", "--help"],
    ["describe", "job"],
    ["describe", "job", "a", "b"],
    ["describe", "job", "-x"],
    ["describe", "job", "--help"],
    ["describe"],
    [],
]


@pytest.mark.parametrize("argv", LEFT, ids=" ".join)
def test_what_it_does_not_fully_understand_goes_to_typer(argv: list[str]) -> None:
    assert fast.parse(argv) is None


# What each path calls with the parsed values: (through Typer, through the fast path).
ENDS = {
    name: (f"agijobs.cli.{command.module}.{command.function}",) * 2
    for name, command in COMMANDS.items()
    if command.fast
}
VARIABLES = ("AGIJOBS_STORAGE", "AGIJOBS_KEY", "AGIJOBS_EXECUTOR")


def _captured(monkeypatch: pytest.MonkeyPatch, target: str) -> list[dict[str, Any]]:
    """The calls of `target`, each as its parameters by name (however they were passed)."""
    module, _, name = target.rpartition(".")
    real = getattr(importlib.import_module(module), name)
    signature = getattr(real, "real_signature", None) or inspect.signature(real)
    calls: list[dict[str, Any]] = []

    def capture(*args: Any, **kwargs: Any) -> None:
        calls.append(dict(signature.bind(*args, **kwargs).arguments))

    functools.update_wrapper(capture, real)  # the fast path reads what `real` declares
    capture.real_signature = signature  # type: ignore[attr-defined]  # patched twice
    monkeypatch.setattr(target, capture)
    return calls


@pytest.mark.parametrize("argv", TAKEN, ids=" ".join)
@pytest.mark.parametrize(
    "env", [{}, {"AGIJOBS_STORAGE": "elsewhere", "AGIJOBS_KEY": "bob", "AGIJOBS_EXECUTOR": "x"}]
)
def test_it_hands_the_command_what_typer_would(
    argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    typer_end, fast_end = ENDS[argv[0] if argv[0] in ENDS else " ".join(argv[:2])]
    through_typer = _captured(monkeypatch, typer_end)
    result = CliRunner().invoke(app, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    through_fast_path = _captured(monkeypatch, fast_end)
    assert fast.run(argv) is True
    assert through_fast_path == through_typer and len(through_typer) == 1


def test_an_empty_environment_variable_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIJOBS_STORAGE", "")
    assert fast.parse(["pause-all", "--reason", "r"]) is None
    assert fast.parse(["pause-all", "--reason", "r", "--storage", "s"]) is not None


def test_pause_all_at_rest_never_imports_typer_or_pydantic_and_ends_as_the_typer_command(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "storage"
    run = agijobs("run", str(SCENARIOS / "planetary.yaml"), "--storage", str(storage),
                  "--stop-after-ticks", "3")  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "agijobs", "pause-all", "--reason", "drill",
         "--storage", str(storage)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "pause-all: fabric paused (tick 3, fabric at rest)\n"
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert "agijobs.run.delivery" in imported
    # What an owner command at rest never needs: the CLI framework, the renderer, and the
    # scenario models (the stored plan is read as a document; nothing ticks).
    assert not {"typer", "click", "rich", "pydantic", "yaml", "agijobs.scenario.models"} & imported
    again = agijobs("pause-all", "--reason", "drill", "--storage", str(storage), "--json")
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert (document["mode"], document["effect"]["changed"]) == ("at-rest", False)
    missing = agijobs("pause-all", "--reason", "drill", "--storage", str(tmp_path / "none"))
    assert missing.returncode == 4, missing.stdout + missing.stderr
    assert missing.stderr == (
        f"Error: storage {tmp_path / 'none'} does not exist — check --storage (or "
        "AGIJOBS_STORAGE); `agijobs run SCENARIO --storage PATH` creates one\n"
    )


@pytest.mark.parametrize("command", [["status", "--json"], ["audit", "--json"], ["audit"]])
def test_status_and_audit_never_import_typer_and_print_what_typer_does(
    tmp_path: Path, command: list[str]
) -> None:
    storage = tmp_path / "storage"
    run = agijobs("run", str(SCENARIOS / "planetary.yaml"), "--storage", str(storage),
                  "--stop-after-ticks", "30")  # fmt: skip
    assert run.returncode == 0, run.stderr
    argv = [*command, "--storage", str(storage)]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "agijobs", *argv],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert not {"typer", "click"} & imported
    # status proves the stored plan by its plan_id; audit validates it (its job is to).
    models = {"pydantic", "agijobs.scenario.models"} & imported
    assert models == (set() if command[0] == "status" else {"pydantic", "agijobs.scenario.models"})
    through_typer = CliRunner().invoke(app, argv)
    assert through_typer.exit_code == 0, through_typer.output
    if command[-1] == "--json":  # the same document (status's sessions name their process)
        document, expected = json.loads(result.stdout), json.loads(through_typer.stdout)
        assert document.keys() == expected.keys()
        assert {k: v for k, v in document.items() if k != "sessions"} == {
            k: v for k, v in expected.items() if k != "sessions"
        }
    else:
        assert result.stdout == through_typer.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["reroute", "--from", "earth", "--reason", "r"],
        ["reroute", "--from", "earth", "--to", "luna", "--backlog", "many", "--reason", "r"],
        ["pause-all", "--reason", " ", "--json"],
    ],
    ids=" ".join,
)
def test_a_refused_command_ends_as_the_typer_command_does(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    through_typer = CliRunner().invoke(app, argv)
    with pytest.raises(SystemExit) as ended:
        fast.run(argv)
    printed = capsys.readouterr()
    assert ended.value.code == through_typer.exit_code == 2, (printed, through_typer.output)
    assert (printed.out, printed.err) == (through_typer.stdout, through_typer.stderr)
    assert printed.out or printed.err.startswith("Error: ")


@pytest.mark.parametrize(
    "argv", [["status"], ["audit"], ["resume"], ["pause-all", "--reason", "r"]]
)
def test_an_interrupted_fast_path_command_exits_130_as_typer_does(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    for target in {*ENDS[argv[0]]}:
        monkeypatch.setattr(target, interrupted)
    monkeypatch.setattr(sys, "argv", ["agijobs", *argv])
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 130
    through_typer = CliRunner().invoke(app, argv)
    assert through_typer.exit_code == 130, through_typer.output


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["set-latency", "--shard", "earth", "--ms", "100"], "set-latency: budget 120 ms → 100 ms"),
        (["cordon", "earth.core-alpha"], "node.cordon: node earth.core-alpha cordoned"),
    ],
)
def test_owner_commands_with_arguments_at_rest_never_import_pydantic(
    command: list[str], says: str, tmp_path: Path
) -> None:
    """Their arguments are checked as the command models check them, without the models
    (an owner command at rest must start fast); anything unusual still goes through them."""
    storage = tmp_path / "storage"
    run = agijobs("run", str(SCENARIOS / "planetary.yaml"), "--storage", str(storage),
                  "--stop-after-ticks", "3")  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "agijobs", *command, "--reason", "drill",
         "--storage", str(storage)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(says), result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert not {"typer", "click", "rich", "pydantic", "yaml"} & imported
