"""Shared options and the one way out: errors become a message and an exit code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer

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


def print_json(document: Any) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def fail(code: int, kind: str, message: str, as_json: bool) -> NoReturn:
    if as_json:
        print_json({"error": {"code": kind, "exit_code": code, "message": message}})
    else:
        sys.stderr.write(f"Error: {message}\n")
    raise typer.Exit(code)


@contextlib.contextmanager
def guard(as_json: bool) -> Iterator[None]:
    """Map the project's named errors to their exit codes; anything else is a bug."""
    from .. import crashpoints
    from ..errors import AgijobsError

    try:
        crashpoints.arm_from_environment()
        yield
        sys.stdout.flush()  # a closed pipe must surface here, not in the parser's handler
    except BrokenPipeError:
        # The reader went away (`agijobs audit | head -1`): say nothing more, and exit as a
        # shell reports a process ended by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141) from None
    except AgijobsError as error:
        fail(error.exit_code, error.code, error.render(), as_json)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        fail(
            4,
            "storage",
            f"storage error{where}: {error.strerror or error} — check the path, its permissions "
            "and free space",
            as_json,
        )
    except Exception as error:
        database = sys.modules.get("psycopg")  # loaded only when --storage is a database
        if database is None or not isinstance(error, database.Error):
            raise
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        fail(
            4,
            "storage",
            f"database error: {detail} — check the server, and that --storage names it",
            as_json,
        )


def make_store(storage: str) -> Any:
    """The store --storage names: a postgresql:// URL, or a directory."""
    from ..errors import BadInput
    from ..store import is_database_url, open_store

    if not is_database_url(storage):
        path = Path(storage)
        if path.is_symlink():
            # Writes must stay inside the directory the operator named, not where it points.
            raise BadInput(
                f"--storage: {storage} is a symbolic link (to {os.readlink(path)})",
                "pass the real directory",
            )
        if path.exists() and not path.is_dir():
            raise BadInput(f"--storage: {storage} is a file", "pass a directory")
    return open_store(storage)


def bridge_settings(executor: str, bridge: str | None, timeout: float | None) -> Any:
    """The bridge to run with, or None for the in-process executor."""
    if executor == "inprocess":
        if bridge is not None:
            from ..errors import BadInput

            raise BadInput("--bridge: given without --executor bridge", "add --executor bridge")
        return None
    if executor != "bridge":
        from ..errors import BadInput

        raise BadInput(f"--executor: {executor!r} is not an executor", "use inprocess or bridge")
    from ..bridge import BridgeSettings

    return BridgeSettings.from_environment(bridge, timeout)


def actor_or_default(actor: str | None) -> str:
    if actor:
        return actor
    from ..runner import default_actor

    return default_actor()


def is_terminal() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
