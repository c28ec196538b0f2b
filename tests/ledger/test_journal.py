"""The journal's chain: sealed entries verify and read back as written; any other line is
refused, naming it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agijobs.errors import IntegrityError
from agijobs.ledger.canonical import GENESIS_HASH, chain_hash, dumps
from agijobs.ledger.journal import (
    HINT,
    encode_entry,
    journal_head,
    seal_entries,
    verify_journal,
)

NAME = "s/inbox/journal.ndjson"
commands = st.dictionaries(
    st.text(max_size=8),
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    max_size=4,
)


@st.composite
def journals(draw: Any) -> list[dict[str, Any]]:
    """Unsealed entries as a runner makes them: ids unique, ticks never going back."""
    ids = draw(st.lists(st.text(min_size=1, max_size=12), unique=True, max_size=6))
    steps = draw(st.lists(st.integers(0, 3), min_size=len(ids), max_size=len(ids)))
    entries, tick = [], 1
    for index, (command_id, step) in enumerate(zip(ids, steps, strict=True)):
        tick += step
        entries.append({"command": draw(commands), "id": command_id, "index": index, "tick": tick})
    return entries


def lines_of(entries: list[dict[str, Any]]) -> list[bytes]:
    return [encode_entry(entry) for entry in entries]


@given(journals())
def test_sealed_entries_verify_and_read_back_as_written(entries: list[dict[str, Any]]) -> None:
    sealed, head = seal_entries(GENESIS_HASH, entries)
    assert [{k: v for k, v in e.items() if k != "hash"} for e in sealed] == entries
    assert verify_journal(lines_of(sealed), NAME) == sealed
    assert journal_head(sealed) == head
    previous = GENESIS_HASH
    for entry, line in zip(sealed, lines_of(sealed), strict=True):
        assert line == dumps(entry)  # canonical bytes, like an event line
        body = dumps({k: v for k, v in entry.items() if k != "hash"})
        assert entry["hash"] == chain_hash(previous, body)
        previous = entry["hash"]


@given(journals(), st.integers(0, 5))
def test_sealing_in_batches_is_sealing_at_once(entries: list[dict[str, Any]], cut: int) -> None:
    first, head = seal_entries(GENESIS_HASH, entries[:cut])
    rest, end = seal_entries(head, entries[cut:])
    assert (first + rest, end) == seal_entries(GENESIS_HASH, entries)


def three() -> list[dict[str, Any]]:
    return [
        {"command": {"command": "pause-all"}, "id": "a", "index": 0, "tick": 3},
        {"command": {"command": "resume"}, "id": "b", "index": 1, "tick": 3},
        {"command": {"command": "pause-all"}, "id": "c", "index": 2, "tick": 5},
    ]


def resealed(change: Any) -> list[bytes]:
    """Three entries, changed by `change(entries)`, sealed again with the project's own
    encoder: what someone who knows the format writes."""
    entries = three()
    change(entries)
    return lines_of(seal_entries(GENESIS_HASH, entries)[0])


def refused(lines: list[bytes]) -> str:
    with pytest.raises(IntegrityError) as caught:
        verify_journal(lines, NAME)
    assert caught.value.hint == HINT
    return caught.value.message


def test_a_line_that_is_not_json_is_named() -> None:
    lines = resealed(lambda e: None)
    lines[1] = b'{"id": oops'
    assert refused(lines) == (
        f"{NAME} line 2: not JSON (unexpected character, expected a JSON value, column 8)"
    )
    lines[1] = b"[1,2]"
    assert refused(lines) == f"{NAME} line 2: not a JSON object"
    lines[1] = b""
    assert refused(lines).startswith(f"{NAME} line 2: not JSON (Input is a zero-length")


def test_an_entry_edited_without_hashing_it_again_breaks_the_chain() -> None:
    lines = resealed(lambda e: None)
    lines[0] = lines[0].replace(b'"tick":3', b'"tick":4')
    assert refused(lines) == (
        f"{NAME} line 1: hash does not match (the entry was edited, or one before it removed, "
        "inserted or reordered)"
    )
    without = orjson.loads(lines[2])
    del without["hash"]
    assert refused([*resealed(lambda e: None)[:2], dumps(without)]) == (
        f"{NAME} line 3: no hash field"
    )


def test_removed_inserted_and_reordered_entries_break_the_chain() -> None:
    lines = resealed(lambda e: None)
    message = f"{NAME} line 2: hash does not match"
    assert refused([lines[0], lines[2]]).startswith(message)
    assert refused([lines[0], lines[0], lines[1]]).startswith(message)
    assert refused([lines[1], lines[0], lines[2]]).startswith(f"{NAME} line 1: hash")


def test_what_a_chain_cannot_catch_the_frame_does() -> None:
    def drop(entries: list[dict[str, Any]]) -> None:
        del entries[1]

    assert refused(resealed(drop)) == (
        f"{NAME} line 2: index is 2, expected 1 (an entry removed, inserted or reordered)"
    )

    def swap(entries: list[dict[str, Any]]) -> None:
        entries[0], entries[1] = entries[1], entries[0]

    assert refused(resealed(swap)).startswith(f"{NAME} line 1: index is 1, expected 0")

    def later_first(entries: list[dict[str, Any]]) -> None:
        entries[1]["tick"] = 1

    assert refused(resealed(later_first)) == (
        f"{NAME} line 2: tick 1 comes before line 1's tick 3 (entries reordered)"
    )

    def twice(entries: list[dict[str, Any]]) -> None:
        entries[2] = {**entries[1], "index": 2}

    assert refused(resealed(twice)) == (
        f"{NAME} line 3: id `b` is also on line 2 (a command journaled twice)"
    )


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("tick", None, "`tick` is missing"),
        ("tick", "3", "`tick` must be an integer (got '3')"),
        ("tick", True, "`tick` must be an integer (got True)"),
        ("tick", 0, "tick must be 1 or more (got 0)"),
        ("index", 1.0, "`index` must be an integer (got 1.0)"),
        ("id", 7, "`id` must be a string (got 7)"),
        ("id", "", "`id` is empty"),
        ("command", ["pause-all"], "`command` must be an object"),
        ("command", None, "`command` is missing"),
        ("note", "x", "unknown field `note`"),
    ],
)
def test_each_field_of_the_frame_is_checked(field: str, value: Any, problem: str) -> None:
    def change(entries: list[dict[str, Any]]) -> None:
        if value is None:
            del entries[0][field]
        else:
            entries[0][field] = value

    assert refused(resealed(change)) == f"{NAME} line 1: {problem}"


def test_an_empty_journal_is_no_entries() -> None:
    assert verify_journal([], NAME) == []
    assert journal_head([]) == GENESIS_HASH
