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
