"""A forger's tools: edit a stored run, then re-chain the log and re-seal the checkpoint with
the project's own encoders, so that every hash and integrity field holds again.

What such a forgery changes is one field: a leaf of the checkpoint's state (its job rows
included) or of one event. Paths are lists of keys and indices into the JSON document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from agijobs.ledger import jobtable
from agijobs.ledger.canonical import GENESIS_HASH, dumps, sha256_hex

Path_ = tuple[Any, ...]


def leaves(document: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every path into `document`: each value, container or not (a forger may edit a
    whole list as well as one number in it)."""
    if path:
        yield path
    if isinstance(document, dict):
        for key in sorted(document):
            yield from leaves(document[key], (*path, key))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield from leaves(item, (*path, index))


def kind_of(path: Path_) -> tuple[Any, ...]:
    """A path with its list indices blurred: one field "kind" of a document."""
    return tuple("*" if isinstance(part, int) else part for part in path)


def get(document: Any, path: Path_) -> Any:
    for part in path:
        document = document[part]
    return document


def mutated(value: Any) -> Any:
    """Another value for the field: a forger's smallest believable edit."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return 0
    if isinstance(value, list):
        return value[:-1] if value else [0]
    if isinstance(value, dict):
        return dict(list(value.items())[1:]) if value else {"x": 1}
    raise TypeError(value)


def set_at(document: Any, path: Path_, value: Any) -> None:
    get(document, path[:-1])[path[-1]] = value


# ------------------------------------------------------------------ the checkpoint


def full_state(storage: Path) -> dict[str, Any]:
    """The checkpoint's state with its job table's rows."""
    checkpoint = orjson.loads((storage / "checkpoint.json").read_bytes())
    state = checkpoint["state"]
    table = (storage / "jobs" / f"{jobtable.digest(state)}.json").read_bytes()
    return jobtable.attach(state, table, "job table")


def forge_state(storage: Path, path: Path_) -> tuple[Any, Any]:
    """Edit the state's field at `path` (job rows included), store the job table the edited
    state needs and re-seal the checkpoint naming it. Returns (old value, new value)."""
    state = full_state(storage)
    old = get(state, path)
    new = mutated(old)
    set_at(state, path, new)
    split, table = split_state(state)
    (storage / "jobs" / f"{jobtable.digest(split)}.json").write_bytes(table)
    reseal(storage, state=split)
    return old, new


def split_state(state: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """`jobtable.split`, as a forger writes it by hand: it also splits a state whose rows
    no longer have their shape (counting what it can)."""
    shards, nodes, table_shards, table_nodes = [], [], [], []
    for raw in state["shards"]:
        queue, deferred = raw.get("queue"), raw.get("deferred")
        table_shards.append([raw.get("id"), queue, deferred])
        shard = {k: v for k, v in raw.items() if k not in ("queue", "deferred")}
        shard["queued_jobs"], shard["deferred_jobs"] = _rows(queue), _rows(deferred)
        shards.append(shard)
    for raw in state["nodes"]:
        running = raw.get("running")
        table_nodes.append([raw.get("id"), running])
        node = {k: v for k, v in raw.items() if k != "running"}
        node["running_jobs"] = len(running) if isinstance(running, list) else 0
        nodes.append(node)
    table = dumps({"format": jobtable.TABLE_FORMAT, "nodes": table_nodes, "shards": table_shards})
    header = {**state, "shards": shards, "nodes": nodes}
    header[jobtable.TABLE_KEY] = {"bytes": len(table), "sha256": sha256_hex(table)}
    return header, table


def _rows(classes: Any) -> int:
    try:
        return sum(len(rows) for _, rows in classes)
    except (TypeError, ValueError):
        return 0


def reseal(storage: Path, **fields: Any) -> None:
    """Write the checkpoint again with `fields` replaced, sealed as the runner seals it. A
    runner's signed note, which a forger cannot make again, is kept as it was."""
    raw = orjson.loads((storage / "checkpoint.json").read_bytes())
    del raw["integrity"]
    note = raw.pop("note", None)
    raw.update(fields)
    sealed = {**raw, "integrity": sha256_hex(dumps(raw))}
    if note is not None:
        sealed["note"] = note
    (storage / "checkpoint.json").write_bytes(dumps(sealed) + b"\n")


# ------------------------------------------------------------------ the log


def events(storage: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (storage / "events.ndjson").read_bytes().splitlines()]


def forge_event(storage: Path, seq: int, path: Path_) -> tuple[Any, Any]:
    """Edit one field of event `seq` (`path` inside the event: ("data", "node"), ("tick",)),
    re-chain every line from it on and re-seal the checkpoint to the new head and log
    digest. Returns (old value, new value)."""
    lines = (storage / "events.ndjson").read_bytes().splitlines(keepends=True)
    event = orjson.loads(lines[seq - 1])
    old = get(event, path)
    new = mutated(old)
    set_at(event, path, new)
    lines[seq - 1] = dumps(event) + b"\n"
    rechain(storage, lines, seq)
    return old, new


def rechain(storage: Path, lines: list[bytes], start: int) -> None:
    """Re-hash lines `start` on (numbered from 1), write the log, and re-seal the checkpoint
    to its head and the digest of the log up to its seq."""
    checkpoint = orjson.loads((storage / "checkpoint.json").read_bytes())
    head = GENESIS_HASH if start == 1 else str(orjson.loads(lines[start - 2])["hash"])
    for index in range(start - 1, len(lines)):
        event = orjson.loads(lines[index])
        body = {k: v for k, v in event.items() if k != "hash"}
        head = sha256_hex(head.encode() + dumps(body))
        lines[index] = dumps({**body, "hash": head}) + b"\n"
    (storage / "events.ndjson").write_bytes(b"".join(lines))
    seq = checkpoint["seq"]
    prefix = b"".join(lines[:seq])
    marked = str(orjson.loads(lines[seq - 1])["hash"]) if seq else GENESIS_HASH
    digest = {"bytes": len(prefix), "sha256": hashlib.sha256(prefix).hexdigest()}
    reseal(storage, head=marked, events=digest)
