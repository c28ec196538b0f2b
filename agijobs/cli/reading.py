"""status, audit and schema: what a stored run says, verified, and the scenario format."""

from typing import Annotated

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

    Example: agijobs status --watch --json | jq -c '{tick, state}'
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

    Example: agijobs events --type owner. --since-tick 100
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
        )
        try:
            if write is not None:
                sys.stdout.flush()
                for piece in lines:
                    write(piece)
            else:
                from ..views.events import event_line

                print_line = sys.stdout.write
                for line, event in lines:
                    print_line(event_line(event if event is not None else _parse(line)) + "\n")
        except KeyboardInterrupt:
            sys.stdout.flush()
            raise SystemExit(130) from None


def _parse(line: bytes) -> dict[str, object]:
    import orjson

    parsed: dict[str, object] = orjson.loads(line)
    return parsed


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

    Example: agijobs describe job earth-finance-000001
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

    Example: agijobs describe node mars.gpu-helion
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

    Example: agijobs describe shard mars
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

    Example: agijobs audit --quick --command reroute --since-tick 100
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
            print_json("Audit", report.to_json())
        else:
            from .render import render_audit

            render_audit(report)


def schema() -> None:
    """Print the JSON Schema of scenario files, for editors to validate and complete them.

    Generated from the same pydantic models `plan` and `run` validate with.

    Example: agijobs schema > agijobs-scenario.schema.json
    """
    with guard(False):
        from ..service import scenario_schema

        print_raw_json(scenario_schema())
