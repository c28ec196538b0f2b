"""A checkpoint's job rows, kept apart from it in a table named by its sha256.

The checkpoint holds the fabric's state without its jobs and names the table that holds
them (`job_table`: bytes and sha256), with how many rows each shard queue and node holds.
An owner command that changes no job (pause-all, resume) and `status` read kilobytes
instead of a backlog's megabytes, and a checkpoint of such a command writes no table: it
names the one already stored. A table is never replaced, only added, so a crash between
writing a new table and the checkpoint that names it leaves the old pair intact; stores
delete tables no checkpoint names once a new checkpoint is durable.

The table is canonical JSON: ``{"format", "nodes": [[node, running rows]], "shards":
[[shard, queue classes, deferred classes]]}``, in the state's order.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import IntegrityError
from .canonical import dumps, sha256_hex

TABLE_FORMAT = 1
TABLE_KEY = "job_table"
_REMEDY = "the checkpoint was written by another agijobs version or altered; re-run"
_SHARD_ROWS = ("queue", "deferred")
_HEX = frozenset("0123456789abcdef")


def split(state: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
    """The state without its job rows, naming the table that holds them, and the table.
    A state restored without its jobs already names its stored table: (state, None)."""
    if TABLE_KEY in state:
        return state, None
    shards, nodes = [], []
    table_shards, table_nodes = [], []
    for raw in state["shards"]:
        queue, deferred = raw["queue"], raw["deferred"]
        table_shards.append((raw["id"], queue, deferred))
        shard = {key: value for key, value in raw.items() if key not in _SHARD_ROWS}
        shard["queued_jobs"] = sum(len(rows) for _, rows in queue)
        shard["deferred_jobs"] = sum(len(rows) for _, rows in deferred)
        shards.append(shard)
    for raw in state["nodes"]:
        table_nodes.append((raw["id"], raw["running"]))
        node = {key: value for key, value in raw.items() if key != "running"}
        node["running_jobs"] = len(raw["running"])
        nodes.append(node)
    table = dumps({"format": TABLE_FORMAT, "nodes": table_nodes, "shards": table_shards})
    header = {**state, "shards": shards, "nodes": nodes}
    header[TABLE_KEY] = {"bytes": len(table), "sha256": sha256_hex(table)}
    return header, table


# A shard's added rows: (queue classes, deferred classes), each a list of (key, rows).
Additions = dict[str, tuple[list[Any], list[Any]]]


def appended(state: dict[str, Any], table: bytes, additions: Additions) -> bytes | None:
    """`table` (the verified table the split `state` names) with `additions` at the back
    of their classes: the bytes `split` gives for the state with them merged, made by
    splicing `table` rather than parsing its rows (a backlog's megabytes, for ten jobs
    submitted at rest). None when a class added to is not in the table yet, or the table
    is not laid out as `split` lays it out: the caller merges parsed rows instead.

    The layout is canonical JSON of lists (no object but the top one, so `,"shards":`
    occurs once). Outside its strings, `[<shard id>,[` opens that shard's entry and
    nothing else (a row's id is followed by its ordinal, a skill by a string or `]`),
    `[<class key>,[` opens that class, and `]]]` closes a class's rows (a row ends in its
    `due`, never a list, and classes are never empty). Every string is a name (ids and
    skills: `NAME_PATTERN`), so no escape occurs, a `"` always opens or closes a string,
    and each match is checked to lie outside strings. Like every restore without the
    rows, the rows themselves are not checked here: `runner start` and `audit` do."""
    shards_at = table.rfind(b',"shards":[')
    head = b'{"format":%d,"nodes":[' % TABLE_FORMAT
    if shards_at < 0 or not table.startswith(head) or table[-2:] != b"]}" or b"\\" in table:
        return None
    ids = [shard["id"] for shard in state["shards"]]
    inserts: list[tuple[int, bytes]] = []
    matched = [shards_at]  # where the patterns matched: each must be outside a string
    cursor = shards_at  # entries are in the state's order: one pass over the table at most
    for index, shard_id in enumerate(ids):
        if shard_id not in additions:
            continue
        entry = table.find(b"[" + dumps(shard_id) + b",[", cursor)
        if index + 1 < len(ids):
            end = table.find(b"[" + dumps(ids[index + 1]) + b",[", entry)
        else:
            end = len(table) - 2
        if entry < 0 or end < entry:
            return None
        cursor = end
        queue = entry + len(dumps(shard_id)) + 2
        if table[queue : queue + 2] == b"[]":
            queue_end = queue + 1
        else:
            queue_end = table.find(b"]]]],", queue, end) + 3
            matched.append(queue_end)
        if queue_end < queue:
            return None
        matched += (entry, end)
        for classes, (low, high) in zip(
            additions[shard_id], ((queue, queue_end), (queue_end + 2, end)), strict=True
        ):
            for key, rows in classes:  # in the table's order of classes
                opened = b"[" + dumps(key) + b",["
                at = table.find(opened, low, high)
                first = at + len(opened)
                last = table.find(b"]]]", first, high)  # the class's last row ends here
                if at < 0 or last < 0 or table[first : first + 1] != b"[":
                    return None
                matched += (at, last)
                inserts.append((last + 1, b"," + dumps(rows)[1:-1]))
                low = last
    if not _outside_strings(table, matched):
        return None
    inserts.sort()
    pieces: list[bytes] = []
    cursor = 0
    for at, added in inserts:
        pieces += (table[cursor:at], added)
        cursor = at
    pieces.append(table[cursor:])
    return b"".join(pieces)


def _outside_strings(table: bytes, positions: list[int]) -> bool:
    """Whether no position lies inside a string of `table` (one without escapes: an even
    number of `"` before a position puts it outside)."""
    quotes = cursor = 0
    for position in sorted(positions):
        quotes += table.count(b'"', cursor, position)
        cursor = position
        if quotes % 2:
            return False
    return True


def digest(state: dict[str, Any]) -> str:
    """The sha256 of the job table a (split) state names."""
    return str(state[TABLE_KEY]["sha256"])


def named_digest(state: Any) -> str | None:
    """The digest a checkpoint's state names, if it has the shape to name one."""
    ref = state.get(TABLE_KEY) if isinstance(state, dict) else None
    found = ref.get("sha256") if isinstance(ref, dict) else None
    if isinstance(found, str) and len(found) == 64 and set(found) <= _HEX:
        return found  # it names a file: nothing but hex digits
    return None


def holds_jobs(state: dict[str, Any]) -> bool:
    """Whether the table a split state names holds any job."""
    return any(s["queued_jobs"] or s["deferred_jobs"] for s in state["shards"]) or any(
        n["running_jobs"] for n in state["nodes"]
    )


def verify(state: dict[str, Any], table: bytes | None, name: str) -> None:
    """`table` must be the very bytes the state names (`name`: where it was read)."""
    recorded = state[TABLE_KEY]
    if table is None:
        raise IntegrityError(
            f"{name}: missing (the checkpoint's job table)",
            "restore it from a backup with checkpoint.json, or re-run",
        )
    if len(table) != recorded["bytes"] or sha256_hex(table) != recorded["sha256"]:
        raise IntegrityError(
            f"{name}: does not match the digest checkpoint.json records for it (edited or damaged)",
            "restore it from a backup with checkpoint.json, or re-run",
        )


def attach(state: dict[str, Any], table: bytes, name: str) -> dict[str, Any]:
    """The full state (as `Engine.snapshot` makes it) from a split state and its verified
    table. Rows are checked as they are restored; here only the table's shape is."""
    try:
        raw = orjson.loads(table)
    except orjson.JSONDecodeError as exc:
        raise IntegrityError(f"{name}: not valid JSON ({exc.msg})", _REMEDY) from None
    if not isinstance(raw, dict) or raw.get("format") != TABLE_FORMAT:
        raise IntegrityError(f"{name}: not a job table of format {TABLE_FORMAT}", _REMEDY)
    table_shards, table_nodes = raw.get("shards"), raw.get("nodes")
    if not (isinstance(table_shards, list) and isinstance(table_nodes, list)):
        raise IntegrityError(f"{name}: no shards and nodes lists", _REMEDY)
    if len(table_shards) != len(state["shards"]) or len(table_nodes) != len(state["nodes"]):
        raise IntegrityError(f"{name}: not the checkpoint's shards and nodes", _REMEDY)
    shards = []
    for header, entry in zip(state["shards"], table_shards, strict=True):
        where = f"{name}: shards -> {header['id']}"
        if not (isinstance(entry, list) and len(entry) == 3 and entry[0] == header["id"]):
            raise IntegrityError(f"{where}: not [id, queue, deferred] for this shard", _REMEDY)
        _, queue, deferred = entry
        counts = (header["queued_jobs"], header["deferred_jobs"])
        if (
            _class_rows(queue, f"{where} -> queue"),
            _class_rows(deferred, f"{where} -> deferred"),
        ) != counts:
            raise IntegrityError(f"{where}: row counts differ from checkpoint.json", _REMEDY)
        shard = {k: v for k, v in header.items() if k not in ("queued_jobs", "deferred_jobs")}
        shard["queue"], shard["deferred"] = queue, deferred
        shards.append(shard)
    nodes = []
    for header, entry in zip(state["nodes"], table_nodes, strict=True):
        where = f"{name}: nodes -> {header['id']}"
        if not (isinstance(entry, list) and len(entry) == 2 and entry[0] == header["id"]):
            raise IntegrityError(f"{where}: not [id, running] for this node", _REMEDY)
        running = entry[1]
        if not isinstance(running, list):
            raise IntegrityError(f"{where}: running is not a list of rows", _REMEDY)
        if len(running) != header["running_jobs"]:
            raise IntegrityError(f"{where}: row count differs from checkpoint.json", _REMEDY)
        node = {k: v for k, v in header.items() if k != "running_jobs"}
        node["running"] = running
        nodes.append(node)
    full = {k: v for k, v in state.items() if k != TABLE_KEY}
    full["shards"], full["nodes"] = shards, nodes
    return full


def _class_rows(classes: Any, where: str) -> int:
    """Rows in a list of queue classes, ``[[skills, hop history], rows]`` each."""
    if not isinstance(classes, list):
        raise IntegrityError(f"{where}: not a list of queue classes", _REMEDY)
    total = 0
    for index, entry in enumerate(classes):
        ok = isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)
        key = entry[0] if ok else None
        if not (
            isinstance(key, list)
            and len(key) == 2
            and all(isinstance(part, list) and all(type(s) is str for s in part) for part in key)
        ):
            raise IntegrityError(
                f"{where} -> class {index}: not [[skills, hop history], rows]", _REMEDY
            )
        total += len(entry[1])
    return total
