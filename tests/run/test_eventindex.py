"""describe's index of a directory log: segments as the log grows, merged when they pile
up, kept in memory when the storage cannot be written, and only ever a shortcut."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agijobs.run import eventindex
from agijobs.run.eventindex import EventIndex


def _line(seq: int, data: dict, kind: str) -> bytes:
    event = {"data": data, "hash": f"{seq:064x}", "seq": seq, "tick": seq, "type": kind}
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b"\n"


def _log(path: Path, first: int, last: int) -> None:
    with open(path, "ab") as handle:
        for seq in range(first, last + 1):
            if seq % 5 == 0:
                handle.write(_line(seq, {"node": "n1", "shard": "s1"}, "node.down"))
            else:
                job = f"j{seq % 3}"
                handle.write(_line(seq, {"job": job, "shard": "s1"}, "job.submitted"))


def _seqs(index: EventIndex, key: str) -> list[int]:
    return [orjson.loads(line)["seq"] for line in index.lines(key)]


def test_segments_grow_with_the_log_and_merge_when_they_pile_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, root = tmp_path / "events.ndjson", tmp_path / "events-index"
    monkeypatch.setattr(eventindex, "MAX_SEGMENTS", 2)
    _log(log, 1, 10)
    assert _seqs(EventIndex(log, root).open(), "j/j1") == [1, 4, 7]
    _log(log, 11, 20)
    assert _seqs(EventIndex(log, root).open(), "j/j1") == [1, 4, 7, 13, 16, 19]
    assert sorted(p.name for p in root.iterdir()) == ["0.idx", "1.idx"]
    _log(log, 21, 30)
    merged = EventIndex(log, root).open()  # a third segment: all merged into one
    assert sorted(p.name for p in root.iterdir()) == ["0.idx"]
    assert _seqs(merged, "j/j1") == [1, 4, 7, 13, 16, 19, 22, 28]
    assert _seqs(merged, "n/n1") == _seqs(merged, "s/s1") == [5, 10, 15, 20, 25, 30]
    assert _seqs(merged, "j/nobody") == []


def test_a_storage_it_cannot_write_is_indexed_in_memory(tmp_path: Path) -> None:
    log = tmp_path / "events.ndjson"
    _log(log, 1, 6)
    blocked = tmp_path / "blocked"
    blocked.write_bytes(b"")  # a file where the index directory would go
    index = EventIndex(log, blocked).open()
    assert _seqs(index, "j/j2") == [2]
    assert _seqs(index, "n/n1") == [5]


def test_a_torn_last_line_is_left_for_next_time(tmp_path: Path) -> None:
    log, root = tmp_path / "events.ndjson", tmp_path / "events-index"
    _log(log, 1, 3)
    whole = _line(4, {"job": "j1", "shard": "s1"}, "job.assigned")
    with open(log, "ab") as handle:
        handle.write(whole[:20])  # the runner is writing it
    assert _seqs(EventIndex(log, root).open(), "j/j1") == [1]
    with open(log, "ab") as handle:
        handle.write(whole[20:])
    assert _seqs(EventIndex(log, root).open(), "j/j1") == [1, 4]
