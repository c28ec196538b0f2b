"""Owner key files: create an Ed25519 pair, find a key by name or path, load it.

Private keys live outside any storage directory (default `~/.config/agijobs/keys/NAME.key`,
or `$AGIJOBS_KEY_DIR`), as unencrypted PKCS#8 PEM created with mode 0600, like an SSH key.
A key file readable by others is refused, as `ssh` refuses one.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInput, Conflict
from ..ledger.signing import (
    fingerprint,
    format_public_key,
    head_note_text,
    public_bytes,
    sign_note,
)
from ..scenario.documents import read_input_file
from ..scenario.plan import Plan, runner_key_of

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Files that mark a directory as an agijobs storage: keys are never written inside one.
_STORAGE_MARKS = ("events.ndjson", "checkpoint.json")


@dataclass(frozen=True, slots=True)
class LoadedKey:
    path: Path
    private: Any  # cryptography's Ed25519PrivateKey
    public_raw: bytes

    @property
    def public_key(self) -> str:
        return format_public_key(self.public_raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)


def key_dir() -> Path:
    configured = os.environ.get("AGIJOBS_KEY_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".config" / "agijobs" / "keys"


def config_line(name: str, public_key: str, role: str = "owner") -> str:
    """The line to paste under `owner: keys:` in a fabric config."""
    return f'- {{name: {name}, public_key: "{public_key}", roles: [{role}]}}'


def new_key(name: str, out: Path | None) -> LoadedKey:
    """Create a key pair for `name` at `out` (default KEY_DIR/NAME.key), never overwriting."""
    if not _NAME.fullmatch(name):
        raise BadInput(
            f"NAME: {name!r} is not a key name",
            "use letters, digits, '.', '_' or '-' (e.g. alice), at most 64 characters",
        )
    path = out if out is not None else key_dir() / f"{name}.key"
    storage = _inside_storage(path)
    if storage is not None:
        raise BadInput(
            f"--out: {path} is inside the storage directory {storage}",
            "keep private keys out of storage (it is shared and archived); pick another path",
        )
    if path.exists() or path.is_symlink():
        raise Conflict(
            f"{path}: a key already exists there",
            "agijobs never overwrites a key; choose another NAME or --out, or remove it yourself",
        )
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if out is None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise BadInput(
            f"--out: {path.parent} is not a directory", "create it first, or choose another path"
        )
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Conflict(f"{path}: a key already exists there", "choose another NAME") from None
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.write(descriptor, pem)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return LoadedKey(path, private, public_bytes(private))


def resolve(reference: str) -> Path:
    """A `--key` value: a path if it looks like one, else a name under the key directory."""
    if os.sep in reference or reference.endswith((".key", ".pem")):
        return Path(reference).expanduser()
    return key_dir() / f"{reference}.key"


def load_key(reference: str, option: str = "--key") -> LoadedKey:
    path = resolve(reference)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise BadInput(
            f"{option} {reference}: no key file at {path}",
            f"create one with `agijobs keys new {path.stem}`, or pass the key file's path",
        ) from None
    except OSError as exc:
        raise BadInput(f"{option} {reference}: cannot read {path} ({exc.strerror})") from None
    data = read_input_file(path, f"{option} {reference}: {path}")  # never a FIFO
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadInput(
            f"{option} {reference}: {path} is readable by others (mode {stat.S_IMODE(mode):04o})",
            f"a private key must be private: chmod 600 {path}",
        )
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        private = None
    if not isinstance(private, Ed25519PrivateKey):
        raise BadInput(
            f"{option} {reference}: {path} is not an unencrypted Ed25519 private key",
            "use a key made by `agijobs keys new`",
        )
    return LoadedKey(path, private, public_bytes(private))


def _inside_storage(path: Path) -> Path | None:
    for folder in path.absolute().parents:
        if any((folder / mark).exists() for mark in _STORAGE_MARKS):
            return folder
    return None


def signed_auth(
    key: LoadedKey,
    key_name: str,
    message: bytes,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A command's `auth`: its context (run id, nonce) and this key's signature of `message`."""
    from ..ledger.signing import sign

    signature = {
        "key": key_name,
        "fingerprint": key.fingerprint,
        "signature": sign(key.private, message),
    }
    return {**(context or {}), "signatures": [signature]}


def sign_command(
    key: LoadedKey,
    key_name: str,
    name: str,
    args: dict[str, Any],
    reason: str,
    issued_at: str | None,
    run_id: str,
) -> dict[str, Any]:
    """Sign a new command for run `run_id` as `key_name`, with a fresh nonce."""
    import secrets

    from ..ledger.signing import command_message, envelope

    nonce = secrets.token_hex(16)
    body = envelope(name, args, reason, key_name, issued_at, run_id, nonce)
    return signed_auth(key, key_name, command_message(body), {"run_id": run_id, "nonce": nonce})


def name_in(keys: list[dict[str, Any]], key: LoadedKey) -> str | None:
    """The name a key set gives this key, if it lists it."""
    return next((k["name"] for k in keys if k.get("public_key") == key.public_key), None)


def runner_key(plan: Plan, reference: str | None) -> tuple[str, LoadedKey] | None:
    """The runner's signing key on a fabric that declares keys (its declared name, and the
    key loaded from `reference`, else $AGIJOBS_RUNNER_KEY, else the declared name under
    the key directory); None in open mode. `BadInput` when it cannot be loaded or is not
    the key the plan declares: before anything is written."""
    declared = runner_key_of(plan)
    if declared is None:
        return None
    name, public_key = declared
    reference = reference or os.environ.get("AGIJOBS_RUNNER_KEY") or name
    try:
        loaded = load_key(reference, "--runner-key")
    except BadInput as error:
        raise BadInput(
            f"this fabric's runner signs its checkpoints with key `{name}`: {error.message}",
            "pass --runner-key (or set AGIJOBS_RUNNER_KEY) to the runner's private key file",
        ) from None
    if loaded.public_key != public_key:
        raise BadInput(
            f"--runner-key {reference}: {loaded.path} ({loaded.fingerprint}) is not the runner "
            f"key `{name}` this fabric's plan declares",
            "use the runner key the plan lists under owner -> keys with role runner",
        )
    return name, loaded


class HeadSigner:
    """Signs each checkpoint a run writes with the runner's key (`signing.sign_note`)."""

    def __init__(self, fabric: str, run_id: str, key: tuple[str, LoadedKey]) -> None:
        self.fabric, self.run_id = fabric, run_id
        self.name, self.private = key[0], key[1].private

    def signer(self, seq: int, head: str) -> Callable[[str], str]:
        """What `encode_checkpoint` calls with the checkpoint's integrity digest."""

        def sign(digest: str) -> str:
            text = head_note_text(self.fabric, self.run_id, seq, head, digest)
            return sign_note(text, self.name, self.private)

        return sign
