"""A checkpoint's seal: canonical bytes with an integrity hash, encoded and verified.

The seal proves the bytes are the ones written, and names the log prefix (`events`: its
length and sha256) the checkpoint describes; `chain.verify_against_chain` holds it against
the log. What the state inside means is the fabric's (`agijobs.fabric.snapshot`).
"""

from __future__ import annotations

import hashlib
from typing import Any, NoReturn

import orjson

from ..errors import IntegrityError
from .canonical import dumps, sha256_hex

CHECKPOINT_FORMAT = 1
_SEQ = b',"seq":'


def encode_checkpoint(
    *,
    inputs_id: str,
    seq: int,
    head: str,
    state: dict[str, Any],
    events: tuple[int, str] | None = None,
) -> bytes:
    """The checkpoint names its scenario by `inputs_id`, so running a scenario and running
    its reviewed plan (whose plan_id also covers the prediction) give the same bytes.
    `events` is the log up to `seq`: its length in bytes and sha256 (`scan_from_checkpoint`)."""
    document: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "inputs_id": inputs_id,
        "tick": state["tick"],
        "seq": seq,
        "head": head,
        "state": state,
    }
    if events is not None:
        document["events"] = {"bytes": events[0], "sha256": events[1]}
    body = dumps(document)
    return _sealed(body, sha256_hex(body))


def _sealed(body: bytes, integrity: str) -> bytes:
    # Sorted keys put "integrity" right before the top-level "seq", which precedes "state":
    # splicing it in gives the canonical encoding without encoding the state twice.
    # One copy of a body that can be megabytes (`+` would make three).
    cut = body.index(_SEQ)
    field = b',"integrity":"' + integrity.encode() + b'"'
    return b"".join((body[:cut], field, memoryview(body)[cut:], b"\n"))


def decode_checkpoint(data: bytes, name: str = "checkpoint.json") -> dict[str, Any]:
    """Parse and verify a checkpoint; raise `IntegrityError` naming what is wrong."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise IntegrityError(
            f"{name}: not valid JSON ({exc.msg})", "restore it from a backup or re-run"
        ) from None
    if not isinstance(raw, dict) or "integrity" not in raw:
        raise IntegrityError(f"{name}: no integrity field", "restore it from a backup or re-run")
    claimed = raw.pop("integrity")
    if not (isinstance(claimed, str) and _unsealed_digest(data, claimed) == claimed):
        _refuse_checkpoint(raw, claimed, name)
    if raw.get("format") != CHECKPOINT_FORMAT:
        raise IntegrityError(
            f"{name}: format {raw.get('format')!r} is not supported", "re-run with this agijobs"
        )
    return raw


def _unsealed_digest(data: bytes, claimed: str) -> str | None:
    """The sha256 of `data` with its integrity field cut out: equal to `claimed` only for the
    exact bytes that were sealed (which were canonical), so no re-encoding is needed."""
    field = b',"integrity":"' + claimed.encode() + b'"'
    cut = data.find(field)
    if cut < 0 or not data.endswith(b"\n"):
        return None
    digest = hashlib.sha256(data[:cut])
    digest.update(memoryview(data)[cut + len(field) : -1])
    return digest.hexdigest()


def _refuse_checkpoint(raw: dict[str, Any], claimed: Any, name: str) -> NoReturn:
    """Say why a checkpoint whose bytes are not the sealed ones is refused."""
    if sha256_hex(dumps(raw)) != claimed:
        raise IntegrityError(
            f"{name}: integrity hash does not match its content (edited or damaged)",
            "restore it from a backup or re-run from the scenario",
        )
    # Same content, other bytes (whitespace, key order): still not what was written.
    raise IntegrityError(
        f"{name}: not in canonical form (edited after it was written)",
        "restore it from a backup or re-run from the scenario",
    )
