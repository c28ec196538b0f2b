"""The `agijobs` command line: Typer commands that translate, a library that works.

Each command parses its options, makes one library call, renders the result and maps named
errors to exit codes (common.guard). Heavy imports happen inside the commands.
"""

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


def main() -> None:
    import os
    import sys

    if os.environ.get("AGIJOBS_DEBUG"):  # e.g. a bridge's stderr, passed through
        import logging

        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger = logging.getLogger("agijobs")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)

    if "--json" not in sys.argv[1:]:
        app(prog_name="agijobs")
        return
    # With --json even a usage error (unknown option, missing --reason) is one JSON document.
    try:
        code = app(prog_name="agijobs", standalone_mode=False)
    except Exception as error:
        format_message = getattr(error, "format_message", None)
        exit_code = getattr(error, "exit_code", None)
        if format_message is None or not isinstance(exit_code, int):
            raise
        from .common import print_json

        print_json(
            {"error": {"code": "usage", "exit_code": exit_code, "message": str(format_message())}}
        )
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)
