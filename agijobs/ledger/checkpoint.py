"""A checkpoint's seal: canonical bytes with an integrity hash, encoded and verified.

The seal proves the bytes are the ones written, and names the log prefix (`events`: its
length and sha256) the checkpoint describes; `chain.verify_against_chain` holds it against
the log. What the state inside means is the fabric's (`agijobs.fabric.snapshot`).

Anyone can recompute a seal. On a fabric that declares keys, the runner also signs the
checkpoint's head and integrity digest with its key (`note`: a C2SP signed note, see
`signing.head_note_text`), which no one without that key can make; the note sits beside
the integrity field, outside what the integrity hash covers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
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
    sign: Callable[[str], str] | None = None,
) -> bytes:
    """The checkpoint names its scenario by `inputs_id`, so running a scenario and running
    its reviewed plan (whose plan_id also covers the prediction) give the same bytes.
    `events` is the log up to `seq`: its length in bytes and sha256 (`scan_from_checkpoint`).
    `sign`, given the integrity digest, returns the runner's signed note over it."""
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
    integrity = sha256_hex(body)
    return _sealed(body, integrity, None if sign is None else sign(integrity))


def _sealed(body: bytes, integrity: str, note: str | None) -> bytes:
    # Sorted keys put "integrity" and "note" right before the top-level "seq", which
    # precedes "state": splicing them in gives the canonical encoding without encoding the
    # state twice. One copy of a body that can be megabytes (`+` would make three).
    cut = body.index(_SEQ)
    field = b',"integrity":"' + integrity.encode() + b'"'
    if note is not None:
        field += b',"note":' + dumps(note)
    return b"".join((body[:cut], field, memoryview(body)[cut:], b"\n"))


def without_note(data: bytes) -> bytes:
    """A checkpoint's bytes as they were before the runner signed them (an unsigned
    checkpoint unchanged): what re-making the run writes."""
    start = data.find(b',"note":')
    if start < 0:
        return data
    return data[:start] + data[data.index(_SEQ, start) :]


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
    note = raw.pop("note", None)
    if not (isinstance(claimed, str) and _unsealed_digest(data, claimed) == claimed):
        _refuse_checkpoint(raw, claimed, name)
    if note is not None:
        if not isinstance(note, str):
            raise IntegrityError(f"{name}: note: not a signed note", "restore it from a backup")
        raw["note"] = note
    if raw.get("format") != CHECKPOINT_FORMAT:
        raise IntegrityError(
            f"{name}: format {raw.get('format')!r} is not supported", "re-run with this agijobs"
        )
    _check_fields(raw, name)
    return raw


def _check_fields(raw: dict[str, Any], name: str) -> None:
    """The fields around the state, typed as `encode_checkpoint` writes them (the state's
    own shape is the fabric's to check)."""
    fix = "the checkpoint was altered: restore it from a backup or re-run"
    for field, kind in (("inputs_id", str), ("tick", int), ("seq", int), ("head", str)):
        value = raw.get(field)
        if type(value) is not kind or (isinstance(value, int) and value < 0):
            raise IntegrityError(f"{name}: {field}: not a {_KIND[kind]}", fix)
    if not (len(raw["head"]) == 64 and set(raw["head"]) <= _HEX):
        raise IntegrityError(f"{name}: head: not a sha256 in hex", fix)
    if not isinstance(raw.get("state"), dict):
        raise IntegrityError(f"{name}: state: not an object", fix)
    events = raw.get("events")
    if events is not None and not (
        isinstance(events, dict)
        and set(events) == {"bytes", "sha256"}
        and type(events["bytes"]) is int
        and events["bytes"] >= 0
        and isinstance(events["sha256"], str)
    ):
        raise IntegrityError(f"{name}: events: not the log's length and sha256", fix)


_KIND = {str: "string", int: "whole number, 0 or more"}
_HEX = frozenset("0123456789abcdef")


def _unsealed_digest(data: bytes, claimed: str) -> str | None:
    """The sha256 of `data` with its integrity field cut out: equal to `claimed` only for the
    exact bytes that were sealed (which were canonical), so no re-encoding is needed."""
    field = b',"integrity":"' + claimed.encode() + b'"'
    cut = data.find(field)
    if cut < 0 or not data.endswith(b"\n"):
        return None
    rest = cut + len(field)
    if data.startswith(b',"note":', rest):
        rest = data.find(_SEQ, rest)  # the note, a JSON string, ends where "seq" begins
        if rest < 0:
            return None
    digest = hashlib.sha256(data[:cut])
    digest.update(memoryview(data)[rest:-1])
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
