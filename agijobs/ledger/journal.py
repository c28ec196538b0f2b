"""The journal of live commands: entries hash-chained like the event log, encoded and verified.

A live runner journals each owner command it takes from its inbox, durably, before it
acknowledges it; `runner start` re-applies the entries its checkpoint has not applied yet. An
entry is the canonical encoding of ``{command, hash, id, index, tick}``: the command as it
was issued, the id the inbox gave it, its place in the journal (0, 1, …) and the tick it
applies at. ``hash`` is ``sha256(previous entry's hash + the entry's canonical encoding
without its hash)``, 64 zeros before the first entry, as for events (`canonical`). The
runner keeps the head and seals what it appends (`seal_entries`); the stores write entries
with `encode_entry` and read them back through `verify_journal`, which names the first line
that is not an entry the runner wrote.

What an entry's command may say is the boundary's business (owner commands are checked
where the command line checks them); here only the entry's frame is checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ..errors import IntegrityError
from .canonical import GENESIS_HASH, chain_hash, dumps

FIELDS: dict[str, type] = {"command": dict, "hash": str, "id": str, "index": int, "tick": int}
_KINDS = {dict: "an object", str: "a string", int: "an integer"}
HINT = "the journal of live commands was altered or damaged; restore it from a backup"


def seal_entries(head: str, entries: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """`entries` (without hashes) chained on `head`: each with its hash; and the new head."""
    sealed = []
    for entry in entries:
        body = {key: value for key, value in entry.items() if key != "hash"}
        head = chain_hash(head, dumps(body))
        sealed.append({**body, "hash": head})
    return sealed, head


def encode_entry(entry: dict[str, Any]) -> bytes:
    """A sealed entry's stored bytes (a line without its newline)."""
    return dumps(entry)


def journal_head(entries: Sequence[dict[str, Any]]) -> str:
    """The chain head after verified `entries`."""
    return str(entries[-1]["hash"]) if entries else GENESIS_HASH


def verify_journal(lines: Iterable[bytes], name: str) -> list[dict[str, Any]]:
    """The entries of `lines` (complete lines, in order), each checked: JSON, chained on the
    one before, the frame's fields with their types, index counting from 0, ticks never
    going back, ids unique. Raises `IntegrityError` naming `name` and the first bad line."""
    entries: list[dict[str, Any]] = []
    head = GENESIS_HASH
    lines_of: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        previous = entries[-1]["tick"] if entries else None
        entry = _entry(line, head, number, previous, lines_of, f"{name} line {number}")
        lines_of[entry["id"]] = number
        head = entry["hash"]
        entries.append(entry)
    return entries


def _entry(
    line: bytes,
    head: str,
    number: int,
    previous_tick: int | None,
    lines_of: dict[str, int],
    where: str,
) -> dict[str, Any]:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise IntegrityError(
            f"{where}: not JSON ({error.msg}, column {error.colno})", HINT
        ) from None
    if not isinstance(entry, dict):
        raise IntegrityError(f"{where}: not a JSON object", HINT)
    claimed = entry.get("hash")
    if not isinstance(claimed, str):
        raise IntegrityError(f"{where}: no hash field", HINT)
    body = {key: value for key, value in entry.items() if key != "hash"}
    if chain_hash(head, dumps(body)) != claimed:
        raise IntegrityError(
            f"{where}: hash does not match (the entry was edited, or one before it removed, "
            "inserted or reordered)",
            HINT,
        )
    for field, kind in FIELDS.items():
        if field not in entry:
            raise IntegrityError(f"{where}: `{field}` is missing", HINT)
        value = entry[field]
        if type(value) is not kind:
            shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
            raise IntegrityError(f"{where}: `{field}` must be {_KINDS[kind]}{shown}", HINT)
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise IntegrityError(f"{where}: unknown field `{unknown[0]}`", HINT)
    if entry["index"] != number - 1:
        raise IntegrityError(
            f"{where}: index is {entry['index']}, expected {number - 1} (an entry removed, "
            "inserted or reordered)",
            HINT,
        )
    tick = entry["tick"]
    if tick < 1:
        raise IntegrityError(f"{where}: tick must be 1 or more (got {tick})", HINT)
    if previous_tick is not None and tick < previous_tick:
        raise IntegrityError(
            f"{where}: tick {tick} comes before line {number - 1}'s tick {previous_tick} "
            "(entries reordered)",
            HINT,
        )
    if not entry["id"]:
        raise IntegrityError(f"{where}: `id` is empty", HINT)
    if entry["id"] in lines_of:
        raise IntegrityError(
            f"{where}: id `{entry['id']}` is also on line {lines_of[entry['id']]} (a command "
            "journaled twice)",
            HINT,
        )
    return entry
