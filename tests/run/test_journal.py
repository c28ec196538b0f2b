"""`resume` trusts the journal of live commands only as the runner wrote it.

A runner takes commands seeded into its inbox at tick 1, journals them and dies at tick 3
(its checkpoint is the one after `run.started`), so `resume` has them all to re-apply. The
journal is then damaged as someone with write access to the storage could: each damage is
exit 3 naming the line, with a fix, no traceback and nothing changed; a torn last line (a
crash while appending) is not damage. A runner journals only what `resume` would accept.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agijobs.ledger.canonical import GENESIS_HASH
from agijobs.ledger.journal import encode_entry, seal_entries

from ..backends import Backend, DirectoryBackend
from ..helpers import agijobs, cli, file_hashes, scenario_dict, sha, write_scenario

SEEDS: list[tuple[str, dict[str, Any]]] = [
    ("set-latency", {"shard": "earth", "ms": 85}),
    ("pause-all", {}),
    ("resume", {}),
]
ALTERED = "the journal of live commands was altered or damaged; restore it from a backup"
NOT_ISSUED = "no agijobs command issues this, so the journal was altered; restore it from a backup"
OUTPUTS = ("events.ndjson", "checkpoint.json", "summary.json")


def scenario(tmp: Path) -> Path:
    data = scenario_dict()
    data["workload"][0].update(count=40, arrive={"start": 1, "per_tick": 2})
    return write_scenario(tmp / "s.yaml", data)


def seed(backend: Backend, seeds: list[tuple[str, dict[str, Any]]] = SEEDS) -> list[str]:
    """Commands in the inbox before the run, as `agijobs` issues them; their ids in order.
    In a directory the ids are the same every time, so that two runs compare byte for byte."""
    store = backend.store()
    store.ensure()
    ids = []
    for n, (name, args) in enumerate(seeds):
        raw = {
            "command": name,
            "args": args,
            "reason": f"seed {n}",
            "actor": "op",
            "issued_at": "2026-01-01T00:00:00.000Z",
            "issued_ns": 1_000 + n,
        }
        if isinstance(backend, DirectoryBackend):
            command_id = f"{1_000 + n:020d}-seed-{n}"
            pending = backend.root / "inbox" / "pending"
            pending.mkdir(parents=True, exist_ok=True)
            (pending / f"{command_id}.json").write_bytes(orjson.dumps({**raw, "id": command_id}))
            ids.append(command_id)
        else:
            ids.append(store.submit_command(raw))
    store.close()
    return ids


def crash(backend: Backend, tmp: Path, at_tick: int = 3, **kw: Any) -> None:
    """Seed the inbox, run, and die right after tick `at_tick` (SIGKILL)."""
    seed(backend, **kw)
    killed = agijobs(
        "run", str(scenario(tmp)), "--storage", backend.storage, AGIJOBS_CRASH_AT_TICK=str(at_tick)
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr


def name_of(backend: Backend) -> str:
    return f"{backend.storage}/inbox/journal.ndjson"


def refused(backend: Backend, message: str, hint: str = ALTERED) -> None:
    """`resume` exits 3 with exactly this message and fix, and changes nothing."""
    before = backend.snapshot()
    result = agijobs("runner", "start", "--storage", backend.storage)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr == f"Error: {name_of(backend)} {message} — {hint}\n"
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert backend.snapshot() == before


def resealed(lines: list[bytes], change: Callable[[list[dict[str, Any]]], None]) -> list[bytes]:
    """The journal changed by `change` and chained again with the project's own encoder."""
    entries = [orjson.loads(line) for line in lines]
    for entry in entries:
        del entry["hash"]
    change(entries)
    return [encode_entry(entry) for entry in seal_entries(GENESIS_HASH, entries)[0]]


# ------------------------------------------------------------------ damage


def test_a_line_that_is_not_json(backend: Backend, tmp_path: Path) -> None:
    crash(backend, tmp_path)
    lines = backend.journal_lines()
    backend.write_journal([lines[0], b'{"id": oops', lines[2]])
    refused(backend, "line 2: not JSON (unexpected character, expected a JSON value, column 8)")


def test_an_entry_edited_without_hashing_it_again(backend: Backend, tmp_path: Path) -> None:
    crash(backend, tmp_path)
    lines = backend.journal_lines()
    assert b'"ms":85' in lines[0]
    backend.write_journal([lines[0].replace(b'"ms":85', b'"ms":-5'), *lines[1:]])
    refused(
        backend,
        "line 1: hash does not match (the entry was edited, or one before it removed, inserted "
        "or reordered)",
    )


def test_an_entry_edited_and_hashed_again_is_held_to_the_command_lines_rules(
    backend: Backend, tmp_path: Path
) -> None:
    crash(backend, tmp_path)
    lines = backend.journal_lines()

    def negative(entries: list[dict[str, Any]]) -> None:
        entries[0]["command"]["args"]["ms"] = -5

    backend.write_journal(resealed(lines, negative))
    message = "line 1: command -> args -> ms: Input should be greater than 0 (got -5)"
    refused(backend, message, NOT_ISSUED)

    def unknown(entries: list[dict[str, Any]]) -> None:
        entries[1]["command"]["command"] = "pause-everything"

    backend.write_journal(resealed(lines, unknown))
    refused(
        backend,
        "line 2: command -> command: unknown command `pause-everything` (one of pause-all, "
        "resume, reroute, set-latency, shard.pause, shard.resume, shard.register, "
        "shard.deregister, shard.update, node.register, node.update, node.deregister, "
        "node.cordon, node.uncordon, node.drain, job.submit, job.cancel, job.reroute, "
        "checkpoint.save, checkpoint.configure, reporting.configure, governance.update)",
        NOT_ISSUED,
    )

    def no_reason(entries: list[dict[str, Any]]) -> None:
        del entries[2]["command"]["reason"]

    backend.write_journal(resealed(lines, no_reason))
    refused(backend, "line 3: command -> reason: required key is missing", NOT_ISSUED)

    def stringly(entries: list[dict[str, Any]]) -> None:
        entries[0]["tick"] = "1"

    backend.write_journal(resealed(lines, stringly))
    refused(backend, "line 1: `tick` must be an integer (got '1')")


def test_an_owner_command_at_rest_checks_the_journal_as_resume_does(
    backend: Backend, tmp_path: Path
) -> None:
    crash(backend, tmp_path)

    def negative(entries: list[dict[str, Any]]) -> None:
        entries[0]["command"]["args"]["ms"] = -5

    backend.write_journal(resealed(backend.journal_lines(), negative))
    before = backend.snapshot()
    result = agijobs("pause-all", "--reason", "x", "--storage", backend.storage)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr == (
        f"Error: {name_of(backend)} line 1: command -> args -> ms: Input should be greater "
        f"than 0 (got -5) — {NOT_ISSUED}\n"
    )
    assert backend.snapshot() == before


def test_a_deleted_entry(backend: Backend, tmp_path: Path) -> None:
    crash(backend, tmp_path)
    lines = backend.journal_lines()
    backend.write_journal([lines[0], lines[2]])
    refused(
        backend,
        "line 2: hash does not match (the entry was edited, or one before it removed, inserted "
        "or reordered)",
    )

    def drop(entries: list[dict[str, Any]]) -> None:
        del entries[1]

    backend.write_journal(resealed(lines, drop))
    refused(backend, "line 2: index is 2, expected 1 (an entry removed, inserted or reordered)")


def test_reordered_entries(backend: Backend, tmp_path: Path) -> None:
    crash(backend, tmp_path)
    lines = backend.journal_lines()
    backend.write_journal([lines[1], lines[0], lines[2]])
    refused(
        backend,
        "line 1: hash does not match (the entry was edited, or one before it removed, inserted "
        "or reordered)",
    )

    def swap(entries: list[dict[str, Any]]) -> None:
        entries[0], entries[1] = entries[1], entries[0]

    backend.write_journal(resealed(lines, swap))
    refused(backend, "line 1: index is 1, expected 0 (an entry removed, inserted or reordered)")


def test_a_duplicated_entry(backend: Backend, tmp_path: Path) -> None:
    if backend.kind != "directory":
        pytest.skip("a fabric's inbox keys its rows by command id: no duplicate can be stored")
    crash(backend, tmp_path)
    lines = backend.journal_lines()
    backend.write_journal([*lines, lines[2]])
    refused(
        backend,
        "line 4: hash does not match (the entry was edited, or one before it removed, inserted "
        "or reordered)",
    )

    def twice(entries: list[dict[str, Any]]) -> None:
        entries.append({**entries[2], "index": 3})

    backend.write_journal(resealed(lines, twice))
    ids = [orjson.loads(line)["id"] for line in lines]
    refused(backend, f"line 4: id `{ids[2]}` is also on line 3 (a command journaled twice)")


def test_entries_the_checkpoint_applied_removed(backend: Backend, tmp_path: Path) -> None:
    crash(backend, tmp_path, at_tick=7)  # the checkpoint at tick 5 has applied all three
    backend.write_journal([])
    before = backend.snapshot()
    result = agijobs("runner", "start", "--storage", backend.storage)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr == (
        f"Error: {name_of(backend)}: holds 0 entries, but the checkpoint has applied 3 "
        f"(entries removed) — {ALTERED}\n"
    )
    assert backend.snapshot() == before


def test_the_journal_must_agree_with_the_checkpoint(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path / "storage")
    crash(backend, tmp_path, at_tick=7)  # applied: the three entries of tick 1, at tick 5
    lines = backend.journal_lines()

    def applied_later(entries: list[dict[str, Any]]) -> None:
        entries[2]["tick"] = 6

    backend.write_journal(resealed(lines, applied_later))
    refused(backend, "line 3: tick 6 is after the checkpoint's tick 5, which has applied it")

    def one_more_at(tick: int) -> Callable[[list[dict[str, Any]]], None]:
        def add(entries: list[dict[str, Any]]) -> None:
            command = {**entries[1]["command"], "id": "late"}
            entries.append({"command": command, "id": "late", "index": 3, "tick": tick})

        return add

    backend.write_journal(resealed(lines, one_more_at(5)))
    refused(
        backend, "line 4: tick 5 is not after the checkpoint's tick 5, which has not applied it"
    )
    backend.write_journal(resealed(lines, one_more_at(501)))
    refused(backend, "line 4: tick 501 is after the run's last tick 500")
    backend.write_journal(resealed(lines, one_more_at(9)))
    resumed = cli("runner", "start", "--storage", backend.storage)
    assert resumed.exit_code == 0, resumed.output
    late = [e for e in backend.event_list() if e["data"].get("input", {}).get("id") == "late"]
    assert [(e["tick"], e["type"]) for e in late] == [(9, "owner.pause-all")]


# ------------------------------------------------------------------ not damage


def resume_and_compare(damaged: Path, whole: Path) -> None:
    for storage in (damaged, whole):
        result = cli("runner", "start", "--storage", str(storage))
        assert result.exit_code == 0, result.output
    for name in OUTPUTS:
        assert sha(damaged / name) == sha(whole / name), name


def test_a_torn_last_line_is_a_crash_while_appending_not_damage(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path / "torn")
    crash(backend, tmp_path)
    whole = tmp_path / "whole"
    shutil.copytree(backend.root, whole)
    with open(backend.root / "inbox" / "journal.ndjson", "ab") as journal:
        journal.write(b'{"command":{"args":{},"command":"pause-a')
    resume_and_compare(backend.root, whole)
    assert backend.journal_lines() == DirectoryBackend(whole).journal_lines()


def test_a_command_for_an_unknown_shard_replays_as_the_rejection_it_was(
    tmp_path: Path,
) -> None:
    """An unknown shard is the state's business, not the command line's: the live runner
    journaled the command and recorded its rejection; `resume` does the same again."""
    seeds = [("set-latency", {"shard": "mars", "ms": 85}), *SEEDS]
    crashed = DirectoryBackend(tmp_path / "crashed")
    crash(crashed, tmp_path, seeds=seeds)
    whole = DirectoryBackend(tmp_path / "whole")
    seed(whole, seeds)
    ran = agijobs("run", str(scenario(tmp_path)), "--storage", whole.storage)
    assert ran.returncode == 0, ran.stderr
    resumed = cli("runner", "start", "--storage", crashed.storage)
    assert resumed.exit_code == 0, resumed.output
    for name in OUTPUTS:
        assert sha(crashed.root / name) == sha(whole.root / name), name
    rejected = [e for e in crashed.event_list() if e["type"] == "owner.rejected"]
    assert [e["data"]["error"] for e in rejected] == [
        "--shard: unknown shard `mars` — known: earth, luna"
    ]


# ------------------------------------------------------------------ the runner's side


def test_a_runner_refuses_a_command_resume_would_refuse_and_journals_it_not(
    backend: Backend, tmp_path: Path
) -> None:
    bad, good = seed(backend, [("set-latency", {"shard": "earth", "ms": -5}), ("pause-all", {})])
    ran = agijobs("run", str(scenario(tmp_path)), "--storage", backend.storage)
    assert ran.returncode == 0, ran.stderr  # paused and idle: it stops, resumable
    store = backend.store()
    assert store.read_ack(bad) == {
        "tick": 1,
        "event": "owner.rejected",
        "error": f"command {bad}: args -> ms: Input should be greater than 0 (got -5)",
    }
    assert [entry["id"] for entry in store.read_journal()] == [good]
    assert store.pending_commands() == []
    store.close()
    inputs = [e["data"]["input"]["id"] for e in backend.event_list() if "input" in e["data"]]
    assert bad not in inputs and good in inputs


# ------------------------------------------------------------------ any one change


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run that died at tick 3; its journal is replaced by each example's."""
    tmp = tmp_path_factory.mktemp("pristine")
    backend = DirectoryBackend(tmp / "storage")
    crash(backend, tmp)
    backend.write_journal([])
    return backend.root


issuable = st.sampled_from(
    [
        ("pause-all", {}),
        ("resume", {}),
        ("set-latency", {"shard": "earth", "ms": 85}),
        ("set-latency", {"shard": "luna", "ms": 400}),
        ("shard.pause", {"shard": "luna"}),
        ("reroute", {"from": "earth", "to": "luna", "backlog": "all"}),
        ("checkpoint.save", {}),
    ]
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.sampled_from(["", "earth", "mars", "all", "pause-all", "set-latency", "c-0", "c-1"]),
    st.text(max_size=4),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["shard", "ms", "x"]), st.integers(0, 3), max_size=2),
)


@st.composite
def journals(draw: Any) -> list[dict[str, Any]]:
    """Entries a runner could have journaled after tick 0, unsealed."""
    commands = draw(st.lists(issuable, min_size=1, max_size=4))
    entries, tick = [], 1
    for index, (name, args) in enumerate(commands):
        tick += draw(st.integers(0, 2))
        raw = {
            "command": name,
            "args": dict(args),
            "reason": f"r{index}",
            "actor": "op",
            "issued_at": "2026-01-01T00:00:00.000Z",
            "issued_ns": index,
            "id": f"c-{index}",
        }
        entries.append({"command": raw, "id": f"c-{index}", "index": index, "tick": tick})
    return entries


@st.composite
def one_change(draw: Any, entries: list[dict[str, Any]]) -> tuple[int, str]:
    """Change one field of one entry (set, remove or add a key); which entry and field."""
    number = draw(st.integers(0, len(entries) - 1))
    entry = entries[number]
    places: list[tuple[dict[str, Any], str]] = [(entry, key) for key in ("id", "tick", "index")]
    places += [(entry, "command")] + [(entry["command"], key) for key in entry["command"]]
    places += [(entry["command"]["args"], key) for key in entry["command"]["args"]]
    places += [(entry["command"], "auth"), (entry["command"]["args"], "x")]  # added keys
    target, key = draw(st.sampled_from(places))
    if draw(st.booleans()) and key in target:
        del target[key]
    else:
        target[key] = draw(values)
    return number + 1, key


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_one_change_is_accepted_or_refused_naming_its_line(
    pristine: Path, data: st.DataObject
) -> None:
    entries = data.draw(journals())
    line, key = data.draw(one_change(entries))
    with tempfile.TemporaryDirectory(dir=pristine.parent) as tmp:
        backend = DirectoryBackend(Path(tmp) / "storage")
        shutil.copytree(pristine, backend.root)
        backend.write_journal([encode_entry(e) for e in seal_entries(GENESIS_HASH, entries)[0]])
        before = file_hashes(backend.root)
        result = cli("runner", "start", "--storage", backend.storage)  # a traceback fails the test
        if result.exit_code == 0:
            return
        assert result.exit_code == 3, result.output
        found = re.match(rf"Error: {re.escape(name_of(backend))} line (\d+): ", result.stderr)
        assert found, result.stderr
        named = int(found[1])
        # A changed id may clash with a later entry's, a changed tick with the next one's.
        assert named == line or (key in ("id", "tick") and named > line), result.stderr
        assert file_hashes(backend.root) == before
