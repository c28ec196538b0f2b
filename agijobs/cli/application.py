"""The Typer application: every command, its options and its help."""

from __future__ import annotations

import typer

from . import govern, inspect_cmds, keys_cmds, lifecycle, transfer_cmds

app = typer.Typer(
    name="agijobs",
    help=(
        "Operate a planetary orchestrator fabric: deterministic runs, hash-chained events, "
        "owner governance.\n\nExample: agijobs run scenarios/planetary.yaml --fresh"
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (README)
    pretty_exceptions_enable=False,
)
lifecycle.register(app)
govern.register(app)
inspect_cmds.register(app)
keys_cmds.register(app)
transfer_cmds.register(app)
