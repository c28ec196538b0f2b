"""The storage contract: one suite, run against every backend (the `backend` fixture runs
each test on a directory and on a PostgreSQL fabric).

First the `Store` interface itself, then the promises the CLI makes on top of it: the same
bytes as any other backend, crash and resume, tamper detection, the run lock, and owner
commands from concurrent processes applied exactly once."""

from __future__ import annotations

import hashlib
import itertools
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from agijobs.contract import named_effect
from agijobs.errors import Conflict
from agijobs.ledger.canonical import GENESIS_HASH, encode_event
from agijobs.ledger.checkpoint import encode_checkpoint
from agijobs.ledger.journal import seal_entries

from ..backends import Backend
from ..helpers import agijobs, scenario_dict, sha, write_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"
CRASH_SCENARIO = SCENARIOS / "crash-resume.yaml"
COMMANDS = 20


def spawn(*args: str, stdout: int = subprocess.DEVNULL, stderr: int = subprocess.DEVNULL) -> Any:
    """The real CLI in a child process that keeps running while the test goes on."""
    return subprocess.Popen(
        [sys.executable, "-m", "agijobs", *args], stdout=stdout, stderr=stderr, text=True
    )


def chain(count: int, start_head: str = GENESIS_HASH, start_seq: int = 0) -> list[bytes]:
    lines, head = [], start_head
    for seq in range(start_seq + 1, start_seq + count + 1):
        line, head = encode_event(head, seq, seq, "test.event", {"n": seq})
        lines.append(line)
    return lines


def checkpoint_at(seq: int) -> bytes:
    return encode_checkpoint(inputs_id="i" * 64, seq=seq, head="h" * 64, state={"tick": seq})


def job_table(n: int) -> tuple[str, bytes]:
    """A stand-in job table (the store keeps its bytes; it never reads them)."""
    table = b'{"format":1,"n":%d}' % n
    return hashlib.sha256(table).hexdigest(), table


# ------------------------------------------------------------------ the interface


def test_an_empty_store_holds_no_run(backend: Backend) -> None:
    store = backend.store()
    store.ensure()
    assert not store.has_run()
    assert store.read_events() == b""
    assert list(store.read_event_chunks(1024)) == []
    assert store.read_checkpoint() is None
    assert store.read_document("run.json") is None
    assert store.read_sessions() == []
    assert store.read_metrics() == b""
    assert store.read_journal() == []
    assert store.pending_commands() == []
    assert not store.lock_is_held()
    store.close()


def test_events_and_checkpoint_round_trip_and_reopening_keeps_only_the_checkpointed_prefix(
    backend: Backend,
) -> None:
    store = backend.store()
    store.ensure()
    lines = chain(30)
    with store.run_lock():
        sink = store.open_events(0, 0)
        sink.append(lines[:20])
        sink.sync()
        first, first_table = job_table(20)
        store.write_checkpoint(checkpoint_at(20), first, first_table)
        sink.append(lines[20:])
        sink.sync()
        sink.close()
    expected = b"".join(line + b"\n" for line in lines[:20])
    if backend.kind == "directory":  # synced past the checkpoint: on disk, dropped on resume
        expected += b"".join(line + b"\n" for line in lines[20:])
    assert store.read_events() == expected
    assert b"".join(store.read_event_chunks(500)) == expected
    assert all(c.endswith(b"\n") for c in store.read_event_chunks(500))
    assert store.read_checkpoint() == checkpoint_at(20)
    assert store.read_job_table(first) == first_table
    assert store.has_run()
    # Reopening at the checkpoint (what resume does) drops what lies past it.
    keep = sum(len(line) + 1 for line in lines[:20])
    with store.run_lock():
        sink = store.open_events(keep, 20)
        sink.append(lines[20:25])
        sink.sync()
        second, second_table = job_table(25)
        store.write_checkpoint(checkpoint_at(25), second, second_table)
        sink.close()
    assert store.read_events() == b"".join(line + b"\n" for line in lines[:25])
    assert store.read_checkpoint() == checkpoint_at(25)
    # A job table no checkpoint names is gone; a checkpoint that keeps its table (a
    # job-less owner command) names the stored one without sending it again.
    assert store.read_job_table(first) is None
    assert store.read_job_table(second) == second_table
    with store.run_lock():
        store.write_checkpoint(checkpoint_at(26), second, None)
    assert store.read_checkpoint() == checkpoint_at(26)
    assert store.read_job_table(second) == second_table
    store.close()


def test_documents_sessions_and_metrics(backend: Backend) -> None:
    store = backend.store()
    store.ensure()
    store.write_document("summary.json", b"{}")
    store.write_document("summary.json", b'{"a":1}\n')
    store.write_document("run.json", b"{}\n")
    assert store.read_document("summary.json") == b'{"a":1}\n'
    assert {"summary.json", "run.json"} <= set(store.document_names())
    for n in range(3):
        store.append_session({"event": "started", "n": n})
    assert [s["n"] for s in store.read_sessions()] == [0, 1, 2]
    rows = [orjson.dumps({"t": t, "q": t * 2}) for t in range(1, 6)]
    store.append_metrics(rows[:3])
    store.append_metrics(rows[3:])
    assert store.read_metrics() == b"".join(row + b"\n" for row in rows)
    store.trim_metrics(3)
    assert store.read_metrics() == b"".join(row + b"\n" for row in rows[:3])
    store.close()


def test_the_inbox_takes_journals_and_acknowledges(backend: Backend) -> None:
    store, runner = backend.store(), backend.store()
    store.ensure()
    ids = [store.submit_command({"command": "pause-all", "issued_ns": 1000 + n}) for n in range(3)]
    pending = runner.pending_commands()
    assert [command_id for command_id, _ in pending] == sorted(ids)
    assert pending[0][1]["command"] == "pause-all"
    entries, _ = seal_entries(
        GENESIS_HASH,
        [
            {"id": command_id, "tick": 7, "index": n, "command": raw}
            for n, (command_id, raw) in enumerate(pending)
        ],
    )
    runner.journal(entries)
    assert runner.pending_commands() == []
    assert store.read_journal() == entries
    assert store.read_ack(ids[0]) is None
    runner.acknowledge(ids[0], {"tick": 7, "event": "owner.pause-all", "effect": {}})
    assert store.wait_ack(ids[0], 5.0) == {"tick": 7, "event": "owner.pause-all", "effect": {}}
    started = time.monotonic()
    assert store.wait_ack(ids[1], 0.2) is None
    assert time.monotonic() - started >= 0.2
    runner.close()
    store.close()


def test_the_run_lock_is_exclusive_across_processes_and_dies_with_its_holder(
    backend: Backend, tmp_path: Path
) -> None:
    store = backend.store()
    store.ensure()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from agijobs.store import open_store\n"
            "store = open_store(sys.argv[1])\n"
            "with store.run_lock():\n"
            "    print('held', flush=True)\n"
            "    time.sleep(120)\n",
            backend.storage,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert store.lock_is_held()
        with pytest.raises(Conflict, match="in use by another agijobs process"), store.run_lock():
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    deadline = time.monotonic() + 10  # the server notices the dead session at once, or soon
    while store.lock_is_held():
        assert time.monotonic() < deadline, "the lock outlived its holder"
        time.sleep(0.05)
    with store.run_lock():
        assert store.lock_is_held()
    assert not store.lock_is_held()
    store.close()


def test_archive_sets_the_run_aside(backend: Backend) -> None:
    store = backend.store()
    store.ensure()
    with store.run_lock():
        sink = store.open_events(0, 0)
        sink.append(chain(3))
        sink.sync()
        store.write_checkpoint(checkpoint_at(3), *job_table(3))
        sink.close()
    store.write_document("run.json", b"{}\n")
    where = store.archive("r1")
    assert not store.has_run()
    assert store.read_document("run.json") is None
    assert store.read_job_table(job_table(3)[0]) is None
    from agijobs.store import open_store

    archived = open_store(where)
    assert archived.read_checkpoint() == checkpoint_at(3)
    assert archived.read_job_table(job_table(3)[0]) == job_table(3)[1]
    assert archived.read_events().count(b"\n") == 3
    archived.close()
    store.close()


# ------------------------------------------------------------------ through the CLI


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Uninterrupted directory runs: what every backend must reproduce byte for byte."""
    runs = {}
    for name in ("planetary", "crash-resume"):
        storage = tmp_path_factory.mktemp(name) / "storage"
        result = agijobs("run", str(SCENARIOS / f"{name}.yaml"), "--storage", str(storage))
        assert result.returncode == 0, result.stderr
        runs[name] = storage
    return runs


def test_a_shipped_scenario_gives_the_same_bytes_and_exports_byte_for_byte(
    backend: Backend, reference: dict[str, Path], tmp_path: Path
) -> None:
    result = agijobs("run", str(SCENARIOS / "planetary.yaml"), "--storage", backend.storage)
    assert result.returncode == 0, result.stderr
    expected = reference["planetary"]
    assert backend.events() == (expected / "events.ndjson").read_bytes()
    assert backend.checkpoint() == (expected / "checkpoint.json").read_bytes()
    audit = agijobs("audit", "--storage", backend.storage, "--json")
    assert audit.returncode == 0, audit.stderr
    assert orjson.loads(audit.stdout)["ok"] is True
    exported = tmp_path / "exported"
    result = agijobs("export", "--storage", backend.storage, str(exported))
    assert result.returncode == 0, result.stderr
    for name in ("events.ndjson", "checkpoint.json", "summary.json", "run-plan.json"):
        assert sha(exported / name) == sha(expected / name), name
    audited = agijobs("audit", "--storage", str(exported))
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_import_then_export_is_the_identity(
    backend: Backend, reference: dict[str, Path], tmp_path: Path
) -> None:
    source = reference["crash-resume"]
    result = agijobs("import", str(source), "--storage", backend.storage)
    assert result.returncode == 0, result.stderr
    assert "imported crash-resume" in result.stdout
    again = agijobs("import", str(source), "--storage", backend.storage)
    assert again.returncode == 4, again.stdout + again.stderr
    assert "already holds a run" in again.stderr
    out = tmp_path / "out"
    exported = agijobs("export", "--storage", backend.storage, str(out))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    for name in ("events.ndjson", "checkpoint.json", "sessions.ndjson", "metrics.ndjson"):
        assert sha(out / name) == sha(source / name), name


@pytest.mark.parametrize("crash_at", ["tick:37", "append:40", "checkpoint:3"])
def test_a_crash_at_any_kill_point_resumes_to_the_uninterrupted_bytes(
    backend: Backend, reference: dict[str, Path], crash_at: str
) -> None:
    crashed = agijobs(
        "run", str(CRASH_SCENARIO), "--storage", backend.storage, AGIJOBS_CRASH_AT=crash_at
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    status = agijobs("status", "--storage", backend.storage, "--json")
    assert orjson.loads(status.stdout)["state"] == "crashed"
    resumed = agijobs("runner", "start", "--storage", backend.storage)
    assert resumed.returncode == 0, resumed.stderr
    expected = reference["crash-resume"]
    assert backend.events() == (expected / "events.ndjson").read_bytes()
    assert backend.checkpoint() == (expected / "checkpoint.json").read_bytes()
    audited = agijobs("audit", "--storage", backend.storage)
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_sigkill_of_a_live_runner_then_resume_from_another_process(
    backend: Backend, reference: dict[str, Path]
) -> None:
    runner = spawn("run", str(CRASH_SCENARIO), "--storage", backend.storage, "--tick-ms", "2")
    deadline = time.monotonic() + 60
    while backend.committed_events() < 1500:
        assert runner.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    # The lock went with the process: another process sees a crashed run and resumes it.
    status = agijobs("status", "--storage", backend.storage, "--json")
    assert orjson.loads(status.stdout)["state"] == "crashed", status.stdout
    resumed = agijobs("runner", "start", "--storage", backend.storage)
    assert resumed.returncode == 0, resumed.stderr
    expected = reference["crash-resume"]
    assert backend.events() == (expected / "events.ndjson").read_bytes()
    assert backend.checkpoint() == (expected / "checkpoint.json").read_bytes()


def test_a_tampered_event_fails_the_audit_and_changes_nothing(backend: Backend) -> None:
    result = agijobs("run", str(CRASH_SCENARIO), "--storage", backend.storage)
    assert result.returncode == 0, result.stderr
    backend.tamper_event(12, b'"tick":', b'"tick":1')
    before = backend.snapshot()
    audit = agijobs("audit", "--storage", backend.storage)
    assert audit.returncode == 3, audit.stdout + audit.stderr
    assert "line 12 (seq 12): hash does not match" in audit.stderr
    for command in (
        ["status"],
        ["pause-all", "--reason", "x"],
        ["resume", "--reason", "x"],
        ["runner", "start"],
    ):
        refused = agijobs(*command, "--storage", backend.storage)
        assert refused.returncode == 3, (command, refused.stdout + refused.stderr)
    assert backend.snapshot() == before


# ------------------------------------------------------------------ concurrency


def _set_latency(storage: str, i: int) -> subprocess.Popen[str]:
    return spawn(
        "set-latency",
        *("--shard", "earth", "--ms", str(100 + i), "--reason", f"concurrent {i}"),
        *("--actor", f"op-{i:02d}", "--timeout", "60", "--storage", storage, "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _issue_all(storage: str, count: int = COMMANDS) -> list[dict[str, Any]]:
    processes = [_set_latency(storage, i) for i in range(count)]
    outputs = [process.communicate(timeout=120) for process in processes]
    failed = [
        out + err
        for process, (out, err) in zip(processes, outputs, strict=True)
        if process.returncode != 0
    ]
    assert not failed, failed[0]
    return [orjson.loads(out) for out, _ in outputs]


def _check_exactly_once(backend: Backend, acks: list[dict[str, object]], mode: str) -> None:
    events = [e for e in backend.event_list() if e["type"] == "owner.set-latency"]
    actors = [e["data"]["input"]["actor"] for e in events]
    assert sorted(actors) == [f"op-{i:02d}" for i in range(COMMANDS)]  # none lost, none twice
    assert all(ack["mode"] == mode for ack in acks)
    by_actor = {e["data"]["input"]["actor"]: e for e in events}
    for i, ack in enumerate(acks):
        assert by_actor[f"op-{i:02d}"]["tick"] == ack["tick"]
        # The acknowledgement names the log's [before, after] pair.
        effect = by_actor[f"op-{i:02d}"]["data"]["effect"]
        assert named_effect("owner.set-latency", effect) == ack["effect"]
    budgets = [e["data"]["effect"]["budget_ms"] for e in events]
    for earlier, later in itertools.pairwise(budgets):
        assert later[0] == earlier[1]  # one total order
    audited = agijobs("audit", "--replay", "--storage", backend.storage)
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_twenty_concurrent_commands_against_a_live_run_apply_exactly_once(
    backend: Backend, tmp_path: Path
) -> None:
    data = scenario_dict(schedule=[{"tick": 1, "command": "pause-all", "reason": "hold"}])
    scenario = write_scenario(tmp_path / "s.yaml", data)
    runner = spawn("run", str(scenario), "--storage", backend.storage, "--wait")
    try:
        deadline = time.monotonic() + 30
        while not _live(backend):
            assert runner.poll() is None, "the runner stopped"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        acks = _issue_all(backend.storage)
        resumed = agijobs("resume", "--reason", "go", "--storage", backend.storage)
        assert resumed.returncode == 0, resumed.stderr
        assert runner.wait(timeout=60) == 0
    finally:
        runner.kill()
    _check_exactly_once(backend, acks, "live")
    store = backend.store()
    assert len({entry["id"] for entry in store.read_journal()}) == COMMANDS + 1  # + resume
    store.close()


def _live(backend: Backend) -> bool:
    store = backend.store()
    try:
        return store.read_document("live.json") is not None
    finally:
        store.close()


def test_twenty_concurrent_commands_at_rest_are_serialized(
    backend: Backend, tmp_path: Path
) -> None:
    scenario = write_scenario(tmp_path / "s.yaml", scenario_dict())
    stopped = agijobs("run", str(scenario), "--storage", backend.storage, "--stop-after-ticks", "2")
    assert stopped.returncode == 0, stopped.stderr
    acks = _issue_all(backend.storage)
    _check_exactly_once(backend, acks, "at-rest")
    checkpoint = orjson.loads(backend.checkpoint() or b"{}")
    last = [e for e in backend.event_list() if e["type"] == "owner.set-latency"][-1]
    earth = next(s for s in checkpoint["state"]["shards"] if s["id"] == "earth")
    assert earth["budget_ms"] == last["data"]["effect"]["budget_ms"][1]


def test_after_a_crash_concurrent_commands_apply_at_rest_not_into_a_dead_inbox(
    backend: Backend, tmp_path: Path
) -> None:
    """A dead runner's run.json still says "runner": while one command holds the lock to
    apply at rest, the others must wait for it, not queue for a runner that is gone."""
    scenario = write_scenario(tmp_path / "s.yaml", scenario_dict())
    crashed = agijobs("run", str(scenario), "--storage", backend.storage, AGIJOBS_CRASH_AT_TICK="3")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    acks = _issue_all(backend.storage, count=4)
    assert [ack["mode"] for ack in acks] == ["at-rest"] * 4
    store = backend.store()
    assert store.pending_commands() == []
    store.close()


def test_exporting_a_live_run_copies_its_last_checkpoint_consistently(
    backend: Backend, tmp_path: Path
) -> None:
    # Planetary runs 828 ticks: paced at 5 ms a tick it is live for seconds, long enough
    # for four exports (each a whole CLI process) to race its checkpoints.
    planetary = str(SCENARIOS / "planetary.yaml")
    runner = spawn("run", planetary, "--storage", backend.storage, "--tick-ms", "5")
    try:
        copies = []
        deadline = time.monotonic() + 60
        while len(copies) < 4:
            assert time.monotonic() < deadline and runner.poll() is None
            if backend.committed_events() < 200:
                time.sleep(0.05)
                continue
            out = tmp_path / f"copy{len(copies)}"
            result = agijobs("export", "--storage", backend.storage, str(out))
            assert result.returncode == 0, result.stderr
            copies.append(out)
    finally:
        runner.kill()
        runner.wait()
    for out in copies:
        audit = agijobs("audit", "--storage", str(out))
        assert audit.returncode == 0, audit.stderr
        checkpoint = orjson.loads((out / "checkpoint.json").read_bytes())
        assert (out / "events.ndjson").read_bytes().count(b"\n") >= checkpoint["seq"]
