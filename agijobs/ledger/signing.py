"""Ed25519 keys, fingerprints and the exact bytes that owners sign.

A public key is written `ed25519:<base64 of its 32 raw bytes>` (the line pasted into a
fabric config); its fingerprint is `SHA256:<unpadded base64 of the sha256 of those bytes>`,
the form `ssh-keygen -l` prints. What is signed is a domain prefix plus canonical JSON, so a
signature over a command can never be replayed as a signature over a plan, or the reverse.

`cryptography` is imported only when a signature is made or checked: an open-mode fabric
never loads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from .canonical import dumps

PUBLIC_PREFIX = "ed25519:"
COMMAND_DOMAIN = b"agijobs-command-v1\n"
PLAN_DOMAIN = b"agijobs-plan-v1\n"


def parse_public_key(text: str) -> bytes:
    """The 32 raw bytes of an `ed25519:<base64>` public key; `ValueError` says what is wrong."""
    if not text.startswith(PUBLIC_PREFIX):
        raise ValueError(f"must start with `{PUBLIC_PREFIX}` (got {text[:16]!r})")
    try:
        raw = base64.b64decode(text[len(PUBLIC_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("is not valid base64 after `ed25519:`") from None
    if len(raw) != 32:
        raise ValueError(f"must hold 32 bytes (got {len(raw)}); paste the line `keys new` printed")
    return raw


def format_public_key(raw: bytes) -> str:
    return PUBLIC_PREFIX + base64.b64encode(raw).decode("ascii")


def fingerprint(raw: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


def command_message(envelope: dict[str, Any]) -> bytes:
    """What a command's signers sign: its type, arguments, reason, actor, issue time, the
    storage run it is for and a nonce (see `envelope`)."""
    return COMMAND_DOMAIN + dumps(envelope)


def plan_message(plan_id: str) -> bytes:
    return PLAN_DOMAIN + plan_id.encode("ascii")


def envelope(
    name: str,
    args: dict[str, Any],
    reason: str,
    actor: str,
    issued_at: str | None,
    run_id: str,
    nonce: str,
) -> dict[str, Any]:
    return {
        "type": name,
        "args": args,
        "reason": reason,
        "actor": actor,
        "issued_at": issued_at,
        "run_id": run_id,
        "nonce": nonce,
    }


def sign(private_key: Any, message: bytes) -> str:
    """A base64 Ed25519 signature of `message` by a `cryptography` private key."""
    return base64.b64encode(private_key.sign(message)).decode("ascii")


def public_bytes(private_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    raw: bytes = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return raw


def verify(public_raw: bytes, signature: str, message: bytes) -> bool:
    """Whether `signature` (base64) is `public_raw`'s Ed25519 signature of `message`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw_signature = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(raw_signature, message)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


# ------------------------------------------------------------------ signed heads

HEAD_ORIGIN = "agijobs checkpoint v1"


def head_note_text(fabric: str, run_id: str, seq: int, head: str, digest: str) -> str:
    """The text a runner signs over a checkpoint, in the C2SP signed-note form
    (c2sp.org/signed-note; its lines name what the signature covers, as the tlog-checkpoint
    body does): an origin line, then the fabric, the run, the log's length and head, and
    the checkpoint's integrity digest (which covers its whole state and job table)."""
    return f"{HEAD_ORIGIN}\n{fabric}\n{run_id}\n{seq}\n{head}\n{digest}\n"


def note_key_id(name: str, public_raw: bytes) -> bytes:
    """C2SP's key id: the first 4 bytes of SHA-256(name, newline, 0x01 for Ed25519, key)."""
    return hashlib.sha256(name.encode() + b"\n\x01" + public_raw).digest()[:4]


def sign_note(text: str, name: str, private_key: Any) -> str:
    """`text` followed by a blank line and one signature line, ``— NAME BASE64`` where the
    base64 holds the key id and the Ed25519 signature of `text`'s bytes."""
    signature = private_key.sign(text.encode())
    blob = base64.b64encode(note_key_id(name, public_bytes(private_key)) + signature).decode()
    return f"{text}\n\u2014 {name} {blob}\n"


def note_signed_by(note: str, text: str, name: str, public_raw: bytes) -> bool:
    """Whether `note` is exactly `text` with a valid signature line of key `name`."""
    if not note.startswith(text + "\n"):
        return False
    prefix = f"\u2014 {name} "
    for line in note[len(text) + 1 :].splitlines():
        if not line.startswith(prefix):
            continue
        try:
            blob = base64.b64decode(line[len(prefix) :], validate=True)
        except binascii.Error:
            continue
        if blob[:4] == note_key_id(name, public_raw) and verify(
            public_raw, base64.b64encode(blob[4:]).decode(), text.encode()
        ):
            return True
    return False
