"""Every command in a runbook's `sh` blocks runs, in order, with the exit code it states."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
RUNBOOKS = sorted((ROOT / "runbooks").glob("*.md"))
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPECTED = re.compile(r"#\s*exit\s+(\d+)\s*$")


ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def commands(path: Path) -> list[tuple[dict[str, str], list[str], int]]:
    """(environment assignments, argv, expected exit code) for each `agijobs` line."""
    found = []
    for block in BLOCK.findall(path.read_text(encoding="utf-8")):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            env = {}
            while words and ASSIGNMENT.match(words[0]):
                name, _, value = words.pop(0).partition("=")
                env[name] = value
            if not words or words[0] != "agijobs":
                continue
            match = EXPECTED.search(line)
            found.append((env, words, int(match.group(1)) if match else 0))
    return found


def test_every_runbook_is_tested() -> None:
    assert [p.name for p in RUNBOOKS if p.name != "README.md"] == [
        "crash-recovery.md",
        "earth-backlog.md",
        "incident-pause.md",
        "owner-keys.md",
        "what-if-before-reroute.md",
    ]


@pytest.mark.parametrize(
    "path", [p for p in RUNBOOKS if p.name != "README.md"], ids=lambda p: p.stem
)
def test_runbook_commands_run_as_written(path: Path, tmp_path: Path) -> None:
    steps = commands(path)
    assert steps, f"{path.name} has no commands"
    # The runbooks' own setup, done as they tell the operator: the public drill keys copied
    # somewhere private (git keeps no file modes), files the commands write kept out of
    # the checkout, the repository's scenarios and runbooks at hand.
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for key in (ROOT / "runbooks" / "drill-keys").glob("*.key"):
        copy = keys / key.name
        copy.write_bytes(key.read_bytes())
        copy.chmod(0o600)
    work = tmp_path / "work"
    work.mkdir()
    for name in ("scenarios", "runbooks"):
        (work / name).symlink_to(ROOT / name)
    base = {
        **os.environ,
        "AGIJOBS_STORAGE": str(tmp_path / "storage"),
        "AGIJOBS_KEY_DIR": str(keys),
        "NO_COLOR": "1",
    }
    for assignments, argv, expected in steps:
        result = subprocess.run(
            [sys.executable, "-m", "agijobs", *argv[1:]],
            cwd=work,
            env={**base, **assignments},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        # A shell reports a process killed by signal N as 128 + N (SIGKILL: 137).
        code = 128 - result.returncode if result.returncode < 0 else result.returncode
        assert code == expected, (
            f"{path.name}: `{shlex.join(argv)}` exited {code}, expected "
            f"{expected}\n{result.stdout}\n{result.stderr}"
        )
