"""plan, run and resume: the commands that start and continue a fabric run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import (
    DEFAULT_STORAGE,
    ActorOption,
    BridgeOption,
    BridgeTimeoutOption,
    ExecutorOption,
    JsonOption,
    KeyOption,
    StorageOption,
    TimeoutOption,
    guard,
    make_store,
    print_json,
)

StopAfter = Annotated[
    int | None,
    typer.Option("--stop-after-ticks", min=0, help="Stop (resumably) after this many ticks."),
]
TickMs = Annotated[
    int, typer.Option("--tick-ms", min=0, help="Pace the run: sleep this long after each tick.")
]
Wait = Annotated[
    bool,
    typer.Option("--wait", help="When paused and idle, wait for live owner commands."),
]


Blueprint = Annotated[
    Path | None,
    typer.Option("--blueprint", help="Reference jobs blueprint, with a reference fabric config."),
]
OwnerCommands = Annotated[
    Path | None,
    typer.Option(
        "--owner-commands", help="Reference owner-commands file, with a reference fabric config."
    ),
]


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("run")(run)
    app.command("resume")(resume)


def plan(
    scenario: Annotated[
        Path | None,
        typer.Argument(
            help="Scenario, plan, or reference mission plan / fabric config "
            "(none with --from-storage)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the plan (default STORAGE/plan.json)."),
    ] = None,
    blueprint: Blueprint = None,
    owner_commands: OwnerCommands = None,
    emit_scenario: Annotated[
        Path | None,
        typer.Option(
            "--emit-scenario", help="Write the agijobs scenario equivalent to a reference file."
        ),
    ] = None,
    sign: Annotated[
        list[str] | None,
        typer.Option(
            "--sign",
            help="Sign the plan with this owner key (name or path); repeat for several. "
            "Signatures already on a plan file are kept.",
        ),
    ] = None,
    intent: Annotated[
        list[str] | None,
        typer.Option(
            "--intent",
            help="An operator sentence, e.g. 'pause all shards at tick 120 because …'; "
            "repeat for several.",
        ),
    ] = None,
    from_storage: Annotated[
        bool,
        typer.Option(
            "--from-storage",
            help="What-if: predict the run in --storage from its checkpoint, with and "
            "without the intents. Writes nothing unless --out is given.",
        ),
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when the prediction fails an expectation.")
    ] = False,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Validate a scenario, dry-run it in memory and write a reviewed plan.

    The plan is canonical JSON whose plan_id is the sha256 of its content; `agijobs run
    PLAN` executes exactly it. Reference demo files are read unchanged (a mission plan, or
    a fabric config with --blueprint and --owner-commands); --emit-scenario writes the
    equivalent agijobs scenario so you can migrate for good. A fabric that declares owner
    keys runs only from a plan signed by its default threshold of owners (--sign).
    --intent adds operator sentences (see README, "Intents"), each listed beside what it
    became. --from-storage asks "what if?" of a stored run instead: from its checkpoint,
    side by side with and without the intents. Exit 1 with --check when an expectation
    is predicted to fail (plain plan only warns).

    Example: agijobs plan --from-storage --intent "reroute the earth backlog to helios now"
    """
    with guard(as_json):
        from ..errors import BadInput

        if from_storage:
            if scenario is not None:
                raise BadInput(
                    f"SCENARIO: {scenario} given with --from-storage",
                    "a what-if starts from the storage's run; drop SCENARIO, or --from-storage",
                )
            from ..run.planning import what_if

            report = what_if(make_store(storage), intent or [], out)
            if as_json:
                print_json(report)
            else:
                from .render import render_what_if

                render_what_if(report)
            held = report["with"]["expect"]["held"]
        else:
            if scenario is None:
                raise BadInput(
                    "SCENARIO: missing", "give a scenario or plan file, or --from-storage"
                )
            from ..run.planning import make_plan

            result = make_plan(
                scenario,
                out or _default_plan_path(storage),
                blueprint=blueprint,
                owner_commands=owner_commands,
                emit_scenario=emit_scenario,
                sign=sign,
                intents=intent or [],
            )
            _notices(result["notices"], as_json)
            if as_json:
                print_json(result)
            else:
                from .render import render_plan

                render_plan(result)
            held = result["predicted"]["expect"]["held"]
    if check and not held:
        raise typer.Exit(1)


def run(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario, plan, or reference mission plan / fabric config.")
    ],
    blueprint: Blueprint = None,
    owner_commands: OwnerCommands = None,
    stop_after_ticks: StopAfter = None,
    tick_ms: TickMs = 0,
    wait: Wait = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Move a previous run to STORAGE/archive/ first.")
    ] = False,
    executor: ExecutorOption = "inprocess",
    bridge: BridgeOption = None,
    bridge_timeout: BridgeTimeoutOption = None,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Run a scenario or plan from tick 0 into an empty storage directory.

    Exit 1 when the scenario's expectations fail; 4 when the storage holds another run
    (use --fresh) or is in use.

    Example: agijobs run scenarios/planetary.yaml --storage ./storage --fresh
    """
    with guard(as_json):
        from ..run.lifecycle import start_run
        from ..scenario.loading import check_fresh, load_plan
        from .running import closing, finish, run_options

        loaded = load_plan(scenario, blueprint, owner_commands)
        check_fresh(loaded, scenario)
        _notices(list(loaded.notices), as_json)
        options = run_options(
            stop_after_ticks, tick_ms, wait, as_json, executor, bridge, bridge_timeout
        )
        with closing(options.progress):
            outcome = start_run(make_store(storage), loaded, str(scenario), options, fresh=fresh)
        finish(outcome, as_json)


def _notices(notices: list[str], as_json: bool) -> None:
    """What a reference file had that agijobs ignores or defaults: said on stderr, so a
    --json document on stdout stays one document."""
    for notice in notices:
        typer.echo(f"Notice: {notice}", err=True)


def resume(
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the pause is lifted (recorded).")
    ] = None,
    keep_paused: Annotated[
        bool, typer.Option("--keep-paused", help="Continue the run but leave the pause on.")
    ] = False,
    stop_after_ticks: StopAfter = None,
    tick_ms: TickMs = 0,
    wait: Wait = False,
    actor: ActorOption = None,
    key: KeyOption = None,
    timeout: TimeoutOption = 10.0,
    executor: ExecutorOption = "inprocess",
    bridge: BridgeOption = None,
    bridge_timeout: BridgeTimeoutOption = None,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Bring the fabric back to live: verify, recover from a crash, lift the pause, continue.

    With a live runner, sends it a resume command. Without one, verifies checkpoint and
    event chain (exit 3 on mismatch), drops events a crashed process wrote after the
    checkpoint and continues the run in the foreground from the checkpoint.

    Example: agijobs resume --reason "calibration complete"
    """
    from .running import resume_fabric

    resume_fabric(
        reason,
        keep_paused,
        stop_after_ticks,
        tick_ms,
        wait,
        actor,
        key,
        timeout,
        executor,
        bridge,
        bridge_timeout,
        storage,
        as_json,
    )


def _default_plan_path(storage: str) -> Path:
    from ..store import is_database_url

    if is_database_url(storage):
        from ..errors import BadInput

        raise BadInput(
            "--out: needed when --storage is a database (a plan is a file you review)",
            "add --out plan.json",
        )
    return Path(storage) / "plan.json"
