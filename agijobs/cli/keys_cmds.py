"""keys: create an owner key pair and print the line a fabric config lists it by."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import JsonOption, guard, print_json

if TYPE_CHECKING:
    from ..run.keys import LoadedKey

keys_app = typer.Typer(
    help="Owner keys (Ed25519): create one, or print the config line of one you have.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="The key's name in the fabric config (e.g. alice).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Private key file (default KEY_DIR/NAME.key)."),
    ] = None,
    role: Annotated[
        str, typer.Option("--role", help="Role printed in the config line: owner or operator.")
    ] = "owner",
    as_json: JsonOption = False,
) -> None:
    """Create an Ed25519 key pair; print the public key line for the fabric config.

    The private key is written with mode 0600 under $AGIJOBS_KEY_DIR (default
    ~/.config/agijobs/keys/), never into a storage directory; an existing file is never
    overwritten (exit 4).

    Example: agijobs keys new alice
    """
    with guard(as_json):
        from ..errors import BadInput
        from ..run.keys import new_key

        if role not in ("owner", "operator"):
            raise BadInput(f"--role: {role!r} is not a role", "use owner or operator")
        key = new_key(name, out)
        _print(name, key, role, as_json)


@keys_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="Key name (under KEY_DIR) or path.")],
    role: Annotated[str, typer.Option("--role", help="Role printed in the config line.")] = "owner",
    as_json: JsonOption = False,
) -> None:
    """Print a key's public key, fingerprint and config line (never the private key).

    Example: agijobs keys show alice
    """
    with guard(as_json):
        from ..run.keys import load_key

        loaded = load_key(key, "KEY")
        _print(loaded.path.stem, loaded, role, as_json)


def _print(name: str, key: LoadedKey, role: str, as_json: bool) -> None:
    from ..run.keys import config_line

    if as_json:
        print_json(
            {
                "name": name,
                "path": str(key.path),
                "public_key": key.public_key,
                "fingerprint": key.fingerprint,
                "config_line": config_line(name, key.public_key, role),
            }
        )
        return
    typer.echo(f"# {key.path} ({key.fingerprint}); paste under fabric -> owner -> keys:", err=True)
    typer.echo(config_line(name, key.public_key, role))
