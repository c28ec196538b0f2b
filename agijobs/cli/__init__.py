"""The `agijobs` command line: commands that translate, a library (`agijobs.service`) that
works.

Each command is a function (`running`, `owner`, `reading`, `keys`, `copies`) that takes its
parsed options, makes one call to `agijobs.service`, renders the result (`render.py`, the
one Rich module) and maps named errors to exit codes (`output.guard`). Its options are
declared once (`options.py`); the Typer application (`application.py`) and the fast path
(`fast.py`) both read them. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":  # `from agijobs.cli import app` builds the Typer application
        from .application import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

    from . import fast

    try:
        taken = fast.run(sys.argv[1:])
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # as Typer ends a command the operator interrupts
    if taken:
        sys.exit(0)
    from .application import app

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
        from .output import print_json

        print_json(
            "Error",
            {"error": {"code": "usage", "exit_code": exit_code, "message": str(format_message())}},
        )
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)
