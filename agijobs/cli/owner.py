"""Owner commands: pause-all, resume, reroute, set-latency, cordon, uncordon, drain, apply,
submit, approve.

With a live runner the command goes to its inbox and the CLI waits for the acknowledgement;
with none, it is applied to the checkpoint at rest under the run lock.
"""

import sys
from typing import Annotated, Any

from .options import (
    DEFAULT_STORAGE,
    Actor,
    Deadline,
    Json,
    Key,
    NodeId,
    Opt,
    Reason,
    RetiredBridge,
    RetiredBridgeTimeout,
    RetiredExecutor,
    RetiredKeepPaused,
    RetiredRunnerKey,
    RetiredStopAfter,
    RetiredTickMs,
    RetiredWait,
    RetiredWitness,
    Storage,
    Timeout,
    argument,
)
from .output import guard, notice, print_json


def pause_all(
    reason: Reason,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Pause every router: no assignment, no spillover; in-flight jobs finish, arrivals queue.

    Idempotent: pausing a paused fabric exits 0 ("already paused").

    Examples:
      # Pause the whole fabric (a live runner acknowledges with its tick)
      agijobs pause-all --reason "Helios GPU thermal recalibration"
      # The same, signed with an owner key, as one JSON document
      agijobs pause-all --reason "INC-4711" --key alice --json
    """
    with guard(as_json):
        from ..service import Fabric

        result = Fabric(storage).pause_all(reason, actor, key, timeout)
        show_result(result, as_json)


def resume(
    reason: Annotated[
        str | None, Opt("--reason", "Why the pause is lifted (required; recorded in the log).")
    ] = None,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    keep_paused: RetiredKeepPaused = False,
    stop_after_ticks: RetiredStopAfter = None,
    tick_ms: RetiredTickMs = None,
    wait: RetiredWait = False,
    executor: RetiredExecutor = None,
    bridge: RetiredBridge = None,
    bridge_timeout: RetiredBridgeTimeout = None,
    runner_key: RetiredRunnerKey = None,
    witness: RetiredWitness = None,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Lift the fabric-wide pause (the seed's system.resume): routers assign and spill again.

    An owner command like pause-all: sent to the live runner and acknowledged with its
    tick, or applied at rest and recorded; signed on a fabric that declares keys. It never
    runs the fabric: a stopped or crashed runner is restarted with `agijobs runner start`,
    which leaves a pause in force. Idempotent: lifting no pause exits 0 ("not paused").

    Examples:
      # Lift the pause of a live fabric, or of one at rest (recorded with its reason)
      agijobs resume --reason "INC-4711: batch cleared" --actor alice
      # On a fabric that declares owner keys: signed
      agijobs resume --reason "INC-4711: batch cleared" --key alice
    """
    with guard(as_json):
        from ..errors import BadInput

        runner_options = {
            "--keep-paused": keep_paused,
            "--stop-after-ticks": stop_after_ticks is not None,
            "--tick-ms": tick_ms is not None,
            "--wait": wait,
            "--executor": executor is not None,
            "--bridge": bridge is not None,
            "--bridge-timeout": bridge_timeout is not None,
            "--runner-key": runner_key is not None,
            "--witness": witness is not None,
        }
        given = next((flag for flag, used in runner_options.items() if used), None)
        if given == "--keep-paused":
            raise BadInput(
                "--keep-paused: resume no longer restarts the runner",
                "restart it with `agijobs runner start` (a pause in force stays in force)",
            )
        if given is not None:
            raise BadInput(
                f"{given}: a runner option; resume no longer restarts the runner",
                f"restart it with `agijobs runner start {given} …` (a pause in force stays "
                "in force); `agijobs resume --reason R` only lifts the pause",
            )
        if reason is None:
            raise BadInput(
                "--reason: missing; resume lifts the fabric's pause, an owner action that is "
                "recorded",
                "say why, e.g. --reason 'INC-4711: batch cleared'; to restart a stopped or "
                "crashed runner (the pause staying in force), use `agijobs runner start`",
            )
        from ..service import Fabric

        result = Fabric(storage).resume(reason, actor, key, timeout)
        show_result(result, as_json)


def reroute(
    reason: Reason,
    source: Annotated[str, Opt("--from", "Shard whose backlog moves.")],
    target: Annotated[str | None, Opt("--to", "Shard that takes it.")] = None,
    backlog: Annotated[
        str | None, Opt("--backlog", "'all' or a number of queued jobs to move now.")
    ] = None,
    job: Annotated[str | None, Opt("--job", "Move this one job.")] = None,
    clear: Annotated[
        bool, Opt("--clear", "Restore the shard's configured spillover targets.")
    ] = False,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Make --to the first spillover target of --from and move queued jobs now.

    Moves up to --backlog of the oldest queued jobs that --to can serve, never beyond its
    max_queue; --job moves one job (pulling it off its node if running); --clear restores
    the configured targets.

    Examples:
      # Send earth's whole backlog to helios, and spill there first from now on
      agijobs reroute --from earth --to helios --backlog all --reason "Earth backlog"
      # Move one job
      agijobs reroute --from earth --to luna --job job-000042 --reason "hot job"
      # Back to the configured spillover targets
      agijobs reroute --from earth --clear --reason "backlog drained"
    """
    with guard(as_json):
        from ..service import Fabric

        result = Fabric(storage).reroute(
            reason,
            source,
            target,
            backlog=backlog,
            job=job,
            clear=clear,
            actor=actor,
            key=key,
            timeout=timeout,
        )
        show_result(result, as_json)


def set_latency(
    reason: Reason,
    shard: Annotated[str, Opt("--shard", "Shard whose budget changes.")],
    ms: Annotated[int, Opt("--ms", "New latency budget in milliseconds.")],
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Change a shard's latency budget; routers only assign to nodes within it.

    Reports the nodes that became ineligible or eligible.

    Examples:
      # Tighten Mars' budget; nodes slower than 350 ms get no new work
      agijobs set-latency --shard mars --ms 350 --reason "Tighten Mars SLA"
      # Ask first what it would do to the run in --storage
      agijobs plan --from-storage --intent "set mars latency budget to 350 ms now"
    """
    with guard(as_json):
        from ..service import Fabric

        result = Fabric(storage).set_latency(reason, shard, ms, actor, key, timeout)
        show_result(result, as_json)


# ------------------------------------------------------------------ node operations


def cordon(
    node: NodeId,
    reason: Reason,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Give the node no new work; the jobs running on it carry on.

    Idempotent: cordoning a cordoned (or draining) node exits 0 and changes nothing.

    Examples:
      # Take a node out of new work (a live runner acknowledges with its tick)
      agijobs cordon earth.core-alpha --reason "INC-4712: flaky NIC"
      # The same, signed with an operator key, as one JSON document
      agijobs cordon earth.core-alpha --reason "INC-4712" --key oncall --json
    """
    with guard(as_json):
        from ..service import Fabric

        result = Fabric(storage).cordon(node, reason, actor, key, timeout)
        show_result(result, as_json)


def uncordon(
    node: NodeId,
    reason: Reason,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Let the node take work again; a drain in progress ends, its jobs stay where they are.

    Idempotent: uncordoning a schedulable node exits 0 and changes nothing.

    Examples:
      # Give the node work again
      agijobs uncordon earth.core-alpha --reason "INC-4712: NIC replaced"
      # End a drain early, on another storage
      agijobs uncordon mars.regolith-cradle --reason "CHG-120 postponed" --storage /srv/fabric
    """
    with guard(as_json):
        from ..service import Fabric

        result = Fabric(storage).uncordon(node, reason, actor, key, timeout)
        show_result(result, as_json)


def drain(
    node: NodeId,
    deadline: Deadline,
    reason: Reason,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Cordon the node and let its running jobs finish until the deadline.

    The deadline is relative: the jobs still running at the end of the tick --deadline
    ticks after the acknowledged one go back to the front of their shard's queue, keeping
    their progress (event node.drained). The node stays cordoned until uncordoned.

    Examples:
      # Let the node's jobs finish for 20 ticks, then requeue what still runs
      agijobs drain mars.regolith-cradle --deadline 20 --reason "CHG-120: kernel upgrade"
      # Move the deadline closer (a second drain replaces the first)
      agijobs drain mars.regolith-cradle --deadline 5 --reason "CHG-120: window shortened"
    """
    with guard(as_json):
        from ..service import Fabric

        result = Fabric(storage).drain(node, deadline, reason, actor, key, timeout)
        show_result(result, as_json)


def apply(
    source: Annotated[str, argument("YAML/JSON file of command(s), or - for stdin.")],
    reason: Annotated[
        str | None, Opt("--reason", "Reason for commands that do not give their own.")
    ] = None,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Apply owner commands given as YAML or JSON: one command, or a list applied together.

    Any of the 22 owner commands (pause-all, resume, reroute, set-latency, shard.pause,
    shard.resume, shard.register, shard.deregister, shard.update, node.register,
    node.update, node.deregister, node.cordon, node.uncordon, node.drain, job.submit,
    job.cancel, job.reroute, checkpoint.save, checkpoint.configure, reporting.configure,
    governance.update), in agijobs form (`command: NAME`) or in the reference demo's form
    (`type: NAME`, camelCase). A list is all or none: if one command is invalid, none is
    applied and nothing changes.

    Examples:
      # One command from standard input
      echo '{command: shard.pause, shard: mars, reason: maintenance}' | agijobs apply -
      # A list of commands, all or none, with a reason for those that give none
      agijobs apply change.yaml --reason "CHG-118: mars maintenance window"
    """
    with guard(as_json):
        from ..service import Fabric

        data = sys.stdin.buffer.read() if source == "-" else None
        result = Fabric(storage).apply(
            source, reason, data=data, actor=actor, key=key, timeout=timeout, notices=notice
        )
        show_result(result, as_json)


def submit(
    source: Annotated[str, argument("JSON lines or YAML file of jobs, or - for stdin.")],
    reason: Reason,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Submit jobs into the fabric, live or at rest: all of them, or none.

    Each entry gives shard, skills, duration (ticks), value, and either id (one job) or
    prefix and count (jobs PREFIX-000001, PREFIX-000002, ...). A shard that does not exist,
    a skill no node has, or a job id this run has used before (by the workload, or by an
    earlier submission) refuses the whole batch: exit 2, nothing changed. Live, the jobs
    join their queues at the tick the runner acknowledges; at rest, at the fabric's tick.

    Examples:
      # Put the jobs of a JSON-lines file into the fabric, live or at rest
      agijobs submit jobs.ndjson --reason "INC-4712: replay the lost batch"
      # From a pipe: 50 jobs named hot-000001… on earth
      agijobs submit - --reason "INC-4712: hot fixes" --json
    """
    with guard(as_json):
        from ..service import Fabric

        data = sys.stdin.buffer.read() if source == "-" else None
        result = Fabric(storage).submit(
            source, reason, data=data, actor=actor, key=key, timeout=timeout
        )
        show_result(result, as_json)


def approve(
    proposal: Annotated[
        str,
        argument(
            "Proposal id as printed (p-…), or a command name when exactly one proposal "
            "for it is pending."
        ),
    ],
    key: Key = None,
    reason: Annotated[str | None, Opt("--reason", "Why you approve (recorded).")] = None,
    timeout: Timeout = 10.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Add your signature to a pending proposal; at the threshold its command is applied.

    Signs the same bytes the proposer signed (see `agijobs status` for pending proposals).
    A key approves a proposal once; an applied or expired proposal cannot be approved.

    Examples:
      # Approve a pending proposal by its id (agijobs status lists them)
      agijobs approve p-3f2a9c1b7d4e --key bob
      # Or by its command, when it is the only one pending for it
      agijobs approve set-latency --key carol --reason "reviewed in CHG-118"
    """
    with guard(as_json):
        from ..service import Fabric

        result = Fabric(storage).approve(proposal, key=key, reason=reason, timeout=timeout)
        show_result(result, as_json)


def show_result(result: Any, as_json: bool) -> None:
    """The acknowledgement of an owner command, as one document or a line per command;
    notices (a key given to an open fabric) on stderr first."""
    for told in result.notices:
        notice(told)
    show_acknowledgement(result, as_json)


def show_acknowledgement(result: Any, as_json: bool) -> None:
    if as_json:
        print_json("Acknowledgement", acknowledgement(result))
        return
    _print_acknowledgement(result)


def acknowledgement(result: Any) -> dict[str, Any]:
    """The Acknowledgement document: each change of an effect named (`before`, `after`)."""
    from ..contract import named_effect

    document = {
        "command": result.command,
        "mode": result.mode,
        "tick": result.tick,
        "event": result.event,
        "effect": named_effect(result.event, result.effect),
        "id": result.command_id,
    }
    if result.command == "batch":
        document["results"] = [
            {"event": entry["event"], "effect": named_effect(entry["event"], entry["effect"])}
            for entry in result.results
        ]
    return document


def _print_acknowledgement(result: Any) -> None:
    """A line per command applied, in plain text: no Rich for an owner command at rest."""
    from ..views.describe import describe_effect
    from ..views.text import visible

    def say(line: str) -> None:
        print(visible(line))  # names and effects come from the fabric's storage

    name = result.command
    where = "live run" if result.mode == "live" else "fabric at rest"
    for entry in result.results or [{"event": result.event, "effect": result.effect}]:
        applied = entry["event"].removeprefix("owner.")
        effect = entry["effect"]
        if applied == "proposal":
            say(
                f"{name}: proposal {effect['proposal']} recorded, {effect['approvals']} of "
                f"{effect['needed']} approvals (tick {result.tick}, {where}; expires at tick "
                f"{effect['expires_tick']})"
            )
            say(f"approve with: agijobs approve {effect['proposal']} --key NAME")
            continue
        if applied == "approval":
            met = "threshold met, applying" if effect["threshold_met"] else "waiting for more"
            say(
                f"approval of {effect['proposal']} ({effect['command']}): {effect['approvals']} "
                f"of {effect['needed']} approvals — {met} (tick {result.tick}, {where})"
            )
            continue
        described = describe_effect(applied, effect)
        say(f"{applied}: {described} (tick {result.tick}, {where})")
