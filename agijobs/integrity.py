"""Verify the event chain and checkpoints; encode checkpoints.

A crash can leave one torn last line (no trailing newline): that is the normal crash case,
reported as ``torn`` and dropped by `resume`. Any other damage — a changed byte, a missing,
duplicated or reordered line, a line re-hashed after editing — breaks the chain at the first
bad line and is an `IntegrityError` naming its seq and line number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from .canonical import GENESIS_HASH, dumps, sha256_hex
from .errors import IntegrityError

CHECKPOINT_FORMAT = 1
_SEQ = b',"seq":'
_SEQ_LEN = len(_SEQ)
_TICK_LEN = len(b',"tick":')
_HASH_MARK = b',"hash":"'
_HASH_MARK_LEN = len(_HASH_MARK)
_HASH_FIELD_LEN = _HASH_MARK_LEN + 64 + 1


@dataclass(slots=True)
class ChainScan:
    """What a scan of events.ndjson found."""

    count: int = 0  # complete, verified lines
    head: str = GENESIS_HASH
    last_tick: int = 0
    valid_bytes: int = 0  # length of the verified prefix
    torn_bytes: int = 0  # bytes of a torn last line (no newline)
    mark_seq: int = 0
    mark_head: str = GENESIS_HASH
    mark_bytes: int = 0  # length of the prefix ending at mark_seq
    error: str | None = None
    digest: str = ""  # sha256 of the prefix ending at mark_seq


def scan_events(data: bytes, mark_seq: int = 0, name: str = "events.ndjson") -> ChainScan:
    """Verify every complete line; remember head and offset at `mark_seq`.

    This is the hot path of resume, status and audit, so it works on bytes with C-level
    find and hashing, never decoding or parsing JSON.
    """
    scan = ChainScan(mark_seq=mark_seq)
    prev = GENESIS_HASH.encode()
    mark_head = prev
    position = 0
    size = len(data)
    seq = 0
    sha256 = hashlib.sha256
    while position < size:
        end = data.find(b"\n", position)
        if end < 0:
            scan.torn_bytes = size - position
            break
        line = data[position:end]
        seq += 1
        cut = line.rfind(_HASH_MARK)
        tail = cut + _HASH_FIELD_LEN
        if cut < 0 or line[tail - 1 : tail] != b'"' or line[tail : tail + _SEQ_LEN] != _SEQ:
            scan.error = f"{name}: line {seq} (seq {seq}): not an event line (no hash field)"
            break
        claimed = line[cut + _HASH_MARK_LEN : tail - 1]
        if sha256(prev + line[:cut] + line[tail:]).hexdigest().encode() != claimed:
            scan.error = (
                f"{name}: line {seq} (seq {seq}): hash does not match (line edited, removed, "
                "inserted or reordered)"
            )
            break
        seq_start = tail + _SEQ_LEN
        seq_end = line.find(b",", seq_start)
        tick_end = line.find(b",", seq_end + _TICK_LEN)
        try:
            found = int(line[seq_start:seq_end])
            last_tick = int(line[seq_end + _TICK_LEN : tick_end])
        except ValueError:
            scan.error = f"{name}: line {seq} (seq {seq}): no seq or tick field"
            break
        if found != seq:
            scan.error = f"{name}: line {seq} (seq {seq}): seq is {found}, expected {seq}"
            break
        prev = claimed
        position = end + 1
        if seq == mark_seq:
            mark_head = prev
            scan.mark_bytes = position
        scan.last_tick = last_tick
    scan.count = seq - (1 if scan.error else 0)
    scan.head = prev.decode()
    scan.valid_bytes = position
    scan.mark_head = mark_head.decode()
    if mark_seq == 0:
        scan.mark_bytes = 0
    scan.digest = hashlib.sha256(data[: scan.mark_bytes]).hexdigest()
    return scan


def encode_checkpoint(*, inputs_id: str, seq: int, head: str, state: dict[str, Any]) -> bytes:
    """The checkpoint names its scenario by `inputs_id`, so running a scenario and running
    its reviewed plan (whose plan_id also covers the prediction) give the same bytes."""
    body = dumps(
        {
            "format": CHECKPOINT_FORMAT,
            "inputs_id": inputs_id,
            "tick": state["tick"],
            "seq": seq,
            "head": head,
            "state": state,
        }
    )
    return _sealed(body, sha256_hex(body))


def _sealed(body: bytes, integrity: str) -> bytes:
    # Sorted keys put "integrity" right before the top-level "seq", which precedes "state":
    # splicing it in gives the canonical encoding without encoding the state twice.
    cut = body.index(_SEQ)
    return body[:cut] + b',"integrity":"' + integrity.encode() + b'"' + body[cut:] + b"\n"


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
    body = dumps(raw)
    if sha256_hex(body) != claimed:
        raise IntegrityError(
            f"{name}: integrity hash does not match its content (edited or damaged)",
            "restore it from a backup or re-run from the scenario",
        )
    if _SEQ not in body or data != _sealed(body, claimed):
        # Same content, other bytes (whitespace, key order): still not what was written.
        raise IntegrityError(
            f"{name}: not in canonical form (edited after it was written)",
            "restore it from a backup or re-run from the scenario",
        )
    if raw.get("format") != CHECKPOINT_FORMAT:
        raise IntegrityError(
            f"{name}: format {raw.get('format')!r} is not supported", "re-run with this agijobs"
        )
    return raw


def verify_against_chain(checkpoint: dict[str, Any], scan: ChainScan) -> None:
    """The checkpoint must describe a prefix of the verified log."""
    seq = checkpoint["seq"]
    if scan.error is not None and scan.count < seq:
        raise IntegrityError(scan.error, "the log was altered; restore it or re-run")
    if scan.count < seq:
        raise IntegrityError(
            f"events.ndjson: has {scan.count} events but checkpoint.json is at seq {seq} "
            "(log truncated)",
            "restore the log from a backup or re-run",
        )
    if scan.mark_head != checkpoint["head"]:
        raise IntegrityError(
            f"checkpoint.json: chain head at seq {seq} is {checkpoint['head'][:12]}…, "
            f"the log has {scan.mark_head[:12]}…",
            "the log or the checkpoint was altered; restore them or re-run",
        )
    if scan.error is not None:
        raise IntegrityError(scan.error, "the log was altered after the checkpoint")
