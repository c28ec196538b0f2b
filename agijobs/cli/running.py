"""Running a fabric in the foreground, without Typer: the options a run takes, its live
view, its outcome, and `resume` whole. The Typer commands (`lifecycle.py`) and the fast
path (`fast.py`) both end here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .output import bridge_settings, guard, make_store, print_json


def resume_fabric(
    reason: str | None,
    keep_paused: bool,
    stop_after_ticks: int | None,
    tick_ms: int,
    wait: bool,
    actor: str | None,
    key: str | None,
    timeout: float,
    executor: str,
    bridge: str | None,
    bridge_timeout: float | None,
    storage: str,
    as_json: bool,
) -> None:
    """`agijobs resume`: a resume command to a live runner, else the run continued here."""
    with guard(as_json):
        from ..run.delivery import issue_command
        from ..run.lifecycle import resume_run
        from ..run.sessions import runner_is_live

        store = make_store(storage)
        if runner_is_live(store):
            if keep_paused:
                from ..errors import Conflict

                raise Conflict(
                    f"a runner is live on {store.location}; it is already running",
                    "see `agijobs status`; plain `agijobs resume` lifts its pause",
                )
            result = issue_command(
                store, "resume", {}, reason or "resumed by operator", actor, timeout, key
            )
            from .owner_commands import render_command_result

            render_command_result("resume", result, as_json)
            return
        options = run_options(
            stop_after_ticks, tick_ms, wait, as_json, executor, bridge, bridge_timeout
        )
        with closing(options.progress):
            outcome = resume_run(
                store, options, reason=reason, keep_paused=keep_paused, actor=actor, key=key
            )
        finish(outcome, as_json)


def run_options(
    stop_after_ticks: int | None,
    tick_ms: int,
    wait: bool,
    as_json: bool,
    executor: str,
    bridge: str | None,
    bridge_timeout: float | None,
) -> Any:
    from ..run.runner import RunOptions
    from .render import progress_printer

    settings = bridge_settings(executor, bridge, bridge_timeout)
    return RunOptions(
        stop_after_ticks, tick_ms, wait, progress_printer(quiet=False), bridge=settings
    )


@contextlib.contextmanager
def closing(view: Any) -> Iterator[None]:
    """Stop a terminal live view however the run ends, before the outcome is printed."""
    try:
        yield
    finally:
        if view is not None:
            view.close()


def finish(outcome: Any, as_json: bool) -> None:
    """Print the outcome; exit 1 when the scenario's expectations failed."""
    from .render import render_outcome

    if as_json:
        print_json(
            {
                **outcome.summary,
                "expect_failures": outcome.expect_failures,
                "report": outcome.report,
            }
        )
    else:
        render_outcome(outcome)
    if outcome.refusal is not None:
        raise outcome.refusal
    if outcome.expect_failures:
        raise SystemExit(1)
