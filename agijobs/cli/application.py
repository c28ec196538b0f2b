"""The Typer application, made from the command functions and their declared options.

Each command function (`running`, `owner`, `reading`, `keys`, `copies`) declares its
options once, with `options.Opt`; here each becomes Typer's `Option` or `Argument`, and the
function's docstring its help. The fast path (`fast.py`) reads the same declarations.
"""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from .options import COMMANDS, GROUPS, Opt


class _Plain:
    """Help without a metavar beside a flag: Typer shows `<bool>` for every flag, its own
    (--help, --install-completion) included, where there is no value to type."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_Plain, TyperCommand):
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """The usage line names a required argument as it is (SCENARIO), an optional one in
        brackets ([SCENARIO]): Typer's `{scenario}` reads like a placeholder to expand."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.display_name_raw
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class Group(_Plain, TyperGroup):
    pass


app = typer.Typer(
    cls=Group,
    name="agijobs",
    help=(
        "Operate a planetary orchestrator fabric: deterministic runs, hash-chained events, "
        "owner governance.\n\n"
        "Every command that works on a fabric takes --storage (a directory, or "
        "postgresql://USER@HOST/DB?fabric=NAME; env AGIJOBS_STORAGE) and --json; "
        "`agijobs COMMAND --help` shows its options and examples.\n\n"
        "Examples:\n"
        "  # Run a scenario into ./storage, then prove it\n"
        "  agijobs run scenarios/planetary.yaml --fresh\n"
        "  agijobs audit\n"
        "  # Pause every shard of a live or stopped fabric\n"
        '  agijobs pause-all --reason "INC-4711: poisoned batch"\n'
        "  # The fabrics a PostgreSQL database holds\n"
        "  agijobs fabrics --storage postgresql://ops@db/fabrics"
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (README)
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from .. import __version__

        typer.echo(f"agijobs {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            help="Print agijobs' version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    pass


def typer_command(module: ModuleType, name: str) -> Callable[..., None]:
    """The command function `name` of `module`, with each declared option as Typer's: the
    same parameters, defaults and help. It is looked up when the command runs, as the fast
    path looks it up."""
    function = getattr(module, name)
    hints = get_type_hints(function, include_extras=True)
    parameters = []
    for parameter in inspect.signature(function).parameters.values():
        hint = hints[parameter.name]
        if get_origin(hint) is not Annotated:
            raise TypeError(f"{function.__name__}({parameter.name}): no option declared")
        kind, declared = get_args(hint)[:2]
        assert isinstance(declared, Opt)
        typed = _typer_parameter(parameter.name, kind, declared)
        parameters.append(parameter.replace(annotation=Annotated[kind, typed]))

    def command(**values: Any) -> None:
        getattr(module, name)(**values)

    command.__name__ = function.__name__
    command.__doc__ = reflowed(function.__doc__ or "")
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


def reflowed(doc: str) -> str:
    """A docstring as help: each paragraph one line, for the terminal to wrap (Typer keeps
    every line break of the source), but an `Examples:` block line by line."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(
        text if text.startswith("Examples:") else " ".join(text.split("\n")) for text in paragraphs
    )


def _typer_parameter(name: str, kind: Any, declared: Opt) -> Any:
    """Typer's Option or Argument for a declared one. Arguments are shown by their name in
    capitals (SCENARIO, not `{scenario}`), values by what to type (declared, else by type)."""
    if declared.flag is None:
        return typer.Argument(help=declared.help, metavar=name.upper())
    return typer.Option(
        declared.flag,
        help=declared.help,
        metavar=declared.metavar or _metavar(kind),
        envvar=declared.envvar,
        min=declared.low,
        max=declared.high,
        hidden=declared.hidden,
    )


def _metavar(kind: Any) -> str | None:
    """What a value option's help shows for its value: none for a flag."""
    if isinstance(kind, types.UnionType):  # `str | None`: an option that may be absent
        kind = next(a for a in kind.__args__ if a is not type(None))
    if kind is bool:
        return ""
    if get_origin(kind) is list:
        kind = get_args(kind)[0]
    return {str: "TEXT", int: "INTEGER", float: "NUMBER", Path: "PATH"}.get(kind)


groups = {
    name: typer.Typer(cls=Group, help=text, no_args_is_help=True) for name, text in GROUPS.items()
}
for name, command in COMMANDS.items():
    module = importlib.import_module(f"{__package__}.{command.module}")
    group_name, _, command_name = name.rpartition(" ")
    function = typer_command(module, command.function)
    (groups[group_name] if group_name else app).command(command_name, cls=Command)(function)
for group_name, group in groups.items():
    app.add_typer(group, name=group_name)
