"""plan, run and resume: the commands that start and continue a fabric run."""

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from .options import (
    DEFAULT_STORAGE,
    Actor,
    Blueprint,
    Bridge,
    BridgeTimeout,
    Executor,
    Json,
    Key,
    Opt,
    OwnerCommands,
    RunnerKey,
    StopAfter,
    Storage,
    TickMs,
    Timeout,
    Wait,
    Witness,
    argument,
)
from .output import guard, notice, print_json


def plan(
    scenario: Annotated[
        Path | None,
        argument(
            "Scenario, plan, or reference mission plan / fabric config (none with --from-storage)."
        ),
    ] = None,
    out: Annotated[
        Path | None, Opt("--out", "Where to write the plan (default STORAGE/plan.json).")
    ] = None,
    blueprint: Blueprint = None,
    owner_commands: OwnerCommands = None,
    emit_scenario: Annotated[
        Path | None,
        Opt("--emit-scenario", "Write the agijobs scenario equivalent to a reference file."),
    ] = None,
    sign: Annotated[
        list[str] | None,
        Opt(
            "--sign",
            "Sign the plan with this owner key (name or path); repeat for several. "
            "Signatures already on a plan file are kept.",
        ),
    ] = None,
    intent: Annotated[
        list[str] | None,
        Opt(
            "--intent",
            "An operator sentence, e.g. 'pause all shards at tick 120 because …'; "
            "repeat for several.",
        ),
    ] = None,
    from_storage: Annotated[
        bool,
        Opt(
            "--from-storage",
            "What-if: predict the run in --storage from its checkpoint, with and "
            "without the intents. Writes nothing unless --out is given.",
        ),
    ] = False,
    check: Annotated[
        bool, Opt("--check", "Exit 1 when the prediction fails an expectation.")
    ] = False,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Validate a scenario, dry-run it in memory and write a reviewed plan.

    The plan is canonical JSON whose plan_id is the sha256 of its content; `agijobs run
    PLAN` executes exactly it. Reference demo files are read unchanged (a mission plan, or
    a fabric config with --blueprint and --owner-commands); --emit-scenario writes the
    equivalent agijobs scenario so you can migrate for good. A fabric that declares owner
    keys runs only from a plan signed by its default threshold of owners (--sign).
    --intent adds operator sentences (see docs/planner.md, "Intents"), each listed beside
    what it became. --from-storage asks "what if?" of a stored run instead: from its checkpoint,
    side by side with and without the intents. Exit 1 with --check when an expectation
    is predicted to fail (plain plan only warns).

    Examples:
      # Review a scenario before running it; the plan goes to STORAGE/plan.json
      agijobs plan scenarios/planetary.yaml
      # Fail a CI step when the prediction misses an expectation
      agijobs plan scenarios/planetary.yaml --out plan.json --check
      # What if the earth backlog went to helios now? (writes nothing)
      agijobs plan --from-storage --intent "reroute the earth backlog to helios now"
    """
    with guard(as_json):
        from ..errors import BadInput
        from ..service import Fabric

        fabric = Fabric(storage)
        if from_storage:
            if scenario is not None:
                raise BadInput(
                    f"SCENARIO: {scenario} given with --from-storage",
                    "a what-if starts from the storage's run; drop SCENARIO, or --from-storage",
                )
            report = fabric.what_if(intent or [], out)
            if as_json:
                print_json("WhatIf", report)
            else:
                from .render import render_what_if

                render_what_if(report)
            held = report["with"]["expect"]["held"]
        else:
            if scenario is None:
                raise BadInput(
                    "SCENARIO: missing", "give a scenario or plan file, or --from-storage"
                )
            result = fabric.plan(
                scenario,
                out=out,
                blueprint=blueprint,
                owner_commands=owner_commands,
                emit_scenario=emit_scenario,
                sign=sign or (),
                intents=intent or (),
            )
            for told in result["notices"]:
                notice(told)
            if as_json:
                print_json("Plan", result)
            else:
                from .render import render_plan

                render_plan(result)
            held = result["predicted"]["expect"]["held"]
    if check and not held:
        raise SystemExit(1)


def run(
    scenario: Annotated[
        Path, argument("Scenario, plan, or reference mission plan / fabric config.")
    ],
    blueprint: Blueprint = None,
    owner_commands: OwnerCommands = None,
    stop_after_ticks: StopAfter = None,
    tick_ms: TickMs = 0,
    wait: Wait = False,
    fresh: Annotated[
        bool, Opt("--fresh", "Move a previous run to STORAGE/archive/ first.")
    ] = False,
    executor: Executor = "inprocess",
    bridge: Bridge = None,
    bridge_timeout: BridgeTimeout = None,
    runner_key: RunnerKey = None,
    witness: Witness = None,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Run a scenario or plan from tick 0 into an empty storage directory.

    Exit 1 when the scenario's expectations fail; 4 when the storage holds another run
    (use --fresh) or is in use, or when the witness cannot be written (the run stops at
    its last checkpoint; resume continues). With --witness -, the witness records are
    standard output and the summary goes to stderr.

    Examples:
      # Run a scenario from tick 0, setting aside a run the storage holds
      agijobs run scenarios/planetary.yaml --storage ./storage --fresh
      # Stop after 30 ticks, at rest, for owner commands (resume continues)
      agijobs run scenarios/earth-backlog-reroute.yaml --fresh --stop-after-ticks 30
      # Run a reviewed plan, publishing each checkpoint's head outside the storage
      agijobs run plan.json --witness heads.ndjson
    """
    with guard(as_json):
        from ..service import Fabric
        from .render import progress_printer

        records_on_stdout = witness_on_stdout(witness, as_json)
        with live_view(progress_printer(quiet=False)) as progress:
            outcome = Fabric(storage).run(
                scenario,
                blueprint=blueprint,
                owner_commands=owner_commands,
                fresh=fresh,
                stop_after_ticks=stop_after_ticks,
                tick_ms=tick_ms,
                wait=wait,
                executor=executor,
                bridge=bridge,
                bridge_timeout=bridge_timeout,
                runner_key=runner_key,
                witness=witness,
                progress=progress,
                notices=notice,
            )
        with human_output(records_on_stdout):
            finish(outcome, as_json)


def resume(
    reason: Annotated[str | None, Opt("--reason", "Why the pause is lifted (recorded).")] = None,
    keep_paused: Annotated[
        bool, Opt("--keep-paused", "Continue the run but leave the pause on.")
    ] = False,
    stop_after_ticks: StopAfter = None,
    tick_ms: TickMs = 0,
    wait: Wait = False,
    actor: Actor = None,
    key: Key = None,
    timeout: Timeout = 10.0,
    executor: Executor = "inprocess",
    bridge: Bridge = None,
    bridge_timeout: BridgeTimeout = None,
    runner_key: RunnerKey = None,
    witness: Witness = None,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Bring the fabric back to live: verify, recover from a crash, lift the pause, continue.

    With a live runner, sends it a resume command (it keeps the witness it was started
    with). Without one, verifies checkpoint and event chain (exit 3 on mismatch), drops
    events a crashed process wrote after the checkpoint and continues the run in the
    foreground from the checkpoint, publishing its heads to --witness.

    Examples:
      # Lift the pause and continue a stopped run in the foreground
      agijobs resume --reason "calibration complete"
      # Continue a crashed run, leaving the pause on
      agijobs resume --keep-paused
      # Lift a live runner's pause, from another terminal
      agijobs resume --reason "INC-4711 resolved" --actor alice
    """
    with guard(as_json):
        from ..service import Fabric
        from .render import progress_printer

        records_on_stdout = witness_on_stdout(witness, as_json)
        with live_view(progress_printer(quiet=False)) as progress:
            result = Fabric(storage).resume(
                reason=reason,
                keep_paused=keep_paused,
                actor=actor,
                key=key,
                timeout=timeout,
                stop_after_ticks=stop_after_ticks,
                tick_ms=tick_ms,
                wait=wait,
                executor=executor,
                bridge=bridge,
                bridge_timeout=bridge_timeout,
                runner_key=runner_key,
                witness=witness,
                progress=progress,
                notices=notice,
            )
        with human_output(records_on_stdout):
            if hasattr(result, "summary"):  # the run continued here (else a live runner's)
                finish(result, as_json)
            else:
                from .owner import show_acknowledgement

                show_acknowledgement(result, as_json)


def witness_on_stdout(witness: str | None, as_json: bool) -> bool:
    """Whether the witness records take standard output (`--witness -`, for CI to keep);
    the human summary then goes to stderr. With --json both would take it: refused."""
    if witness != "-":
        return False
    if as_json:
        from ..errors import BadInput

        raise BadInput(
            "--witness -: not with --json (both would take standard output)",
            "publish to a file (--witness FILE), or drop --json",
        )
    return True


def human_output(to_stderr: bool) -> contextlib.AbstractContextManager[object]:
    """Where the summary is printed: stdout, or stderr when stdout carries the witness."""
    return contextlib.redirect_stdout(sys.stderr) if to_stderr else contextlib.nullcontext()


@contextlib.contextmanager
def live_view(view: Any) -> Iterator[Any]:
    """Stop a terminal live view however the run ends, before the outcome is printed."""
    try:
        yield view
    finally:
        if view is not None:
            view.close()


def finish(outcome: Any, as_json: bool) -> None:
    """Print the outcome; exit 1 when the scenario's expectations failed."""
    if as_json:
        print_json(
            "RunOutcome",
            {
                **outcome.summary,
                "expect_failures": outcome.expect_failures,
                "report": outcome.report,
            },
        )
    else:
        from .render import render_outcome

        render_outcome(outcome)
    if outcome.refusal is not None:
        raise outcome.refusal
    if outcome.expect_failures:
        raise SystemExit(1)
