"""The options' declarations: bounds the command line keeps in step with the scenario's."""

from __future__ import annotations

from agijobs.cli import options
from agijobs.scenario import limits


def test_the_command_line_knows_the_longest_run() -> None:
    # options.py imports no scenario module (the fast path stays light): its copy of the
    # bound must follow the scenario's.
    assert options.MAX_TICKS == limits.MAX_TICKS
