"""The one way out of a command, without Typer: named errors become a message and an exit
code (README, "Exit codes"), documents and notices are printed. The Typer commands and the
fast path (`fast.py`) run the same command functions, so both end the same way."""

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import orjson

from ..views.text import visible

# The machine contract's version: every --json document says which contract it keeps
# (docs/json-contract.md says what may change within it).
API_VERSION = "agijobs/v1"


def print_json(kind: str, document: dict[str, Any]) -> None:
    """Print one --json document of `kind` (its schema's name), versioned."""
    versioned = {"api_version": API_VERSION, "kind": kind, **document}
    sys.stdout.write(orjson.dumps(versioned, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_json_line(kind: str, document: dict[str, Any]) -> None:
    """One document of a stream (`status --watch --json`): versioned, compact, on one line,
    flushed so a reader sees it at once."""
    versioned = {"api_version": API_VERSION, "kind": kind, **document}
    sys.stdout.write(orjson.dumps(versioned).decode() + "\n")
    sys.stdout.flush()


def print_raw_json(document: Any) -> None:
    """Print a JSON document that is not one of agijobs' outputs (a JSON Schema)."""
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def notice(text: str) -> None:
    """What an input had that agijobs ignores or defaults: said on stderr, so a --json
    document on stdout stays one document."""
    sys.stderr.write(f"Notice: {visible(text)}\n")


def fail(code: int, kind: str, message: str, as_json: bool) -> NoReturn:
    if as_json:
        print_json("Error", {"error": {"code": kind, "exit_code": code, "message": message}})
    else:
        # The message may quote the input it refuses: shown, not obeyed, by the terminal.
        sys.stderr.write(f"Error: {visible(message, keep_newlines=True)}\n")
    raise SystemExit(code)


@contextlib.contextmanager
def guard(as_json: bool) -> Iterator[None]:
    """Map the project's named errors to their exit codes; anything else is a bug."""
    from ..errors import AgijobsError

    try:
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
