"""status and audit as the command line shows them, without Typer: the Typer commands
(`inspect_cmds.py`) and the fast path (`fast.py`) both end here."""

from __future__ import annotations

from .output import bridge_settings, guard, make_store, print_json


def show_status(watch: bool, storage: str, as_json: bool) -> None:
    with guard(as_json):
        from ..run.status import status as read_status

        store = make_store(storage)
        if watch:
            if as_json:
                from ..errors import BadInput

                raise BadInput("--watch: not with --json", "poll `agijobs status --json` instead")
            from .render import watch_live

            watch_live(store)
        report = read_status(store)
        if as_json:
            print_json(report)
        else:
            from .render import render_status

            render_status(report)


def show_audit(
    replay: bool,
    executor: str,
    bridge: str | None,
    bridge_timeout: float | None,
    storage: str,
    as_json: bool,
) -> None:
    with guard(as_json):
        from ..audit.verify import audit as run_audit

        settings = bridge_settings(executor, bridge, bridge_timeout)
        report = run_audit(make_store(storage), replay=replay, bridge=settings)
        if as_json:
            print_json(report.to_json())
        else:
            from .render import render_audit

            render_audit(report)
