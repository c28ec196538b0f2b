"""Owner commands from the CLI: delivered to a live runner's inbox, or applied at rest.

With a live runner the command is written durably into its inbox and the caller waits for
the acknowledgement (the tick it took effect at). With none, it is applied to the
checkpoint under the run lock: events appended at the resting tick, a new checkpoint
written, and only then reported as done.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ..errors import BadInput, Conflict, NotAcknowledged, Refused
from ..fabric.commands import ADDS_JOBS, JOBLESS
from ..fabric.inputs import BATCH, CommandInput
from ..scenario.limits import MAX_JOBS, MAX_TOTAL_VALUE, price_problem
from ..store import Store, no_run
from ..store.files import RUN_PLAN
from .acyclic import uncollected
from .journal import pending_entries
from .keys import HeadSigner, runner_key
from .loading import load_run, read_json
from .recorder import Recorder
from .sessions import default_actor, record_recovery, runner_is_live, session_record


@dataclass(slots=True)
class CommandResult:
    mode: str  # "live" | "at-rest"
    tick: int
    event: str
    effect: dict[str, Any]
    command_id: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)  # per command of a batch
    notices: list[str] = field(default_factory=list)
    command: str = ""  # the command issued (`batch` for several applied together)


def issue_command(
    store: Store,
    name: str,
    args: dict[str, Any],
    reason: str,
    actor: str | None,
    timeout: float,
    key: str | None = None,
) -> CommandResult:
    """Send an owner command to the live runner, or apply it at rest under the lock.

    On a fabric that declares keys the command is signed with `key` (a name under the key
    directory, or a path); unsigned, it is refused and the refusal recorded. `approve` signs
    the pending proposal's bytes instead of its own."""
    if not store.has_run():
        raise no_run(store)
    issued_ns = time.time_ns()
    issued_at = (
        datetime.fromtimestamp(issued_ns / 1e9, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
    _check_prices(store, name, args)
    auth, actor, notices = _authenticate(store, name, args, reason, actor, issued_at, key)
    command = CommandInput(name, args, reason, actor, "at-rest", issued_at, auth=auth)
    result = _deliver(store, command, issued_ns, timeout)
    result.notices = notices
    result.command = name
    return result


def _check_prices(store: Store, name: str, args: dict[str, Any]) -> None:
    """What a run adds up must stay where it is kept (docs/scenario-format.md, "Limits"),
    checked before anything is sent or applied: jobs submitted (`job.submit`, alone or in a
    batch) keep the run within its number of jobs and its total value, and no node's price
    (given by node.register or node.update, or already in force) can overflow the run's cost
    for all its jobs, the workload's and those submitted. The jobs submitted so far are the
    last checkpoint's count: a live runner's latest batches may not be in it yet."""
    commands = args["commands"] if name == BATCH else [{"command": name, "args": args}]
    prices = []
    submitted = submitted_value = 0
    for index, command in enumerate(commands):
        where = f"commands -> {index} -> " if name == BATCH else ""
        if command["command"] == "node.register":
            prices.append((f"{where}node -> price_per_job", command["args"]["node"]))
        elif command["command"] == "node.update":
            prices.append((f"{where}update -> price_per_job", command["args"]["update"]))
        elif command["command"] == "job.submit":
            for entry in command["args"]["jobs"]:
                jobs = int(entry.get("count", 1))
                submitted += jobs
                submitted_value += jobs * int(entry["value"])
    prices = [(where, spec["price_per_job"]) for where, spec in prices if spec.get("price_per_job")]
    if not prices and not submitted:
        return
    document = read_json(store, RUN_PLAN) or {}
    workload = (document.get("scenario") or {}).get("workload") or []
    jobs = sum(int(group.get("count", 0)) for group in workload)
    if submitted:
        state = _checkpoint_state(store)
        intake = state.get("intake") or {}
        jobs += int(intake.get("jobs", 0)) + submitted
        value = (
            int(intake.get("value", 0))
            + submitted_value
            + sum(_group_value(group) for group in workload)
        )
        if jobs > MAX_JOBS:
            raise BadInput(
                f"job.submit: the run would hold {jobs:,} jobs in all, more than {MAX_JOBS:,} "
                '(docs/scenario-format.md, "Limits")',
                "submit fewer jobs",
            )
        if value > MAX_TOTAL_VALUE:
            raise BadInput(
                f"job.submit: the values of the run's jobs would add up to {value:,}, more than "
                f"{MAX_TOTAL_VALUE:,}",
                "submit jobs of lower value",
            )
        in_force = max((int(n.get("price_nano", 0)) for n in state.get("nodes", ())), default=0)
        if in_force:
            prices.append(("job.submit: the price_per_job of a node in force", in_force / 1e9))
    for where, price in prices:
        problem = price_problem(price, jobs)
        if problem is not None:
            raise BadInput(f"{where}: {problem}", "set a lower price_per_job")


def _checkpoint_state(store: Store) -> dict[str, Any]:
    """The last checkpoint's state as stored (verified later, by the command's load)."""
    raw = store.read_checkpoint()
    try:
        document = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        document = None
    state = document.get("state") if isinstance(document, dict) else None
    return state if isinstance(state, dict) else {}


def _group_value(group: dict[str, Any]) -> int:
    """The values of a workload group's jobs added up (value, value + step, …)."""
    count, value, step = int(group["count"]), int(group["value"]), int(group["value_step"])
    return count * value + step * count * (count - 1) // 2


def _deliver(store: Store, command: CommandInput, issued_ns: int, timeout: float) -> CommandResult:
    if runner_is_live(store):
        return _send_live(store, command, issued_ns, timeout)
    with contextlib.ExitStack() as held:
        try:
            # Another at-rest command may hold the lock briefly: wait for it, not forever.
            held.enter_context(store.run_lock(wait=min(timeout, 5.0)))
        except Conflict:
            if runner_is_live(store):  # a runner started meanwhile
                return _send_live(store, command, issued_ns, timeout)
            raise
        return _apply_at_rest(store, command)


def governance_view(store: Store) -> dict[str, Any] | None:
    """The key set and pending proposals as this process can see them: a live runner's
    published view, else the checkpoint, else the plan; None in open mode."""
    plan = read_json(store, RUN_PLAN) or {}
    owner = plan.get("scenario", {}).get("fabric", {}).get("owner", {})
    if not owner.get("keys"):
        return None
    if runner_is_live(store):
        view = read_json(store, "live.json") or {}
        if "governance" in view:
            return dict(view["governance"])
    checkpoint = read_json(store, "checkpoint.json") or {}
    state = checkpoint.get("state")
    if isinstance(state, dict) and "governance" in state:
        return dict(state["governance"])
    return {"keys": owner["keys"], "proposals": []}


def pending_proposal(governance: dict[str, Any], wanted: str) -> str:
    """A proposal id, or the command name of the one pending proposal for that command."""
    if wanted.startswith("p-"):
        return wanted
    matching = [p["id"] for p in governance["proposals"] if p["command"]["command"] == wanted]
    if len(matching) == 1:
        return str(matching[0])
    if not matching:
        raise BadInput(
            f"PROPOSAL: no pending proposal for `{wanted}`",
            "see the pending proposals in `agijobs status`",
        )
    raise BadInput(
        f"PROPOSAL: {len(matching)} pending proposals for `{wanted}`: {', '.join(matching)}",
        "name the one to approve by its id",
    )


def _authenticate(
    store: Store,
    name: str,
    args: dict[str, Any],
    reason: str,
    actor: str | None,
    issued_at: str,
    key: str | None,
) -> tuple[dict[str, Any] | None, str, list[str]]:
    """The command's auth (None: unsigned), its actor, and notices for the operator."""
    governance = governance_view(store)
    if governance is None:
        notices = [] if key is None else [f"the fabric declares no keys (open mode): {key} unused"]
        return None, actor or default_actor(), notices
    if key is None:
        return None, actor or default_actor(), []  # the runner records the refusal
    from ..ledger.signing import command_message
    from .keys import load_key, name_in, sign_command, signed_auth

    loaded = load_key(key)
    key_name = name_in(governance["keys"], loaded) or loaded.path.stem
    if actor is None:
        actor = key_name
    if name == "approve":
        wanted = args["proposal"] = pending_proposal(governance, args["proposal"])
        proposal = next((p for p in governance["proposals"] if p["id"] == wanted), None)
        if proposal is None:  # the runner refuses and records it: nothing to sign
            return None, actor, []
        from ..fabric.authority import envelope_of

        message = command_message(envelope_of(CommandInput.from_json(proposal["command"])))
        return signed_auth(loaded, key_name, message), actor, []
    info = read_json(store, "run.json") or {}
    run_id = str(info.get("run_id"))
    return sign_command(loaded, actor, name, args, reason, issued_at, run_id), actor, []


def _send_live(
    store: Store, command: CommandInput, issued_ns: int, timeout: float
) -> CommandResult:
    name = command.name
    raw: dict[str, Any] = {
        "command": name,
        "args": command.args,
        "reason": command.reason,
        "actor": command.actor,
        "issued_at": command.issued_at,
        "issued_ns": issued_ns,
    }
    if command.auth is not None:
        raw["auth"] = command.auth
    command_id = store.submit_command(raw)
    ack = store.wait_ack(command_id, timeout)
    if ack is None:
        raise NotAcknowledged(
            f"the live run did not acknowledge {name} within {timeout:g}s "
            f"(command {command_id} stays queued)",
            "check `agijobs status`; it applies when the runner next reads its inbox",
        )
    if ack["event"] == "owner.rejected":
        raise BadInput(f"the live run rejected {name}: {ack['error']}")
    if ack["event"] == "governance.refused":
        raise Refused(f"the live run refused {name}: {ack['error']}")
    return CommandResult(
        "live", ack["tick"], ack["event"], ack["effect"], command_id, ack.get("results", [])
    )


def _apply_at_rest(store: Store, command: CommandInput) -> CommandResult:
    loaded = load_run(store, check_plan=False)  # a command at rest never ticks
    key = runner_key(loaded.plan, None)  # a keyed fabric's checkpoints are signed: refuse now
    # A command that changes no job, or only adds some, never parses the backlog's rows.
    engine = loaded.engine(jobs=command.name not in JOBLESS | ADDS_JOBS)
    if engine.is_done() or engine.state.tick >= loaded.plan.inputs.max_ticks:
        raise Conflict(
            f"the run in {store.location} finished at tick {engine.state.tick}",
            "owner commands change a live or unfinished fabric; start a new run",
        )
    # Checked as `runner start` checks it: a journal it would refuse is refused here too (exit 3).
    unreplayed = len(pending_entries(store, store.read_journal(), engine, loaded.plan))
    if loaded.checkpoint is None or unreplayed:
        what = (
            f"{unreplayed} acknowledged live command(s) not yet in its checkpoint"
            if unreplayed
            else "no checkpoint yet"
        )
        raise Conflict(
            f"the run in {store.location} stopped abnormally with {what}",
            "recover it with `agijobs runner start` first (a pause in force stays in force), "
            "then issue the command",
        )
    refusal = None
    try:
        events = engine.apply_at_rest(command)  # raises BadInput before anything is written
    except Refused as error:  # the refused attempt is recorded, the fabric unchanged
        events, refusal = engine.events, error
    recorder = Recorder(store, loaded.plan, engine, loaded)
    if key is not None:
        recorder.signer = HeadSigner(loaded.plan.name, str(loaded.run_id), key)
    crashed = record_recovery(store, loaded)
    # Jobs added to an engine without its rows: the checkpoint splices them into the stored
    # table's bytes, or, for a class new to its shard, decodes the stored rows to merge them
    # (acyclic: the cycle collector would double what that costs).
    merging = uncollected() if engine.unrestored is not None and engine.state.jobs else None
    try:
        with merging or contextlib.nullcontext():
            recorder.write(engine.state.tick, events)
            recorder.checkpoint()
    finally:
        recorder.close()
    tick = engine.state.tick
    store.append_session(
        session_record(
            "command", command=command.name, actor=command.actor, tick=tick, seq=recorder.seq
        )
    )
    if crashed:  # the run now rests at its checkpoint like any stopped run
        store.append_session(
            session_record("stopped", tick=tick, status="stopped", reason="recovered at rest")
        )
    if refusal is not None:
        raise refusal
    results = [{"event": k, "effect": d["effect"]} for k, d in events if k.startswith("owner.")]
    return CommandResult(
        "at-rest", engine.state.tick, results[0]["event"], results[0]["effect"], None, results
    )
