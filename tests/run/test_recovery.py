"""Crash recovery with acknowledged live commands, driven deterministically in-process.

Live commands are dropped into the inbox from the progress callback after a chosen tick (so
the runner takes them at the next tick), and a crash is a BaseException raised from the same
callback after a chosen tick: the events of that tick are written, the checkpoint is not.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from agijobs.errors import Conflict
from agijobs.ledger.canonical import GENESIS_HASH
from agijobs.ledger.journal import seal_entries
from agijobs.run.delivery import issue_command
from agijobs.run.lifecycle import continue_run, start_run
from agijobs.run.runner import RunOptions
from agijobs.scenario.loading import load_plan
from agijobs.store.files import FileStore, atomic_write

from ..helpers import scenario_dict, sha, write_scenario


class Crash(BaseException):
    pass


Inject = dict[int, list[tuple[str, str, dict[str, Any]]]]


def drop_command(store: FileStore, command_id: str, name: str, args: dict[str, Any]) -> None:
    raw = {
        "command": name,
        "args": args,
        "reason": "r",
        "actor": "op",
        "issued_at": "2026-01-01T00:00:00.000Z",
        "issued_ns": 1,
        "id": command_id,
    }
    atomic_write(store._inbox("pending") / f"{command_id}.json", orjson.dumps(raw))


def drive(
    tmp: Path,
    name: str,
    scenario: dict[str, Any],
    inject: Inject,
    crash_after: int | None = None,
) -> FileStore:
    plan = load_plan(write_scenario(tmp / f"{name}.yaml", scenario))
    store = FileStore(tmp / name)
    sent: set[str] = set()

    def progress(engine: Any, seq: int) -> None:
        for command_id, command, args in inject.get(engine.state.tick, []):
            if command_id not in sent:
                sent.add(command_id)
                drop_command(store, command_id, command, args)
        if crash_after is not None and engine.state.tick == crash_after:
            raise Crash

    try:
        start_run(store, plan, "test", RunOptions(progress=progress))
    except Crash:
        crash_after = None
        continue_run(store, RunOptions(progress=progress))
    return store


def owner_events(store: FileStore) -> list[tuple[int, str, str]]:
    events = [orjson.loads(line) for line in store.read_events().splitlines()]
    return [
        (e["tick"], e["type"], e["data"]["input"]["source"])
        for e in events
        if e["type"].startswith("owner.")
    ]


def scenario(**changes: Any) -> dict[str, Any]:
    data = scenario_dict(**changes)
    data["workload"][0].update(count=40, arrive={"start": 1, "per_tick": 2})
    data["run"]["checkpoint_every"] = 5
    return data


def same_bytes(a: FileStore, b: FileStore) -> None:
    for name in ("events.ndjson", "checkpoint.json", "summary.json"):
        assert sha(a.root / name) == sha(b.root / name), name


def test_live_resume_acknowledged_before_a_crash_is_replayed_not_duplicated(
    tmp_path: Path,
) -> None:
    data = scenario(schedule=[{"tick": 2, "command": "pause-all", "reason": "p"}])
    inject: Inject = {6: [("c1", "resume", {})]}
    whole = drive(tmp_path, "whole", data, inject)
    crashed = drive(tmp_path, "crashed", data, inject, crash_after=8)
    same_bytes(whole, crashed)
    assert owner_events(crashed) == [
        (2, "owner.pause-all", "schedule"),
        (7, "owner.resume", "live"),
    ]


def test_a_restart_after_a_crash_leaves_a_live_pause_in_force(tmp_path: Path) -> None:
    crashed = drive(tmp_path, "crashed", scenario(), {6: [("c1", "pause-all", {})]}, crash_after=8)
    assert owner_events(crashed) == [(7, "owner.pause-all", "live")]
    summary = orjson.loads(crashed.read_document("summary.json") or b"")
    assert (summary["status"], summary["paused"]) == ("paused", True)


def test_a_restart_after_a_crash_in_a_pause_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    data = scenario()
    inject: Inject = {
        6: [("c1", "pause-all", {})],
        9: [("c2", "set-latency", {"shard": "earth", "ms": 85})],
    }
    whole = drive(tmp_path, "whole", data, inject)
    crashed = drive(tmp_path, "crashed", data, inject, crash_after=11)
    same_bytes(whole, crashed)


def test_at_rest_command_waits_for_unreplayed_live_commands(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "s")
    plan = load_plan(write_scenario(tmp_path / "s.yaml", scenario()))

    def progress(engine: Any, seq: int) -> None:
        if engine.state.tick == 6:
            drop_command(store, "c1", "set-latency", {"shard": "earth", "ms": 50})
        if engine.state.tick == 8:
            raise Crash

    with pytest.raises(Crash):
        start_run(store, plan, "test", RunOptions(progress=progress))
    before = {p: sha(store.root / p) for p in ("events.ndjson", "checkpoint.json")}
    with pytest.raises(Conflict, match="1 acknowledged live command"):
        issue_command(store, "set-latency", {"shard": "earth", "ms": 300}, "r", "op", 1.0)
    assert {p: sha(store.root / p) for p in before} == before


def test_a_torn_journal_entry_does_not_hide_later_ones(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    entries, _ = seal_entries(
        GENESIS_HASH,
        [{"id": name, "tick": n + 1, "index": n, "command": {}} for n, name in enumerate("abc")],
    )
    store.journal(entries[:1])
    with open(tmp_path / "inbox" / "journal.ndjson", "ab") as handle:
        handle.write(b'{"id":"tor')
    assert store.read_journal() == entries[:1]  # the torn entry was never acknowledged
    store.journal(entries[1:2])
    store.journal(entries[2:])
    assert store.read_journal() == entries


def test_a_crash_while_writing_the_summary_is_finished_by_runner_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = drive(tmp_path, "whole", scenario(), {})
    plan = load_plan(tmp_path / "whole.yaml")
    store = FileStore(tmp_path / "crashed")
    original = FileStore.write_document

    def crash_on_summary(self: FileStore, name: str, data: bytes) -> None:
        if name == "summary.json":
            raise Crash
        original(self, name, data)

    monkeypatch.setattr(FileStore, "write_document", crash_on_summary)
    with pytest.raises(Crash):
        start_run(store, plan, "test", RunOptions())
    monkeypatch.setattr(FileStore, "write_document", original)
    outcome = continue_run(store, RunOptions())
    assert outcome.status == "finished"
    same_bytes(whole, store)
    with pytest.raises(Conflict, match="nothing to continue"):
        continue_run(store, RunOptions())


def test_leftover_pending_file_of_a_journaled_command_is_removed(tmp_path: Path) -> None:
    data = scenario()
    store = drive(tmp_path, "s", data, {3: [("c1", "pause-all", {})]}, crash_after=5)
    shutil.rmtree(tmp_path / "s")  # start again and leave a journaled command's file behind
    store = FileStore(tmp_path / "s")
    plan = load_plan(tmp_path / "s.yaml")

    def progress(engine: Any, seq: int) -> None:
        if engine.state.tick == 3:
            drop_command(store, "c1", "pause-all", {})
        if engine.state.tick == 5:
            drop_command(store, "c1", "pause-all", {})  # as if the unlink never happened
            raise Crash

    with pytest.raises(Crash):
        start_run(store, plan, "test", RunOptions(progress=progress))
    continue_run(store, RunOptions())
    assert not list((store.root / "inbox" / "pending").glob("*.json"))
    assert [e[:2] for e in owner_events(store)] == [(4, "owner.pause-all")]
