"""Owner commands as the command line issues them, without Typer: the arguments built
and validated, the command delivered (live or at rest), the result printed. The Typer
commands (`govern.py`) and the fast path (`fast.py`) both end here."""

from __future__ import annotations

import sys
from typing import Any

from .output import guard, make_store, print_json


def reroute_args(
    reason: str,
    source: str,
    target: str | None,
    backlog: str | None,
    job: str | None,
    clear: bool,
) -> dict[str, Any]:
    from ..scenario.command_input import validate_command

    raw: dict[str, Any] = {"command": "reroute", "from": source, "reason": reason}
    if clear:
        raw["clear"] = True
    for name, value in (("to", target), ("job", job)):
        if value is not None:
            raw[name] = value
    if backlog is not None:
        raw["backlog"] = backlog if backlog == "all" else _backlog_count(backlog)
    return validate_command(raw)


def set_latency_args(reason: str, shard: str, ms: int) -> dict[str, Any]:
    from ..scenario.command_input import validate_command

    return validate_command({"command": "set-latency", "shard": shard, "ms": ms, "reason": reason})


def _backlog_count(text: str) -> int:
    from ..errors import BadInput

    if not text.isdigit():
        raise BadInput(
            f"--backlog: expected 'all' or a whole number of jobs, 0 or more (got {text!r})",
            "e.g. --backlog 500",
        )
    return int(text)


def issue(
    name: str,
    args: dict[str, Any],
    reason: str,
    actor: str | None,
    key: str | None,
    timeout: float,
    storage: Any,
    as_json: bool,
) -> None:
    with guard(as_json):
        from ..errors import BadInput
        from ..run.delivery import issue_command

        if not reason.strip():
            raise BadInput("--reason: must not be empty", "say why, e.g. --reason 'incident 42'")
        result = issue_command(make_store(storage), name, args, reason, actor, timeout, key)
        for notice in result.notices:
            sys.stderr.write(f"Notice: {notice}\n")
        render_command_result(name, result, as_json)


def render_command_result(name: str, result: Any, as_json: bool) -> None:
    document = {
        "command": name,
        "mode": result.mode,
        "tick": result.tick,
        "event": result.event,
        "effect": result.effect,
        "id": result.command_id,
    }
    if name == "batch":
        document["results"] = result.results
    if as_json:
        print_json(document)
        return
    from ..views.describe import describe_effect

    where = "live run" if result.mode == "live" else "fabric at rest"
    for entry in result.results or [{"event": result.event, "effect": result.effect}]:
        applied = entry["event"].removeprefix("owner.")
        effect = entry["effect"]
        if applied == "proposal":
            print(
                f"{name}: proposal {effect['proposal']} recorded, {effect['approvals']} of "
                f"{effect['needed']} approvals (tick {result.tick}, {where}; expires at tick "
                f"{effect['expires_tick']})"
            )
            print(f"approve with: agijobs approve {effect['proposal']} --key NAME")
            continue
        if applied == "approval":
            met = "threshold met, applying" if effect["threshold_met"] else "waiting for more"
            print(
                f"approval of {effect['proposal']} ({effect['command']}): {effect['approvals']} "
                f"of {effect['needed']} approvals — {met} (tick {result.tick}, {where})"
            )
            continue
        described = describe_effect(applied, effect)
        print(f"{applied}: {described} (tick {result.tick}, {where})")
