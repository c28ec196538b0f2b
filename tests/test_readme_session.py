"""README.md's console session works typed exactly as written, in ONE terminal: each `$ `
line is typed into an interactive shell in a tmux pane, in order, and what the terminal
shows after it (stdout and stderr, as the operator sees them) is matched against the lines
the README shows below it, with the exit code it states. A runner that drew on the
terminal (a live view in the background, a progress line) would break the match.

tests/test_runbooks.py runs the same session without a terminal (stdout only)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_runbooks import ROOT, Step, mismatch, parse, prepare

MARK = re.compile(r"^\[exit (\d+)\]$")  # what the shell prints after each command
WAIT = 120.0  # seconds a command may take before the test gives up on it

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="no tmux here")


class Pane:
    """An interactive bash in a tmux server of its own, 250 columns wide."""

    def __init__(self, socket: Path, cwd: Path, env: dict[str, str]) -> None:
        self.socket = socket
        self.tmux("-f", os.devnull, "new-session", "-d", "-x", "250", "-y", "50", "-c", str(cwd),
                  "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                  "bash", "--norc", "--noprofile", "-i")  # fmt: skip
        self.tmux("set-option", "-g", "history-limit", "50000")

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-l", line)
        self.tmux("send-keys", "Enter")

    def screen(self) -> list[str]:
        """Every line the terminal has shown, wrapped lines joined, up to the cursor's."""
        lines = [
            line.rstrip() for line in self.tmux("capture-pane", "-p", "-J", "-S", "-").splitlines()
        ]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def wait_for_marks(self, count: int) -> list[str]:
        deadline = time.monotonic() + WAIT
        while True:
            lines = self.screen()
            if sum(1 for line in lines if MARK.match(line)) >= count:
                return lines
            if time.monotonic() > deadline:
                pytest.fail("the shell never came back:\n" + "\n".join(lines), pytrace=False)
            time.sleep(0.1)


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[tuple[Pane, Path]]:
    cwd, prepared = prepare(tmp_path)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "AGIJOBS_KEY_DIR": prepared["AGIJOBS_KEY_DIR"],
        "PS1": "$ ",
        "PROMPT_COMMAND": 'printf "[exit %d]\\n" $?',
    }
    socket = Path(f"/tmp/agijobs-readme-{os.getpid()}-{tmp_path.name}.tmux")  # short: a socket
    shell = Pane(socket, cwd, env)
    try:
        yield shell, cwd
    finally:
        if (cwd / "storage").is_dir():  # never leave a runner behind
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "agijobs",
                    "runner",
                    "stop",
                    "--storage",
                    str(cwd / "storage"),
                ],
                capture_output=True,
                check=False,
                timeout=60,
            )
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)
        socket.unlink(missing_ok=True)


def test_the_readme_session_works_typed_in_one_terminal(pane: tuple[Pane, Path]) -> None:
    shell, _ = pane
    steps: list[Step] = parse(ROOT / "README.md")
    assert [s.argv[:2] for s in steps][:1] == [["agijobs", "run"]]
    shell.wait_for_marks(1)  # the first prompt
    for number, step in enumerate(steps, start=1):
        shell.type(step.text)
        lines = shell.wait_for_marks(number + 1)
        marks = [i for i, line in enumerate(lines) if MARK.match(line)]
        start, end = marks[number - 1], marks[number]
        typed, shown = lines[start + 1], lines[start + 2 : end]
        where = f"README.md:{step.line}: $ {step.text}"
        assert typed == f"$ {step.text}", f"{where}\nthe terminal shows {typed!r}"
        code = int(MARK.match(lines[end]).group(1))  # type: ignore[union-attr]
        screen = "\n".join(lines[start + 1 : end + 1])
        assert code == step.exit, f"{where}\nexited {code}, expected {step.exit}:\n{screen}"
        problem = step.expected and mismatch(step.expected, shown)
        assert not problem, f"{where}\n{problem}"
    final = shell.wait_for_marks(len(steps) + 1)
    assert final[-1] == "$", "after the session, the prompt is the last thing on the screen"


@pytest.mark.parametrize(
    ("how", "drawn"), [("&", False), ("", True)], ids=["background", "foreground"]
)
def test_a_run_draws_its_live_view_only_in_the_terminals_foreground(
    pane: tuple[Pane, Path], how: str, drawn: bool
) -> None:
    """`agijobs run … &` never draws over the prompt; the same run in the foreground does
    draw its live view (on stderr: stdout, the summary, goes to a file here)."""
    shell, cwd = pane
    shell.wait_for_marks(1)
    shell.type(
        "agijobs run scenarios/earth-backlog-reroute.yaml --tick-ms 20 --stop-after-ticks 60 "
        f"> summary.txt {how}"
    )
    shell.wait_for_marks(2)
    shell.type("wait")  # for the background job; at once after a foreground run
    lines = shell.wait_for_marks(3)
    assert "stopped at tick 60 (stop-after-ticks)" in (cwd / "summary.txt").read_text()
    first = next(i for i, line in enumerate(lines) if MARK.match(line))
    shown = [line for line in lines[first + 1 :] if not MARK.match(line)]
    live_view = [line for line in shown if " jobs/s · " in line or "last governance" in line]
    assert bool(live_view) == drawn, "\n".join(lines)
    if not drawn:  # the prompt, the command, bash's job notices, and nothing else
        assert all(
            line == "$" or line.startswith("$ ") or re.fullmatch(r"\[1\]\+? *(\d+|Done.*)", line)
            for line in shown
        ), "\n".join(lines)
