"""The `agijobs` command line: Typer commands that translate, a library that works.

Each command parses its options, makes one library call, renders the result and maps named
errors to exit codes (common.guard). Heavy imports happen inside the commands.
"""

from __future__ import annotations

import typer

from . import govern, inspect_cmds, lifecycle

app = typer.Typer(
    name="agijobs",
    help=(
        "Operate a planetary orchestrator fabric: deterministic runs, hash-chained events, "
        "owner governance.\n\nExample: agijobs run scenarios/planetary.yaml --fresh"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
lifecycle.register(app)
govern.register(app)
inspect_cmds.register(app)


def main() -> None:
    app(prog_name="agijobs")
