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
    SinceTick,
    Storage,
    UntilTick,
    Witness,
    argument,
)
from .output import guard, print_json, print_json_line, print_raw_json


def status(
    watch: Annotated[
        bool,
        Opt(
            "--watch",
            "Follow a live run (read-only) until it stops; Ctrl-C to leave. With --json: one "
            "Status document a line (NDJSON) as the run goes, the final status last.",
        ),
    ] = False,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Show the run: no run / running (pid) / paused / stopped / finished / crashed.

    Per shard: queue, in-flight, completed, failed, budget, health; nodes up, down or over
    budget; the last checkpoint and the chain head; owner authority and pending proposals.
    Exit 3 if storage fails verification. --watch follows a live run from another terminal
    (a live view on a terminal, a plain line a second otherwise), then shows the final status.
    --watch --json is the exception to "one document": a stream of compact Status documents,
    one a line, each as the runner published it, then the final status.

    Examples:
      # The run at a glance
      agijobs status
      # Follow a live run from another terminal
      agijobs status --watch
      # For a script: one JSON document (kind Status)
      agijobs status --json --storage "postgresql://ops@db/fabrics?fabric=planetary"
      # A stream of status documents, one a line, while the run goes
      agijobs status --watch --json | jq -c '{tick, state}'
    """
    with guard(as_json):
        from ..service import Fabric

        fabric = Fabric(storage)
        if not watch:
            report = fabric.status()
        elif as_json:
            print_json_line("Status", fabric.status_stream(print_json_line))
            return
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


def events(
    follow: Annotated[
        bool,
        Opt(
            "--follow",
            "Then follow the live run as it appends, until it stops (Ctrl-C to leave: 130).",
        ),
    ] = False,
    types: Annotated[
        list[str] | None,
        Opt(
            "--type",
            "Only events of this type (job.completed) or prefix ending in '.' (owner.); "
            "repeat for several.",
        ),
    ] = None,
    job: Annotated[str | None, Opt("--job", "Only events that name this job.")] = None,
    node: Annotated[str | None, Opt("--node", "Only events that name this node.")] = None,
    shard: Annotated[
        str | None, Opt("--shard", "Only events that name this shard (moves: from or to).")
    ] = None,
    since_tick: SinceTick = None,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Annotated[
        bool,
        Opt(
            "--json",
            "Newline-delimited JSON: each event's stored line as it is, one a line (the "
            "exception to one document; a refusal is still one Error document).",
        ),
    ] = False,
) -> None:
    """Print the run's events, oldest first: a line each (tick, seq, type, what it says).

    Filters combine with AND: --type T --shard S gives events of type T that name S; several
    --type are alternatives. --follow then tails a live run as it appends, never taking its
    lock: complete lines only, read a little at a time; it ends when the runner stops. On
    PostgreSQL the runner commits events with each checkpoint, so they come checkpoint by
    checkpoint. An unknown --node or --shard exits 2.

    Examples:
      # Every owner command since tick 100
      agijobs events --type owner. --since-tick 100
      # Follow a live run's events for one shard, as JSON lines
      agijobs events --follow --shard earth --json
      # One job's history from the log
      agijobs events --job earth-finance-000001
    """
    import sys

    with guard(as_json):
        from ..service import Fabric

        write = sys.stdout.buffer.write if as_json else None
        lines = Fabric(storage).events(
            types=types or (),
            job=job,
            node=node,
            shard=shard,
            since_tick=since_tick,
            follow=follow,
            idle=sys.stdout.flush,
            on_no_runner=lambda: _no_runner(storage) if follow else None,
            raw=as_json,
            batched=True,
        )
        try:
            if write is not None:
                sys.stdout.flush()
                for piece in lines:
                    write(piece)
            else:
                from ..views.events import events_text

                for batch in lines:
                    sys.stdout.write(events_text(batch))
        except KeyboardInterrupt:
            sys.stdout.flush()
            raise SystemExit(130) from None


def _no_runner(storage: str) -> None:
    from .output import notice

    notice(f"no live run in {storage} to follow; printed the log as it is")


def describe_job(
    job: Annotated[str, argument("The job's id.")],
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """A job: where it was submitted, where it is now, and each of its events (submitted,
    moved, assigned, requeued, completed or failed) with its tick.

    Reads the log through an index kept in STORAGE/events-index (built on first use, extended
    as the log grows; never part of what `audit` compares). Exit 2 if no event names the job.

    Examples:
      # Where a job is and what happened to it
      agijobs describe job earth-finance-000001
      # The same as one JSON document (kind JobDescription)
      agijobs describe job earth-finance-000001 --json
    """
    _describe("job", job, storage, as_json)


def describe_node(
    node: Annotated[str, argument("The node's id.")],
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """A node: its skills, slots, latency, up or down, the jobs it runs, and its history
    (faults, going down or up, latency breaches, owner commands about it).

    Exit 2 for a node the run never had (with a did-you-mean).

    Examples:
      # A node's state and history
      agijobs describe node mars.gpu-helion
      # The same as one JSON document (kind NodeDescription)
      agijobs describe node mars.gpu-helion --json
    """
    _describe("node", node, storage, as_json)


def describe_shard(
    shard: Annotated[str, argument("The shard's id.")],
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """A shard: its budget, queue limits and spillover, its queues and counters, whether it
    is paused, and its history (owner commands about it, its nodes' faults).

    Exit 2 for a shard the run never had (with a did-you-mean).

    Examples:
      # A shard's queues, counters, pause and history
      agijobs describe shard mars
      # The same as one JSON document (kind ShardDescription)
      agijobs describe shard mars --json --storage ./storage
    """
    _describe("shard", shard, storage, as_json)


def _describe(kind: str, name: str, storage: str, as_json: bool) -> None:
    with guard(as_json):
        from ..service import Fabric

        described = Fabric(storage).describe(kind, name)
        if as_json:
            print_json(f"{kind.capitalize()}Description", described)
        else:
            import sys

            from ..views.events import description_lines

            sys.stdout.write("".join(line + "\n" for line in description_lines(kind, described)))


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
    actor: Annotated[
        str | None, Opt("--actor", "Show only the timeline rows of this actor.")
    ] = None,
    command: Annotated[
        str | None, Opt("--command", "Show only the timeline rows of this command (reroute).")
    ] = None,
    since_tick: SinceTick = None,
    until_tick: UntilTick = None,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Prove the stored run: re-make it from its plan and recorded owner commands, and
    compare every event, the checkpoint's whole state and the summary, byte for byte.

    Prints what it proved, what it could not, and the governance timeline (tick, command,
    actor, reason, effect). Exit 3 on any difference, naming the first line or field.
    --witness also proves the log extends every head the run published there (nothing
    rewritten, deleted, or appended after the end); exit 3 naming the record and the line.
    --actor, --command, --since-tick and --until-tick (combined with AND) choose the
    timeline rows shown; they never change what is proved: the whole run is still verified.

    Examples:
      # Prove the whole run, byte for byte
      agijobs audit
      # The chain, the counters and authority only: seconds on a large run
      agijobs audit --quick
      # Also prove the log extends every head the run published
      agijobs audit --witness heads.ndjson
      # Show only the reroutes since tick 100 (the whole run is still proved)
      agijobs audit --quick --command reroute --since-tick 100
    """
    with guard(as_json):
        from ..service import Fabric

        report = Fabric(storage).audit(
            quick=quick,
            executor=executor,
            bridge=bridge,
            bridge_timeout=bridge_timeout,
            witness=witness,
            actor=actor,
            command=command,
            since_tick=since_tick,
            until_tick=until_tick,
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
