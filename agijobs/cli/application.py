"""The Typer application, made from the command functions and their declared options.

Each command function (`running`, `owner`, `reading`, `keys`, `copies`) declares its
options once, with `options.Opt`; here each becomes Typer's `Option` or `Argument`, and the
function's docstring its help. The fast path (`fast.py`) reads the same declarations.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import typer

from .options import COMMANDS, GROUPS, Opt

app = typer.Typer(
    name="agijobs",
    help=(
        "Operate a planetary orchestrator fabric: deterministic runs, hash-chained events, "
        "owner governance.\n\nExample: agijobs run scenarios/planetary.yaml --fresh"
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
        parameters.append(parameter.replace(annotation=Annotated[kind, _typer_parameter(declared)]))

    def command(**values: Any) -> None:
        getattr(module, name)(**values)

    command.__name__ = function.__name__
    command.__doc__ = function.__doc__
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


def _typer_parameter(declared: Opt) -> Any:
    if declared.flag is None:
        return typer.Argument(help=declared.help)
    return typer.Option(
        declared.flag,
        help=declared.help,
        envvar=declared.envvar,
        min=declared.low,
        max=declared.high,
        hidden=declared.hidden,
    )


groups = {name: typer.Typer(help=text, no_args_is_help=True) for name, text in GROUPS.items()}
for name, command in COMMANDS.items():
    module = importlib.import_module(f"{__package__}.{command.module}")
    group_name, _, command_name = name.rpartition(" ")
    function = typer_command(module, command.function)
    (groups[group_name] if group_name else app).command(command_name)(function)
for group_name, group in groups.items():
    app.add_typer(group, name=group_name)
