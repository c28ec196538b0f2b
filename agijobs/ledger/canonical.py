"""Canonical bytes and the event hash chain.

Everything that is hashed goes through `dumps`: orjson with sorted keys. An event line is
the canonical encoding of ``{data, hash, seq, tick, type}``; its hash is
``sha256(previous hash hex + body)`` where the body is the same line without the ``hash``
member. Because keys are sorted, ``hash`` sits right before ``seq`` and only ``seq``,
``tick`` and ``type`` follow it, so the body is recovered by cutting the last
``,"hash":"<64 hex>"`` out of the line: no re-encoding is needed to verify a chain.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

GENESIS_HASH = "0" * 64
_HASH_MARK = b',"hash":"'
_SEQ_MARK = b',"seq":'
_HASH_FIELD_LEN = len(_HASH_MARK) + 64 + 1


def dumps(value: Any) -> bytes:
    """The one encoder for hashed bytes: sorted keys, compact, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_event(prev_hash: str, seq: int, tick: int, kind: str, data: Any) -> tuple[bytes, str]:
    """Return the event's line (without newline) and its hash.

    The line is formatted directly rather than by sorting an outer dict per event (the hot
    path of every run): the keys are written in sorted order, and the test suite checks the
    result equals `dumps` of the whole event.
    """
    payload = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    kind_json = orjson.dumps(kind)
    body = b'{"data":%b,"seq":%d,"tick":%d,"type":%b}' % (payload, seq, tick, kind_json)
    digest = hashlib.sha256(prev_hash.encode() + body).hexdigest()
    line = b'{"data":%b,"hash":"%b","seq":%d,"tick":%d,"type":%b}' % (
        payload,
        digest.encode(),
        seq,
        tick,
        kind_json,
    )
    return line, digest


def split_event_line(line: bytes) -> tuple[bytes, str]:
    """Split a stored line into (body, claimed hash). Raises ValueError if malformed."""
    cut = line.rfind(_HASH_MARK)
    if cut < 0 or len(line) < cut + _HASH_FIELD_LEN or line[cut + _HASH_FIELD_LEN - 1] != 0x22:
        raise ValueError("no hash field")
    claimed = line[cut + len(_HASH_MARK) : cut + _HASH_FIELD_LEN - 1]
    body = line[:cut] + line[cut + _HASH_FIELD_LEN :]
    return body, claimed.decode("ascii", errors="replace")


def chain_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()
