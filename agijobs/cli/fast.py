"""The fast path for the owner commands an operator types in an incident.

Building the Typer application costs about 130 ms before any command starts: every
command's parameters are built, and each value is coerced through a pydantic adapter.
`pause-all`, `reroute` and `set-latency`, when well formed (options the command has, each
given once, with a plain value), are parsed here instead and run through the very
functions the Typer commands call (`owner_commands`). Anything else (--help, a missing or
unknown option, a value Typer would refuse or coerce, an empty environment variable) is
left to Typer and its messages. tests/cli/test_fast_path.py holds these tables to the
Typer commands' parameters.
"""

from __future__ import annotations

import os
from typing import Any

# option -> (parameter, kind, environment variable)
Option = tuple[str, str, str | None]
_COMMON: dict[str, Option] = {
    "--reason": ("reason", "str", None),
    "--actor": ("actor", "str", None),
    "--key": ("key", "str", "AGIJOBS_KEY"),
    "--timeout": ("timeout", "float", None),
    "--storage": ("storage", "str", "AGIJOBS_STORAGE"),
    "--json": ("as_json", "flag", None),
}
_COMMON_DEFAULTS: dict[str, Any] = {
    "actor": None,
    "key": None,
    "timeout": 10.0,
    "storage": "storage",
    "as_json": False,
}
# command -> (its own options, their defaults, required parameters)
COMMANDS: dict[str, tuple[dict[str, Option], dict[str, Any], frozenset[str]]] = {
    "pause-all": ({}, {}, frozenset({"reason"})),
    "reroute": (
        {
            "--from": ("source", "str", None),
            "--to": ("target", "str", None),
            "--backlog": ("backlog", "str", None),
            "--job": ("job", "str", None),
            "--clear": ("clear", "flag", None),
        },
        {"target": None, "backlog": None, "job": None, "clear": False},
        frozenset({"reason", "source"}),
    ),
    "set-latency": (
        {"--shard": ("shard", "str", None), "--ms": ("ms", "int", None)},
        {},
        frozenset({"reason", "shard", "ms"}),
    ),
}


def options_of(name: str) -> dict[str, Option]:
    return {**_COMMON, **COMMANDS[name][0]}


def parse(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """The command and its parameters, or None when Typer should handle `argv`."""
    if not argv or argv[0] not in COMMANDS:
        return None
    name = argv[0]
    options = options_of(name)
    values: dict[str, Any] = {}
    rest = argv[1:]
    at = 0
    while at < len(rest):
        flag, inline, text = rest[at].partition("=")
        spec = options.get(flag)
        if spec is None or spec[0] in values:
            return None
        parameter, kind, _ = spec
        if kind == "flag":
            if inline:
                return None
            values[parameter] = True
            at += 1
            continue
        if inline:
            at += 1
        elif at + 1 < len(rest):
            text = rest[at + 1]
            at += 2
        else:
            return None
        value = _value(kind, text)
        if value is None:
            return None
        values[parameter] = value
    for parameter, _, variable in options.values():
        if parameter not in values and variable is not None and variable in os.environ:
            if not os.environ[variable]:
                return None
            values[parameter] = os.environ[variable]
    _, defaults, required = COMMANDS[name]
    if not required <= values.keys():
        return None
    return name, {**_COMMON_DEFAULTS, **defaults, **values}


def _value(kind: str, text: str) -> Any:
    """The value of a plain option argument; None for anything Typer should judge."""
    if text.startswith("-"):
        return None  # an option where a value belongs, or a negative number
    if kind == "str":
        return text
    if kind == "int":
        return int(text) if text.isascii() and text.isdigit() else None
    whole, _, fraction = text.partition(".")
    plain = text.isascii() and whole.isdigit() and (not fraction or fraction.isdigit())
    return float(text) if plain and not text.endswith(".") else None


def run(argv: list[str]) -> bool:
    """Run `argv` if it is a well-formed fast-path command; False to leave it to Typer.
    A failure exits with its documented code (output.guard), as the Typer command does."""
    parsed = parse(argv)
    if parsed is None:
        return False
    name, values = parsed
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
