"""The fast path for the commands an operator types in an incident and scripts poll.

Building the Typer application costs about 100 ms before any command starts: every
command's parameters are built, and each value is coerced through a pydantic adapter
(importing pydantic, which all of these but resume otherwise never need). `pause-all`, `reroute`,
`set-latency`, `resume`, `status` and `audit`, when well formed (options the command has, each given
once, with a plain value), are parsed here instead and run through the very functions the
Typer commands call (`owner_commands`, `running`, `views`). Anything else (--help, a missing or
unknown option, a value Typer would refuse or coerce, an empty environment variable) is
left to Typer and its messages. tests/cli/test_fast_path.py holds these tables to the
Typer commands' parameters.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, NamedTuple


class Option(NamedTuple):
    parameter: str
    kind: str  # str, int, float or flag
    envvar: str | None = None
    low: float | None = None  # the least value Typer takes (numbers)
    high: float | None = None


_EVERY: dict[str, Option] = {
    "--storage": Option("storage", "str", "AGIJOBS_STORAGE"),
    "--json": Option("as_json", "flag"),
}
_OWNER: dict[str, Option] = {
    "--reason": Option("reason", "str"),
    "--actor": Option("actor", "str"),
    "--key": Option("key", "str", "AGIJOBS_KEY"),
    "--timeout": Option("timeout", "float", low=0),
    **_EVERY,
}
_EVERY_DEFAULTS: dict[str, Any] = {"storage": "storage", "as_json": False}
_OWNER_DEFAULTS: dict[str, Any] = {"actor": None, "key": None, "timeout": 10.0, **_EVERY_DEFAULTS}
_EXECUTOR: dict[str, Option] = {
    "--executor": Option("executor", "str", "AGIJOBS_EXECUTOR"),
    "--bridge": Option("bridge", "str"),
    "--bridge-timeout": Option("bridge_timeout", "float", low=0.01),
}
_EXECUTOR_DEFAULTS: dict[str, Any] = {
    "executor": "inprocess",
    "bridge": None,
    "bridge_timeout": None,
}


class Command(NamedTuple):
    options: dict[str, Option]
    defaults: dict[str, Any]  # of the options not required
    required: frozenset[str]


COMMANDS: dict[str, Command] = {
    "pause-all": Command(_OWNER, _OWNER_DEFAULTS, frozenset({"reason"})),
    "reroute": Command(
        {
            **_OWNER,
            "--from": Option("source", "str"),
            "--to": Option("target", "str"),
            "--backlog": Option("backlog", "str"),
            "--job": Option("job", "str"),
            "--clear": Option("clear", "flag"),
        },
        {**_OWNER_DEFAULTS, "target": None, "backlog": None, "job": None, "clear": False},
        frozenset({"reason", "source"}),
    ),
    "set-latency": Command(
        {**_OWNER, "--shard": Option("shard", "str"), "--ms": Option("ms", "int")},
        _OWNER_DEFAULTS,
        frozenset({"reason", "shard", "ms"}),
    ),
    "status": Command(
        {**_EVERY, "--watch": Option("watch", "flag")},
        {**_EVERY_DEFAULTS, "watch": False},
        frozenset(),
    ),
    "resume": Command(
        {
            **_OWNER,
            **_EXECUTOR,
            "--keep-paused": Option("keep_paused", "flag"),
            "--stop-after-ticks": Option("stop_after_ticks", "int", low=0),
            "--tick-ms": Option("tick_ms", "int", low=0),
            "--wait": Option("wait", "flag"),
        },
        {
            **_OWNER_DEFAULTS,
            **_EXECUTOR_DEFAULTS,
            "reason": None,
            "keep_paused": False,
            "stop_after_ticks": None,
            "tick_ms": 0,
            "wait": False,
        },
        frozenset(),
    ),
    "audit": Command(
        {**_EVERY, **_EXECUTOR, "--replay": Option("replay", "flag")},
        {**_EVERY_DEFAULTS, **_EXECUTOR_DEFAULTS, "replay": False},
        frozenset(),
    ),
}


# Commands whose Typer function hands its parameters, as they are named, to one typer-free
# function (module in this package, function): the fast path calls it with the same values.
BODIES = {
    "status": ("views", "show_status"),
    "audit": ("views", "show_audit"),
    "resume": ("running", "resume_fabric"),
}


def parse(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """The command and its parameters, or None when Typer should handle `argv`."""
    if not argv or argv[0] not in COMMANDS:
        return None
    name = argv[0]
    options, defaults, required = COMMANDS[name]
    values: dict[str, Any] = {}
    rest = argv[1:]
    at = 0
    while at < len(rest):
        flag, inline, text = rest[at].partition("=")
        spec = options.get(flag)
        if spec is None or spec.parameter in values:
            return None
        if spec.kind == "flag":
            if inline:
                return None
            values[spec.parameter] = True
            at += 1
            continue
        if inline:
            at += 1
        elif at + 1 < len(rest):
            text = rest[at + 1]
            at += 2
        else:
            return None
        value = _value(spec, text)
        if value is None:
            return None
        values[spec.parameter] = value
    for spec in options.values():
        if spec.parameter not in values and spec.envvar is not None and spec.envvar in os.environ:
            if not os.environ[spec.envvar]:
                return None
            values[spec.parameter] = os.environ[spec.envvar]
    if not required <= values.keys():
        return None
    return name, {**defaults, **values}


def _value(spec: Option, text: str) -> Any:
    """The value of a plain option argument; None for anything Typer should judge."""
    if text.startswith("-"):
        return None  # an option where a value belongs, or a negative number
    if spec.kind == "str":
        return text
    value: float
    if spec.kind == "int":
        if not (text.isascii() and text.isdigit()):
            return None
        value = int(text)
    else:
        whole, _, fraction = text.partition(".")
        plain = text.isascii() and whole.isdigit() and (not fraction or fraction.isdigit())
        if not plain or text.endswith("."):
            return None
        value = float(text)
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        return None  # out of the option's range: Typer says so
    return value


def run(argv: list[str]) -> bool:
    """Run `argv` if it is a well-formed fast-path command; False to leave it to Typer.
    A failure exits with its documented code (output.guard), as the Typer command does."""
    parsed = parse(argv)
    if parsed is None:
        return False
    name, values = parsed
    if name in BODIES:
        module, function = BODIES[name]
        getattr(importlib.import_module(f"{__package__}.{module}"), function)(**values)
        return True
    from .output import guard
    from .owner_commands import issue, reroute_args, set_latency_args

    reason, as_json = values["reason"], values["as_json"]
    args: dict[str, Any] = {}
    with guard(as_json):
        if name == "reroute":
            args = reroute_args(
                reason,
                values["source"],
                values["target"],
                values["backlog"],
                values["job"],
                values["clear"],
            )
        elif name == "set-latency":
            args = set_latency_args(reason, values["shard"], values["ms"])
    issue(
        name,
        args,
        reason,
        values["actor"],
        values["key"],
        values["timeout"],
        values["storage"],
        as_json,
    )
    return True
