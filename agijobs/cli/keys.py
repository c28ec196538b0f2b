"""keys: create an owner key pair and print the line a fabric config lists it by."""

import sys
from pathlib import Path
from typing import Annotated, Any

from .options import Json, Opt, argument
from .output import guard, print_json


def new(
    name: Annotated[str, argument("The key's name in the fabric config (e.g. alice).")],
    out: Annotated[
        Path | None, Opt("--out", "Private key file (default KEY_DIR/NAME.key).")
    ] = None,
    role: Annotated[
        str, Opt("--role", "Role printed in the config line: owner, operator or runner.")
    ] = "owner",
    as_json: Json = False,
) -> None:
    """Create an Ed25519 key pair; print the public key line for the fabric config.

    The private key is written with mode 0600 under $AGIJOBS_KEY_DIR (default
    ~/.config/agijobs/keys/), never into a storage directory; an existing file is never
    overwritten (exit 4).

    Examples:
      # A new owner key under the key directory
      agijobs keys new alice
      # The runner's key, written where its host keeps secrets
      agijobs keys new runner --role runner --out /etc/agijobs/runner.key
    """
    with guard(as_json):
        from ..service import new_key

        _print(new_key(name, out, role), as_json)


def show(
    key: Annotated[str, argument("Key name (under KEY_DIR) or path.")],
    role: Annotated[str, Opt("--role", "Role printed in the config line.")] = "owner",
    as_json: Json = False,
) -> None:
    """Print a key's public key, fingerprint and config line (never the private key).

    KEY is a name under $AGIJOBS_KEY_DIR (default ~/.config/agijobs/keys/) or a path;
    --role is the role the printed config line gives it.

    Examples:
      # The config line of a key you have
      agijobs keys show alice
      # An operator's key, as JSON
      agijobs keys show ./oncall.key --role operator --json
    """
    with guard(as_json):
        from ..service import show_key

        _print(show_key(key, role), as_json)


def _print(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json("Key", document)
        return
    sys.stderr.write(
        f"# {document['path']} ({document['fingerprint']}); paste under fabric -> owner -> keys:\n"
    )
    sys.stdout.write(document["config_line"] + "\n")
