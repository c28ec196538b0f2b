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

from .canonical import GENESIS_HASH, chain_hash, dumps, sha256_hex, split_event_line
from .errors import IntegrityError

CHECKPOINT_FORMAT = 1
_SEQ = b',"seq":'
_TICK = b',"tick":'


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
    """Verify every complete line; remember head and offset at `mark_seq`."""
    scan = ChainScan(mark_seq=mark_seq)
    prev = GENESIS_HASH
    position = 0
    size = len(data)
    seq = 0
    while position < size:
        end = data.find(b"\n", position)
        if end < 0:
            scan.torn_bytes = size - position
            break
        line = data[position:end]
        seq += 1
        problem = _check_line(line, prev, seq)
        if problem is not None:
            scan.error = f"{name}: line {seq} (seq {seq}): {problem}"
            break
        _, claimed = split_event_line(line)
        prev = claimed
        scan.last_tick = _int_after(line, _TICK)
        position = end + 1
        scan.count = seq
        scan.head = prev
        scan.valid_bytes = position
        if seq == mark_seq:
            scan.mark_head = prev
            scan.mark_bytes = position
    if mark_seq == 0:
        scan.mark_bytes = 0
    scan.digest = hashlib.sha256(data[: scan.mark_bytes]).hexdigest()
    return scan


def _check_line(line: bytes, prev: str, seq: int) -> str | None:
    try:
        body, claimed = split_event_line(line)
    except ValueError:
        return "not an event line (no hash field)"
    if chain_hash(prev, body) != claimed:
        return "hash does not match (line edited, removed, inserted or reordered)"
    try:
        found = _int_after(line, _SEQ)
    except ValueError:
        return "no seq field"
    if found != seq:
        return f"seq is {found}, expected {seq}"
    return None


def _int_after(line: bytes, mark: bytes) -> int:
    start = line.rindex(mark) + len(mark)
    end = start
    while end < len(line) and line[end] in b"-0123456789":
        end += 1
    return int(line[start:end])


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
