"""status, fabrics, audit, report and schema: what a stored run says, verified, and the
published schemas (scenario files, the event log, each --json kind)."""

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

    Examples:
      # The run at a glance
      agijobs status
      # Follow a live run from another terminal
      agijobs status --watch
      # For a script: one JSON document (kind Status)
      agijobs status --json --storage "postgresql://ops@db/fabrics?fabric=planetary"
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


def fabrics(storage: Storage = DEFAULT_STORAGE, as_json: Json = False) -> None:
    """List the fabrics a storage holds: name, run id, scenario, tick, finished?, live?

    A PostgreSQL database holds many (the URL need not name one with ?fabric=), and the runs
    `run --fresh` set aside, as NAME@RUN_ID; a storage directory holds one, and the runs
    set aside under its archive/. Nothing is verified: `status` and `audit` do that for
    the one you pick. Exit 4 when the storage does not exist or cannot be reached.

    Examples:
      # Every fabric of a shared database
      agijobs fabrics --storage postgresql://ops@db/fabrics
      # A storage directory's run, and the runs archived beside it
      agijobs fabrics --storage ./storage
      # For a script: one JSON document (kind FabricList)
      agijobs fabrics --storage postgresql://ops@db/fabrics --json
    """
    with guard(as_json):
        from ..service import Fabric

        report = Fabric(storage).fabrics()
        if as_json:
            print_json("FabricList", report)
        else:
            from .render import render_fabrics

            render_fabrics(report)


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

    Examples:
      # Prove the whole run, byte for byte
      agijobs audit
      # The chain, the counters and authority only: seconds on a large run
      agijobs audit --quick
      # Also prove the log extends every head the run published
      agijobs audit --witness heads.ndjson
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


def report(
    out: Annotated[
        str | None,
        Opt(
            "--out",
            "Directory to write into, made if missing (default: the storage directory; "
            "needed for a database).",
        ),
    ] = None,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Write the run's report (report.html, report.md) and Prometheus textfile (metrics.prom).

    For any storage, from its last checkpoint, at any time: a PostgreSQL-stored run, a live
    one, a crashed one. Nothing in the storage changes but the three files, when they are
    written into it. Exit 3 if the storage fails verification.

    Examples:
      # Rewrite the report and textfile of a directory storage, in it
      agijobs report --storage ./storage
      # A PostgreSQL fabric's report, as files for the incident ticket
      agijobs report --storage "postgresql://ops@db/agijobs?fabric=prod" --out ./report
    """
    with guard(as_json):
        from ..service import Fabric

        written = Fabric(storage).report(out)
        if as_json:
            print_json("Report", written)
        else:
            from .render import render_report

            render_report(written)


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

    Examples:
      # Save the scenario schema for an editor
      agijobs schema > agijobs-scenario.schema.json
      # The schema of `agijobs status --json` (kind Status)
      agijobs schema Status
      # The name of every schema: events, each kind, each event type
      agijobs schema --list
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
