"""docs/agijobs-runner.service is a unit systemd accepts, whose ExecStart and ExecStop are
commands and options the command line has (docs/service.md)."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import get_type_hints

import pytest

from agijobs.cli.fast import command_function
from agijobs.cli.options import COMMANDS, Opt

UNIT = Path(__file__).parent.parent / "docs" / "agijobs-runner.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def flags_of(name: str) -> dict[str, tuple[Opt, object]]:
    """The options command `name` declares, by flag: each with its type."""
    hints = get_type_hints(command_function(name), include_extras=True)
    return {
        hint.__metadata__[0].flag: (hint.__metadata__[0], hint.__origin__)
        for parameter, hint in hints.items()
        if parameter != "return" and hint.__metadata__[0].flag
    }


@pytest.mark.parametrize("key", ["ExecStart", "ExecStop"])
def test_the_unit_runs_commands_and_options_the_command_line_has(key: str) -> None:
    program, *words = shlex.split(service()[key])
    assert Path(program).name == "agijobs"
    name = " ".join(words[:2])
    assert name in COMMANDS, f"{key}: `agijobs {name}` is no command"
    flags = flags_of(name)
    rest = words[2:]
    while rest:
        flag = rest.pop(0)
        assert flag in flags, f"{key}: `agijobs {name}` has no option {flag}"
        opt, kind = flags[flag]
        if kind is bool:
            continue
        value = float(rest.pop(0))
        assert opt.low is None or value >= opt.low
        assert opt.high is None or value <= opt.high


def test_a_runner_stopped_by_a_signal_is_a_success_and_a_refusal_is_not_restarted() -> None:
    unit = service()
    assert set(unit["SuccessExitStatus"].split()) == {"143", "130"}
    assert unit["Restart"] == "on-failure"
    assert set(unit["RestartPreventExitStatus"].split()) == {"1", "2", "3", "5"}
    assert "--wait" in shlex.split(unit["ExecStart"])  # a paused fabric keeps its runner


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify`, with the unit's agijobs where this test's is (verify
    checks that the programs exist); a warning fails the test as an error does."""
    installed = str(Path(sys.executable).parent / "agijobs")
    text = UNIT.read_text(encoding="utf-8").replace("/opt/agijobs/.venv/bin/agijobs", installed)
    copy = tmp_path / UNIT.name
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
