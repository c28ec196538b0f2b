"""The fast path for the commands an operator types in an incident and scripts poll.

Building the Typer application costs about 100 ms before any command starts: every
command's parameters are built, and each value is coerced through a pydantic adapter
(importing pydantic, which most of these commands otherwise never need). The commands
marked `fast` (`options.COMMANDS`), when well formed (options the command has, each given
once, with a plain value), are parsed here instead, from the options their function
declares, and run through that very function. Anything else (--help, a missing or unknown
option, a value Typer would refuse or coerce, an empty environment variable) is left to
Typer and its messages.
"""

import importlib
import os
import types
from collections.abc import Callable
from typing import Any, NamedTuple

from .options import COMMANDS, Opt


class Option(NamedTuple):
    parameter: str
    kind: str  # str, int, float or flag
    envvar: str | None = None
    low: float | None = None  # the least value Typer takes (numbers)
    high: float | None = None


class Table(NamedTuple):
    options: dict[str, Option]  # by flag
    defaults: dict[str, Any]  # of the options not required
    required: frozenset[str]
    arguments: tuple[str, ...] = ()  # parameters given by position (strings), in order


_KINDS = {str: "str", int: "int", float: "float", bool: "flag"}


def command_function(name: str) -> Callable[..., None]:
    module, function, _ = COMMANDS[name]
    found: Callable[..., None] = getattr(
        importlib.import_module(f"{__package__}.{module}"), function
    )
    return found


def table(function: Callable[..., None]) -> Table | None:
    """The options `function` declares, as the fast path parses them; None when it takes
    anything the fast path leaves to Typer (an argument other than text, a path, a list).
    A function that
    wraps another (`functools.wraps`) declares what the one it wraps declares."""
    while hasattr(function, "__wrapped__"):
        function = function.__wrapped__
    code = function.__code__
    names = code.co_varnames[: code.co_argcount]
    given = function.__defaults__ or ()
    first_default = len(names) - len(given)
    options: dict[str, Option] = {}
    defaults: dict[str, Any] = {}
    required = set()
    arguments = []
    for index, name in enumerate(names):
        hint = function.__annotations__[name]
        declared = hint.__metadata__[0]
        kind = _kind(hint.__origin__)
        if not isinstance(declared, Opt) or kind is None:
            return None
        if declared.flag is None:  # an argument: a required string, given by position
            if hint.__origin__ is not str or index >= first_default:
                return None
            arguments.append(name)
            required.add(name)
            continue
        options[declared.flag] = Option(name, kind, declared.envvar, declared.low, declared.high)
        if index >= first_default:
            defaults[name] = given[index - first_default]
        else:
            required.add(name)
    return Table(options, defaults, frozenset(required), tuple(arguments))


def _kind(annotation: Any) -> str | None:
    if isinstance(annotation, types.UnionType):  # `str | None`: an option that may be absent
        annotation = next(a for a in annotation.__args__ if a is not type(None))
    return _KINDS.get(annotation)


def parse(argv: list[str]) -> tuple[Callable[..., None], dict[str, Any]] | None:
    """The command's function and its parameters, or None when Typer should handle `argv`."""
    if argv and argv[0] not in COMMANDS:  # a group's command: `runner stop`
        argv = [" ".join(argv[:2]), *argv[2:]]
    if not argv or argv[0] not in COMMANDS or not COMMANDS[argv[0]].fast:
        return None
    function = command_function(argv[0])
    declared = table(function)
    if declared is None:
        return None
    options, defaults, required, arguments = declared
    values: dict[str, Any] = {}
    rest = argv[1:]
    at = 0
    positions = list(arguments)
    while at < len(rest):
        token = rest[at]
        if positions and (token == "-" or not token.startswith("-")):
            values[positions.pop(0)] = token  # a file, or - for stdin
            at += 1
            continue
        flag, inline, text = token.partition("=")
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
    return function, {**defaults, **values}


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
    function, values = parsed
    function(**values)
    return True
