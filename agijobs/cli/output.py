"""The one way out of a command, without Typer: named errors become a message and an exit
code (README, "Exit codes"), documents are printed, --storage is opened. The Typer commands
and the fast path (`fast.py`) share it, so both end the same way."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import orjson


def print_json(document: Any) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def fail(code: int, kind: str, message: str, as_json: bool) -> NoReturn:
    if as_json:
        print_json({"error": {"code": kind, "exit_code": code, "message": message}})
    else:
        sys.stderr.write(f"Error: {message}\n")
    raise SystemExit(code)


@contextlib.contextmanager
def guard(as_json: bool) -> Iterator[None]:
    """Map the project's named errors to their exit codes; anything else is a bug."""
    from ..errors import AgijobsError
    from ..store import crashpoints

    try:
        crashpoints.arm_from_environment()
        yield
        sys.stdout.flush()  # a closed pipe must surface here, not in the parser's handler
    except BrokenPipeError:
        # The reader went away (`agijobs audit | head -1`): say nothing more, and exit as a
        # shell reports a process ended by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(141) from None
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
    from ..run.bridge import BridgeSettings

    return BridgeSettings.from_environment(bridge, timeout)
