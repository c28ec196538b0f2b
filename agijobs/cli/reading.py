"""status, audit and schema: what a stored run says, verified, and the published schemas
(scenario files, the event log, each --json kind)."""

import sys
from typing import Annotated, Any

from .options import (
    DEFAULT_STORAGE,
    Bridge,
    BridgeTimeout,
    Executor,
    Json,
    Opt,
    Storage,
    Witness,
    argument,
)
from .output import guard, print_json, print_raw_json


def status(
    watch: Annotated[
        bool,
        Opt("--watch", "Follow a live run (read-only) until it stops; Ctrl-C to leave."),
    ] = False,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Show the run: no run / running (pid) / paused / stopped / finished / crashed.

    Per shard: queue, in-flight, completed, failed, budget, health; nodes up, down or over
    budget; the last checkpoint and the chain head; owner authority and pending proposals.
    Exit 3 if storage fails verification. --watch follows a live run from another terminal
    (a live view on a terminal, a plain line a second otherwise), then shows the final status.

    Example: agijobs status --watch
    """
    with guard(as_json):
        from ..service import Fabric

        fabric = Fabric(storage)
        if not watch:
            report = fabric.status()
        elif as_json:
            from ..errors import BadInput

            raise BadInput("--watch: not with --json", "poll `agijobs status --json` instead")
        else:
            from .render import Watch

            watching = Watch(storage)
            try:
                report = fabric.status(follow=watching)
            finally:
                watching.close()
        if as_json:
            print_json("Status", report)
        else:
            from .render import render_status

            render_status(report)


def audit(
    quick: Annotated[
        bool,
        Opt(
            "--quick",
            "Check only the chain, the counters and authority (says what that leaves unproved).",
        ),
    ] = False,
    replay: Annotated[
        bool, Opt("--replay", "The default now: the audit always re-makes the run.", hidden=True)
    ] = False,
    executor: Executor = "inprocess",
    bridge: Bridge = None,
    bridge_timeout: BridgeTimeout = None,
    witness: Witness = None,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Prove the stored run: re-make it from its plan and recorded owner commands, and
    compare every event, the checkpoint's whole state and the summary, byte for byte.

    Prints what it proved, what it could not, and the governance timeline (tick, command,
    actor, reason, effect). Exit 3 on any difference, naming the first line or field.
    --witness also proves the log extends every head the run published there (nothing
    rewritten, deleted, or appended after the end); exit 3 naming the record and the line.

    Example: agijobs audit --quick
    """
    with guard(as_json):
        from ..service import Fabric

        report = Fabric(storage).audit(
            quick=quick,
            executor=executor,
            bridge=bridge,
            bridge_timeout=bridge_timeout,
            witness=witness,
        )
        if as_json:
            print_json("Audit", audit_document(report.to_json()))
        else:
            from .render import render_audit

            render_audit(report)


def audit_document(report: dict[str, Any]) -> dict[str, Any]:
    """The Audit document: named effects in the timeline (`before`, `after`), and each
    conservation total as its `count` and `value`."""
    from ..contract import named_effect

    timeline = [
        {**entry, "effect": named_effect(f"owner.{entry['command']}", entry["effect"])}
        if entry["outcome"] == "applied"
        else entry
        for entry in report["governance"]
    ]
    conservation = report["conservation"]
    totals = {
        name: {"count": count, "value": value}
        for name, (count, value) in conservation["totals"].items()
    }
    return {
        **report,
        "governance": timeline,
        "conservation": {**conservation, "totals": totals},
    }


def schema(
    name: Annotated[
        str,
        argument(
            "scenario (the default), events, a --json kind (e.g. Status) or an event type "
            "(e.g. job.submitted)."
        ),
    ] = "scenario",
    listing: Annotated[bool, Opt("--list", "List the schemas' names, one a line.")] = False,
) -> None:
    """Print a JSON Schema (draft 2020-12): scenario files, events.ndjson, a --json output.

    `scenario` (the default) is generated from the pydantic models `plan` and `run`
    validate with, for editors to validate and complete scenario files. `events` is the
    event log's line, each event type's data in $defs; each --json kind (Status, Audit…)
    is its document. docs/json-contract.md lists them and what may change within
    agijobs/v1.

    Example: agijobs schema > agijobs-scenario.schema.json
    Example: agijobs schema Status
    """
    with guard(False):
        from ..service import schema as published
        from ..service import schema_names

        if listing and name != "scenario":
            from ..errors import BadInput

            raise BadInput(f"NAME: {name!r} given with --list", "drop one of them")
        if listing:
            sys.stdout.write("".join(f"{found}\n" for found in schema_names()))
            return
        print_raw_json(published(name))
