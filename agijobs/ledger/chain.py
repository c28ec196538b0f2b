"""The event chain: scan and verify events.ndjson, and hold a checkpoint against it.

A crash can leave one torn last line (no trailing newline): that is the normal crash case,
reported as ``torn`` and dropped by `runner start`. Any other damage — a changed byte, a missing,
duplicated or reordered line, a line re-hashed after editing — breaks the chain at the first
bad line and is an `IntegrityError` naming its seq and line number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import IntegrityError
from .canonical import GENESIS_HASH

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
    # sha256 of the prefix ending at mark_seq, still open: the runner continues it as it
    # appends, so resuming never hashes the log a second time.
    prefix_hash: Any = None


def scan_from_checkpoint(
    data: bytes, checkpoint: dict[str, Any], name: str = "events.ndjson"
) -> ChainScan:
    """Verify the log against a checkpoint that records the digest of the log up to its seq
    (`events`: bytes and sha256, computed by the runner as it wrote them). When the prefix
    has exactly those bytes it is the chain the runner built, so only what follows it is
    scanned line by line: one sha256 over the prefix instead of one per line. Any other
    prefix is scanned in full, which names the first line that differs. `audit` always
    scans in full (`scan_events`)."""
    seq = int(checkpoint["seq"])
    recorded = checkpoint.get("events")
    if not isinstance(recorded, dict):
        return scan_events(data, seq, name)
    size = recorded.get("bytes")
    if type(size) is not int or not 0 <= size <= len(data):
        return scan_events(data, seq, name)
    prefix_hash = hashlib.sha256(memoryview(data)[:size])  # a view: no copy of the log
    digest = prefix_hash.hexdigest()
    last = data[data.rfind(b"\n", 0, size - 1) + 1 : size - 1] if size else b""
    if digest != recorded.get("sha256") or _seq_and_hash(last) != (seq, checkpoint["head"]):
        # Not the recorded bytes, or a checkpoint that names another chain head: the full
        # scan finds the first bad line, or verify_against_chain the head that differs.
        return scan_events(data, seq, name)
    scan = scan_events(data, seq, name, start=(size, seq, str(checkpoint["head"])))
    scan.prefix_hash = prefix_hash
    if scan.count == seq and last:  # nothing after the checkpoint: its last line's tick
        scan.last_tick = int(last[last.rindex(b',"tick":') + 8 : last.rindex(b',"type":')])
    return scan


def _seq_and_hash(line: bytes) -> tuple[int, str]:
    """The seq and claimed hash of a verified line (seq 0, genesis for no line)."""
    if not line:
        return 0, GENESIS_HASH
    cut = line.rindex(_HASH_MARK) + _HASH_MARK_LEN
    start = line.index(_SEQ, cut) + _SEQ_LEN
    return int(line[start : line.index(b",", start)]), line[cut : cut + 64].decode()


def scan_events(
    data: bytes,
    mark_seq: int = 0,
    name: str = "events.ndjson",
    start: tuple[int, int, str] | None = None,
) -> ChainScan:
    """Verify every complete line (after `start`: byte offset, seq and chain head of a
    prefix already verified); remember head and offset at `mark_seq`.

    This is the hot path of runner start, status and audit, so it works on bytes with C-level
    find and hashing, never decoding or parsing JSON.
    """
    scan = ChainScan(mark_seq=mark_seq)
    prev = GENESIS_HASH.encode()
    position = 0
    seq = 0
    if start is not None:
        position, seq, head = start
        prev = head.encode()
        if seq == mark_seq:
            scan.mark_bytes = position
    mark_head = prev
    size = len(data)
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
    if start is None:
        scan.prefix_hash = hashlib.sha256(memoryview(data)[: scan.mark_bytes])
    return scan


def verified_head(lines: Sequence[bytes], seq: int, head: bytes) -> bytes | None:
    """The chain head after `lines` (without their newlines, numbered from seq + 1) if
    `scan_events`, continuing from `head` at `seq`, verifies every one of them; else None.

    A strict, fast verdict for a log expected to be whole: it asks for exactly what the
    runner writes after the hash (``","seq":<seq>,"tick":<digits>,``), so a line
    `scan_events` also accepts (a seq written 07) gets None too. None says only "ask
    `scan_events`", which names the first bad line. Each line's claimed head is what the
    next one is hashed on, so consecutive runs of lines can be checked apart (in separate
    processes) by starting each from the claimed hash of the line before it
    (`claimed_hash`).
    """
    sha256 = hashlib.sha256
    for line in lines:
        seq += 1
        body, mark, rest = line.rpartition(_HASH_MARK)  # rest: 64 hex digits, '"', the fields
        fields = b'","seq":%d,"tick":' % seq
        if not mark or not rest.startswith(fields, 64):
            return None
        claimed = rest[:64]
        if sha256(head + body + rest[65:]).hexdigest().encode() != claimed:
            return None
        tick = 64 + len(fields)
        if not rest[tick : rest.find(b",", tick)].isdigit():
            return None
        head = claimed
    return head


def claimed_hash(line: bytes) -> bytes:
    """The hash a line claims (as `scan_events` reads it; checked by `verified_head`)."""
    cut = line.rfind(_HASH_MARK)
    return line[cut + _HASH_MARK_LEN : cut + _HASH_FIELD_LEN - 1]


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
