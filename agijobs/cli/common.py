"""Shared Typer options; the one way out (errors, exit codes, JSON) is `output.py`."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from .output import bridge_settings, fail, guard, make_store, print_json

__all__ = ["bridge_settings", "fail", "guard", "make_store", "print_json"]

StorageOption = Annotated[
    str,
    typer.Option(
        "--storage",
        envvar="AGIJOBS_STORAGE",
        help="Storage directory, or postgresql://USER@HOST/DB?fabric=NAME (env AGIJOBS_STORAGE).",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who issues the command (default: your OS user).")
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="AGIJOBS_KEY",
        help="Sign with this key: a name under the key directory, or a path (env AGIJOBS_KEY).",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", help="Seconds to wait for a live runner to acknowledge.", min=0),
]
ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor",
        envvar="AGIJOBS_EXECUTOR",
        help="Who runs the jobs: inprocess (default) or bridge (the command in "
        "AGIJOBS_BRIDGE or --bridge; see bridge/PROTOCOL.md).",
    ),
]
BridgeOption = Annotated[
    str | None,
    typer.Option("--bridge", help="Bridge command line (default: env AGIJOBS_BRIDGE)."),
]
BridgeTimeoutOption = Annotated[
    float | None,
    typer.Option("--bridge-timeout", min=0.01, help="Seconds per bridge call (default 5)."),
]
DEFAULT_STORAGE = "storage"


def actor_or_default(actor: str | None) -> str:
    if actor:
        return actor
    from ..run.sessions import default_actor

    return default_actor()


def is_terminal() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
