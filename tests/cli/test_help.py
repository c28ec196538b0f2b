"""--help reads as an operator's page: no `<bool>` beside a flag, no `{arg}` braces, and two to
four examples per command (a comment line, then the command), each one a command line the
command line parses."""

from __future__ import annotations

import shlex
from typing import get_type_hints

import pytest

from agijobs.cli.application import reflowed
from agijobs.cli.fast import command_function
from agijobs.cli.options import COMMANDS, Opt

from ..helpers import cli

HELPS = [(), *[tuple(name.split()) for name in COMMANDS], ("keys",)]


@pytest.mark.parametrize("command", HELPS, ids=lambda c: " ".join(c) or "agijobs")
def test_help_shows_no_bool_metavar_and_no_braces(command: tuple[str, ...]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout
    usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage
    # Examples keep their indentation under their heading (Typer dedents a text whose
    # first line is the heading: a paragraph of prose must come before it).
    lines = result.stdout.splitlines()
    heading = next((i for i, line in enumerate(lines) if line.strip() == "Examples:"), None)
    if command != ("keys",):
        assert heading is not None, result.stdout
        assert lines[heading + 1].startswith(" " * 3 + "# "), lines[heading + 1]


def _declared_flags(name: str) -> set[str]:
    function = command_function(name)
    hints = get_type_hints(function, include_extras=True)
    flags = {"--help"}
    for hint in hints.values():
        declared = getattr(hint, "__metadata__", (None,))[0]
        if isinstance(declared, Opt) and declared.flag is not None:
            flags.add(declared.flag)
    return flags


def _examples(doc: str) -> list[tuple[str, str]]:
    """(comment, command line) pairs of a docstring's `Examples:` block."""
    block = next(p for p in reflowed(doc).split("\n\n") if p.startswith("Examples:"))
    lines = [line.strip() for line in block.splitlines()[1:]]
    pairs, comment = [], ""
    for line in lines:
        if line.startswith("# "):
            comment = line
        else:
            pairs.append((comment, line))
    return pairs


def _invocation(line: str) -> list[str]:
    """The agijobs words of an example line (after a pipe into it, before a redirection)."""
    words = shlex.split(line)
    words = words[words.index("agijobs") + 1 :]
    for stop in ("|", ">"):
        if stop in words:
            words = words[: words.index(stop)]
    return words


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_two_to_four_examples_that_parse(name: str) -> None:
    doc = command_function(name).__doc__ or ""
    examples = _examples(doc)
    assert 2 <= len({comment for comment, _ in examples}) <= 4, examples
    for comment, line in examples:
        assert comment, f"{name}: `{line}` has no comment line above it"
        words = _invocation(line)
        target = next(
            (" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in COMMANDS), None
        )
        assert target is not None, f"{name}: `{line}` names no command"
        flags = {word.split("=")[0] for word in words if word.startswith("--")}
        unknown = flags - _declared_flags(target)
        assert not unknown, f"{name}: `{line}` uses {unknown}, which {target} does not declare"


def test_reflowing_joins_prose_lines_and_keeps_examples() -> None:
    doc = """First line.

    A paragraph
    on two lines.

    Examples:
      # a comment
      agijobs status
    """
    assert reflowed(doc) == (
        "First line.\n\nA paragraph on two lines.\n\nExamples:\n  # a comment\n  agijobs status"
    )
