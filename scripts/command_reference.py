"""Write docs/commands.md from the command line's own `--help`, so that it cannot go stale.

Usage:
    .venv/bin/python scripts/command_reference.py            # rewrite docs/commands.md
    .venv/bin/python scripts/command_reference.py --check    # exit 1 with a diff when stale

Every command and sub-command is found in the `Commands` panel of its parent's `--help`,
starting from `agijobs --help`, so nothing here depends on how the package is laid out
inside. Each help is rendered as a pipeline sees it: stdout not a terminal, `COLUMNS=100
TERM=dumb NO_COLOR=1`, and no `AGIJOBS_*` variable of the caller's environment.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from generated import keep_current, shown

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "commands.md"
REGENERATE = ".venv/bin/python scripts/command_reference.py"
SOURCE = "the command line's --help"
RENDERING = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
# Variables that would make Rich or Click render differently from a plain pipeline.
IGNORED = ("FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "LINES")
PANEL = re.compile(r"^╭─ Commands ─*╮$(.*?)^╰─*╯$", re.MULTILINE | re.DOTALL)
ENTRY = re.compile(r"^│ (\S+)\s")  # a command's first line; continuation lines start blank

Command = tuple[str, ...]  # the words after `agijobs`; () is `agijobs` itself


def help_text(command: Command) -> str:
    """`agijobs COMMAND --help` as printed into a pipe, without trailing spaces."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AGIJOBS_") and name not in IGNORED
    }
    result = subprocess.run(
        [sys.executable, "-m", "agijobs", *command, "--help"],
        cwd=ROOT,
        env={**env, **RENDERING},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`agijobs {' '.join(command)} --help` exited {result.returncode}:\n{result.stderr}"
        )
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    return "\n".join(lines).strip("\n")


def subcommands(text: str) -> list[str]:
    """The command names listed in a help's `Commands` panel, in the order shown."""
    panel = PANEL.search(text)
    if panel is None:
        return []
    return [m.group(1) for m in map(ENTRY.match, panel.group(1).splitlines()) if m]


def collect() -> list[tuple[Command, str]]:
    """Every command's help, in the order `--help` lists them, each group followed by its
    sub-commands. One level at a time, a few processes at once."""
    found: list[tuple[Command, str]] = []
    level: list[Command] = [()]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        while level:
            texts = list(pool.map(help_text, level))
            found.extend(zip(level, texts, strict=True))
            level = [
                (*cmd, name)
                for cmd, text in zip(level, texts, strict=True)
                for name in subcommands(text)
            ]
    order = {command: i for i, (command, _) in enumerate(found)}
    return sorted(found, key=lambda item: [order[item[0][: i + 1]] for i in range(len(item[0]))])


def title(command: Command) -> str:
    return " ".join(("agijobs", *command))


def anchor(command: Command) -> str:
    return "-".join(("agijobs", *command))


def render() -> str:
    """The whole of docs/commands.md."""
    commands = collect()
    out = [
        "# Command reference",
        "",
        f"<!-- Generated from the CLI's --help; do not edit. Regenerate: {REGENERATE} -->",
        "",
        "Every command's `--help`, exactly as the command line prints it into a pipe",
        "(`COLUMNS=100 TERM=dumb NO_COLOR=1`). The [operator guide](operator-guide.md) shows the",
        "commands in use; the exit codes are in the [README](../README.md#exit-codes).",
        "",
    ]
    out += [f"- [`{title(cmd)}`](#{anchor(cmd)})" for cmd, _ in commands]
    for cmd, text in commands:
        out += ["", f"## {title(cmd)}", "", "```text", text, "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="default: docs/commands.md")
    args = parser.parse_args(argv)
    path: Path = args.out.resolve()
    wanted = render()
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if not keep_current(
        path, current, wanted, check=args.check, source=SOURCE, regenerate=REGENERATE
    ):
        return 1
    if not args.check:
        print(f"{shown(path)}: {wanted.count('## agijobs')} commands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
