"""Following a run's log: complete lines only (a line being written is read again whole),
polling that backs off while nothing comes, and an end once the runner has stopped."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agijobs.run import follow, sessions
from agijobs.store.files import FileStore
from agijobs.views.events import EventFilter


def _line(seq: int, kind: str = "job.submitted", job: str = "j") -> bytes:
    data = {"job": f"{job}-{seq}", "shard": "earth", "value": 1}
    event = {"data": data, "hash": "0" * 64, "seq": seq, "tick": seq, "type": kind}
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def test_a_torn_last_line_is_never_handed_on_and_is_read_whole_once_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "events.ndjson"
    first, second, third = _line(1), _line(2), _line(3)
    half = len(second) // 2
    log.write_bytes(first + b"\n" + second[:half])  # the runner is writing event 2
    # Live at the start and for four polls, then stopped (a last read follows).
    live = iter([True] * 5 + [False])
    monkeypatch.setattr(sessions, "runner_is_live", lambda store: next(live))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        with open(log, "ab") as handle:  # between polls the runner writes on
            if len(waits) == 1:
                handle.write(second[half:] + b"\n" + third[:10])
            elif len(waits) == 2:
                handle.write(third[10:] + b"\n")

    got = []
    for line, event in follow.read_events(
        FileStore(tmp_path), EventFilter(), follow=True, sleep=sleep
    ):
        assert event is None  # no filter: the stored line is handed on unparsed
        got.append(line)
    assert got == [first, second, third]
    assert waits == [follow.FIRST_POLL, follow.FIRST_POLL]  # each wait found a line after


def test_polling_backs_off_while_nothing_comes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "events.ndjson").write_bytes(_line(1) + b"\n")
    live = iter([True] * 8 + [False])
    monkeypatch.setattr(sessions, "runner_is_live", lambda store: next(live))
    waits: list[float] = []
    lines = list(
        follow.read_events(FileStore(tmp_path), EventFilter(), follow=True, sleep=waits.append)
    )
    assert len(lines) == 1
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_without_a_live_runner_it_reads_the_log_once_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "events.ndjson").write_bytes(_line(1) + b"\n" + _line(2)[:5])
    monkeypatch.setattr(sessions, "runner_is_live", lambda store: False)
    told: list[str] = []
    lines = list(
        follow.read_events(
            FileStore(tmp_path),
            EventFilter(),
            follow=True,
            on_no_runner=lambda: told.append("none"),
        )
    )
    assert [line for line, _ in lines] == [_line(1)]
    assert told == ["none"]
