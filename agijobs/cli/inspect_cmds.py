"""status and audit: read-only views of a storage directory."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import (
    DEFAULT_STORAGE,
    BridgeOption,
    BridgeTimeoutOption,
    ExecutorOption,
    JsonOption,
    StorageOption,
    guard,
    print_json,
)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("audit")(audit)
    app.command("schema")(schema)


def schema() -> None:
    """Print the JSON Schema of scenario files, for editors to validate and complete them.

    Generated from the same pydantic models `plan` and `run` validate with.

    Example: agijobs schema > agijobs-scenario.schema.json
    """
    with guard(False):
        from ..scenario.schema import scenario_schema

        print_json(scenario_schema())


def status(
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Follow a live run (read-only) until it stops; Ctrl-C to leave."
        ),
    ] = False,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Show the run: no run / running (pid) / paused / stopped / finished / crashed.

    Per shard: queue, in-flight, completed, failed, budget, health; nodes up, down or over
    budget; the last checkpoint and the chain head; owner authority and pending proposals.
    Exit 3 if storage fails verification. --watch follows a live run from another terminal
    (a live view on a terminal, a plain line a second otherwise), then shows the final status.

    Example: agijobs status --watch
    """
    from .views import show_status

    show_status(watch, storage, as_json)


def audit(
    replay: Annotated[
        bool, typer.Option("--replay", help="Re-run the plan from tick 0 and compare chain heads.")
    ] = False,
    executor: ExecutorOption = "inprocess",
    bridge: BridgeOption = None,
    bridge_timeout: BridgeTimeoutOption = None,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Verify the whole event chain, the checkpoint against it, and conservation of jobs.

    Prints the governance timeline (tick, command, actor, reason, effect). Exit 3 on any
    mismatch, naming the first bad seq and line.

    Example: agijobs audit --replay
    """
    from .views import show_audit

    show_audit(replay, executor, bridge, bridge_timeout, storage, as_json)
