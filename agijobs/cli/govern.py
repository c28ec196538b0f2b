"""Owner commands: pause-all, reroute, set-latency (resume lives with the lifecycle).

With a live runner the command goes to its inbox and the CLI waits for the acknowledgement;
with none, it is applied to the checkpoint at rest under the run lock.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .common import (
    DEFAULT_STORAGE,
    ActorOption,
    JsonOption,
    KeyOption,
    ReasonOption,
    StorageOption,
    TimeoutOption,
    guard,
)
from .owner_commands import issue, reroute_args, set_latency_args


def register(app: typer.Typer) -> None:
    app.command("pause-all")(pause_all)
    app.command("reroute")(reroute)
    app.command("set-latency")(set_latency)
    app.command("apply")(apply)
    app.command("approve")(approve)


def pause_all(
    reason: ReasonOption,
    actor: ActorOption = None,
    key: KeyOption = None,
    timeout: TimeoutOption = 10.0,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Pause every router: no assignment, no spillover; in-flight jobs finish, arrivals queue.

    Idempotent: pausing a paused fabric exits 0 ("already paused").

    Example: agijobs pause-all --reason "Helios GPU thermal recalibration"
    """
    issue("pause-all", {}, reason, actor, key, timeout, storage, as_json)


def reroute(
    reason: ReasonOption,
    source: Annotated[str, typer.Option("--from", help="Shard whose backlog moves.")],
    target: Annotated[str | None, typer.Option("--to", help="Shard that takes it.")] = None,
    backlog: Annotated[
        str | None,
        typer.Option("--backlog", help="'all' or a number of queued jobs to move now."),
    ] = None,
    job: Annotated[str | None, typer.Option("--job", help="Move this one job.")] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Restore the shard's configured spillover targets.")
    ] = False,
    actor: ActorOption = None,
    key: KeyOption = None,
    timeout: TimeoutOption = 10.0,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Make --to the first spillover target of --from and move queued jobs now.

    Moves up to --backlog of the oldest queued jobs that --to can serve, never beyond its
    max_queue; --job moves one job (pulling it off its node if running); --clear restores
    the configured targets.

    Example: agijobs reroute --from earth --to helios --backlog all --reason "Earth backlog"
    """
    with guard(as_json):
        args = reroute_args(reason, source, target, backlog, job, clear)
    issue("reroute", args, reason, actor, key, timeout, storage, as_json)


def set_latency(
    reason: ReasonOption,
    shard: Annotated[str, typer.Option("--shard", help="Shard whose budget changes.")],
    ms: Annotated[int, typer.Option("--ms", help="New latency budget in milliseconds.")],
    actor: ActorOption = None,
    key: KeyOption = None,
    timeout: TimeoutOption = 10.0,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Change a shard's latency budget; routers only assign to nodes within it.

    Reports the nodes that became ineligible or eligible.

    Example: agijobs set-latency --shard mars --ms 350 --reason "Tighten Mars SLA"
    """
    with guard(as_json):
        args = set_latency_args(reason, shard, ms)
    issue("set-latency", args, reason, actor, key, timeout, storage, as_json)


def apply(
    source: Annotated[str, typer.Argument(help="YAML/JSON file of command(s), or - for stdin.")],
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Reason for commands that do not give their own."),
    ] = None,
    actor: ActorOption = None,
    key: KeyOption = None,
    timeout: TimeoutOption = 10.0,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Apply owner commands given as YAML or JSON: one command, or a list applied together.

    Any of the 17 commands (pause-all, resume, reroute, set-latency, shard.pause,
    shard.resume, shard.register, shard.deregister, shard.update, node.register,
    node.update, node.deregister, job.cancel, job.reroute, checkpoint.save,
    checkpoint.configure, reporting.configure), in agijobs form (`command: NAME`) or in the
    reference demo's form (`type: NAME`, camelCase). A list is all or none: if one command
    is invalid, none is applied and nothing changes.

    Example: echo '{command: shard.pause, shard: mars, reason: maintenance}' | agijobs apply -
    """
    with guard(as_json):
        from pathlib import Path

        from ..errors import BadInput
        from ..fabric.inputs import BATCH
        from ..scenario.command_input import parse_commands
        from ..scenario.documents import read_commands_document

        label = Path("<stdin>") if source == "-" else Path(source)
        if source == "-":
            import sys

            raw = read_commands_document(label, sys.stdin.buffer.read())
        else:
            raw = read_commands_document(label, None)
        parts, notices = parse_commands(label, raw, reason)
        for notice in notices:
            typer.echo(f"Notice: {notice}", err=True)
        if len(parts) == 1:
            name, args, why = parts[0]
        else:
            name, why = BATCH, f"{len(parts)} commands applied together"
            args = {"commands": [{"command": n, "args": a, "reason": r} for n, a, r in parts]}
        if not why.strip():
            raise BadInput("reason: must not be empty", "say why, e.g. --reason 'incident 42'")
    issue(name, args, why, actor, key, timeout, storage, as_json)


def approve(
    proposal: Annotated[
        str,
        typer.Argument(
            help="Proposal id as printed (p-…), or a command name when exactly one proposal "
            "for it is pending."
        ),
    ],
    key: KeyOption = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why you approve (recorded).")
    ] = None,
    timeout: TimeoutOption = 10.0,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Add your signature to a pending proposal; at the threshold its command is applied.

    Signs the same bytes the proposer signed (see `agijobs status` for pending proposals).
    A key approves a proposal once; an applied or expired proposal cannot be approved.

    Example: agijobs approve p-3f2a9c1b7d4e --key bob   (or: agijobs approve set-latency)
    """
    issue(
        "approve",
        {"proposal": proposal},
        reason or f"approve {proposal}",
        None,
        key,
        timeout,
        storage,
        as_json,
    )
