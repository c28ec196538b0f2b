"""The witnesses a run publishes its heads to: standard output, a file, another PostgreSQL
database; what is refused (a witness the storage's own hands would hold), and a witness
that cannot be written (a clear error, the run stopped cleanly and resumable)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from agijobs import Fabric
from agijobs.errors import WitnessUnavailable
from agijobs.run.lifecycle import start_run
from agijobs.run.runner import Outcome, RunOptions
from agijobs.scenario.loading import load_plan
from agijobs.store import open_store

from ..helpers import agijobs, cli, scenario_dict, start, wait_for, write_scenario

WORKLOAD = [
    {
        "prefix": "f",
        "shard": "earth",
        "skills": ["finance"],
        "count": 30,
        "duration": 2,
        "value": 100,
        "arrive": {"start": 1, "per_tick": 3},
    }
]
# (seq, tick, ended) of the heads this scenario's run publishes, checkpoint_every 5.
HEADS = [(1, 0, False), (39, 5, False), (79, 10, False), (91, 13, True)]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    return write_scenario(tmp_path / "scenario.yaml", scenario_dict(workload=WORKLOAD))


def heads(lines: bytes) -> list[tuple[int, int, bool]]:
    return [(r["seq"], r["tick"], r["ended"]) for r in map(orjson.loads, lines.splitlines())]


# ------------------------------------------------------------------ standard output


def test_the_stdout_witness_is_stdout_and_the_summary_goes_to_stderr(
    scenario: Path, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    result = cli("run", str(scenario), "--witness", "-", "--storage", str(storage))
    assert result.exit_code == 0, result.output
    assert heads(result.stdout.encode()) == HEADS  # nothing else on stdout
    assert "finished at tick 13\n" in result.stderr
    assert "chain head: " in result.stderr
    (tmp_path / "kept.ndjson").write_text(result.stdout)
    audited = cli("audit", "--storage", str(storage), "--witness", str(tmp_path / "kept.ndjson"))
    assert audited.exit_code == 0, audited.output


def test_the_stdout_witness_is_refused_with_json(scenario: Path, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    result = cli("run", str(scenario), "--witness", "-", "--json", "--storage", str(storage))
    assert result.exit_code == 2, result.output
    assert orjson.loads(result.stdout) == {
        "api_version": "agijobs/v1",
        "kind": "Error",
        "error": {
            "code": "bad-input",
            "exit_code": 2,
            "message": "--witness -: not with --json (both would take standard output) — "
            "publish to a file (--witness FILE), or drop --json",
        },
    }
    assert not storage.exists()


def test_resume_publishes_to_the_stdout_witness_too(scenario: Path, tmp_path: Path) -> None:
    storage = str(tmp_path / "storage")
    first = cli("run", str(scenario), "--stop-after-ticks", "7", "--witness", "-",
                "--storage", storage)  # fmt: skip
    assert first.exit_code == 0, first.output
    rest = cli("resume", "--witness", "-", "--storage", storage)
    assert rest.exit_code == 0, rest.output
    # The stop at tick 7 is a head; the resumed run publishes from there (no new event
    # before tick 10's checkpoint: resume lifts no pause here).
    assert heads(first.stdout.encode()) == [(1, 0, False), (39, 5, False), (55, 7, False)]
    assert heads(rest.stdout.encode()) == [(79, 10, False), (91, 13, True)]
    assert "finished at tick 13\n" in rest.stderr


# ------------------------------------------------------------------ a file


def test_a_file_witness_is_appended_to_and_names_the_storage(
    scenario: Path, tmp_path: Path
) -> None:
    witness = tmp_path / "witness.ndjson"
    witness.write_bytes(b'{"kept": "what was there"}\n')
    storage = tmp_path / "storage"
    result = cli("run", str(scenario), "--witness", str(witness), "--storage", str(storage))
    assert result.exit_code == 0, result.output
    kept, *published = witness.read_bytes().splitlines(keepends=True)
    assert kept == b'{"kept": "what was there"}\n'
    assert heads(b"".join(published)) == HEADS
    assert {orjson.loads(line)["storage"] for line in published} == {str(storage)}


def test_a_relative_storage_is_named_by_its_absolute_path(
    scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("run", str(scenario), "--witness", "w.ndjson", "--storage", "storage")
    assert result.exit_code == 0, result.output
    first = orjson.loads((tmp_path / "w.ndjson").read_bytes().splitlines()[0])
    assert first["storage"] == str(tmp_path / "storage")


def test_a_witness_inside_the_storage_is_refused(scenario: Path, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    for inside in (storage / "witness.ndjson", storage / "sub" / ".." / "w.ndjson", storage):
        result = cli("run", str(scenario), "--witness", str(inside), "--storage", str(storage))
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"Error: --witness: {inside} is inside the storage directory {storage} — name a "
            "file the storage's writers cannot reach (another disk, host or account): a "
            "witness held by the same hands proves nothing\n"
        )
        assert not storage.exists()  # nothing was written
    cli("run", str(scenario), "--storage", str(storage))
    audited = cli("audit", "--witness", str(storage / "events.ndjson"), "--storage", str(storage))
    assert audited.exit_code == 2, audited.output
    assert "is inside the storage directory" in audited.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_witness_in_a_read_only_directory_is_a_clear_error(
    scenario: Path, tmp_path: Path
) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o555)
    storage = tmp_path / "storage"
    witness = closed / "witness.ndjson"
    result = cli("run", str(scenario), "--witness", str(witness), "--storage", str(storage))
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: witness {witness}: cannot open it to append (Permission denied) — check the "
        "path, its permissions and free space; nothing was written\n"
    )
    assert not storage.exists()


def test_a_witness_that_cannot_be_opened_is_a_clear_error(scenario: Path, tmp_path: Path) -> None:
    """Under a file, not a directory: as root too, nothing can be created there."""
    (tmp_path / "a-file").write_text("")
    storage = tmp_path / "storage"
    witness = tmp_path / "a-file" / "witness.ndjson"
    result = cli("run", str(scenario), "--witness", str(witness), "--storage", str(storage))
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: witness {witness}: cannot open it to append (Not a directory) — check the "
        "path, its permissions and free space; nothing was written\n"
    )
    assert not storage.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_witness_that_cannot_be_written_stops_the_run_cleanly(
    scenario: Path, tmp_path: Path
) -> None:
    """Every write to /dev/full fails (ENOSPC): the run stops at its first checkpoint,
    cleanly, and `resume` continues it once the witness is mended."""
    storage = tmp_path / "storage"
    result = cli("run", str(scenario), "--witness", "/dev/full", "--storage", str(storage))
    assert result.exit_code == 4, result.output
    head = orjson.loads((storage / "events.ndjson").read_bytes())["hash"]
    assert result.stderr == (
        "Error: witness /dev/full: cannot append (No space left on device); the run stopped "
        f"at tick 0, its checkpoint (seq 1, head {head}) durable in the storage but not in "
        "the witness — mend the witness, then `agijobs resume --witness /dev/full` continues "
        "the run\n"
    )
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert (summary["status"], summary["reason"], summary["seq"]) == (
        "stopped",
        "witness-unavailable",
        1,
    )
    status = orjson.loads(cli("status", "--json", "--storage", str(storage)).stdout)
    assert status["state"] == "stopped"
    witness = tmp_path / "mended.ndjson"
    resumed = cli("resume", "--witness", str(witness), "--storage", str(storage))
    assert resumed.exit_code == 0, resumed.output
    assert heads(witness.read_bytes()) == HEADS[1:]


class FailingWitness:
    """Publishes `good` heads, then fails as a full disk does."""

    name = "failing"
    storage = "(test)"

    def __init__(self, good: int) -> None:
        self.good = good
        self.published: list[dict[str, Any]] = []

    def publish(self, record: dict[str, Any]) -> None:
        if len(self.published) == self.good:
            raise WitnessUnavailable("witness failing: cannot append (No space left on device)")
        self.published.append(record)

    def records(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


def test_a_witness_failing_mid_run_stops_it_at_that_checkpoint(
    scenario: Path, tmp_path: Path
) -> None:
    """The third head (tick 10) cannot be published: no tick runs after its checkpoint, and
    the run resumes to the same end as an uninterrupted one."""
    storage = tmp_path / "storage"
    store = open_store(str(storage))
    witness = FailingWitness(good=2)
    with pytest.raises(WitnessUnavailable) as stopped:
        start_run(store, load_plan(scenario), str(scenario), RunOptions(witness=witness))
    assert stopped.value.message.startswith(
        "witness failing: cannot append (No space left on device); the run stopped at tick 10, "
        "its checkpoint (seq 79, head "
    )
    assert [(r["seq"], r["tick"]) for r in witness.published] == [(1, 0), (39, 5)]
    checkpoint = orjson.loads((storage / "checkpoint.json").read_bytes())
    assert (checkpoint["seq"], checkpoint["tick"]) == (79, 10)
    assert len((storage / "events.ndjson").read_bytes().splitlines()) == 79
    sessions = [
        orjson.loads(line) for line in (storage / "sessions.ndjson").read_bytes().splitlines()
    ]
    assert [(s["event"], s.get("reason")) for s in sessions] == [
        ("started", None),
        ("stopped", "witness-unavailable"),
    ]
    outcome = Fabric(str(storage)).resume()
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.summary["seq"]) == ("finished", 91)
    replay = Fabric(str(storage)).audit().replay
    assert replay is not None and replay["summary"] == "identical"


def test_resume_to_a_live_runner_keeps_the_witness_it_was_started_with(tmp_path: Path) -> None:
    """A --wait runner, paused and idle at tick 1, has published that head; `resume
    --witness` sent to it says the runner keeps its own witness, which gets the end."""
    data = scenario_dict(schedule=[{"tick": 1, "command": "pause-all", "reason": "hold"}])
    scenario, storage = write_scenario(tmp_path / "s.yaml", data), tmp_path / "storage"
    witness, other = tmp_path / "witness.ndjson", tmp_path / "other.ndjson"
    runner = start("run", str(scenario), "--wait", "--witness", str(witness),
                   "--storage", str(storage))  # fmt: skip
    try:
        wait_for(storage / "checkpoint.json")
        deadline = time.monotonic() + 30
        while len(witness.read_bytes().splitlines()) < 2:  # seq 1, then the paused tick 1
            assert time.monotonic() < deadline, witness.read_bytes()
            time.sleep(0.05)
        resumed = agijobs("resume", "--witness", str(other), "--storage", str(storage))
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stderr == (
            f"Notice: --witness {other}: a runner is live; it publishes to the witness it was "
            "started with\n"
        )
        assert runner.wait(timeout=30) == 0
    finally:
        runner.kill()
    assert not other.exists()
    held = [orjson.loads(line) for line in witness.read_bytes().splitlines()]
    assert [(r["tick"], r["ended"]) for r in held[:2]] == [(0, False), (1, False)]
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert (held[-1]["seq"], held[-1]["ended"]) == (summary["seq"], True)


# ------------------------------------------------------------------ PostgreSQL


def test_a_postgresql_witness(scenario: Path, tmp_path: Path, pg_server: str) -> None:
    """A table in another database: a row per head, read back by the audit."""
    import psycopg

    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS witness_heads")
        conn.execute("CREATE DATABASE witness_heads")
    witness = pg_server.rsplit("/", 1)[0] + "/witness_heads"
    storage = tmp_path / "storage"
    result = cli("run", str(scenario), "--witness", witness, "--storage", str(storage))
    assert result.exit_code == 0, result.output
    with psycopg.connect(witness) as conn:
        rows = conn.execute(
            "SELECT seq, tick, ended, storage, head FROM agijobs_witness ORDER BY n"
        ).fetchall()
    assert [row[:3] for row in rows] == HEADS
    assert {row[3] for row in rows} == {str(storage)}
    audited = cli("audit", "--witness", witness, "--json", "--storage", str(storage))
    assert audited.exit_code == 0, audited.output
    report = orjson.loads(audited.stdout)["witness"]
    assert (report["source"], report["records"], report["proved_seq"]) == (witness, 4, 91)
    with psycopg.connect(witness, autocommit=True) as conn:  # a head taken back
        conn.execute("DELETE FROM agijobs_witness WHERE seq = 91")
        conn.execute("UPDATE agijobs_witness SET head = %s WHERE seq = 79", ("b" * 64,))
    refused = cli("audit", "--witness", witness, "--storage", str(storage))
    assert refused.exit_code == 3, refused.output
    assert refused.stderr.startswith(
        f"Error: {storage}/events.ndjson: line 79 has hash {rows[2][4]}, but the witness "
        f"{witness} row 3 holds head {'b' * 64} at seq 79 (tick 10): a line from 40 to 79 "
        "was rewritten after that head was published"
    )


def test_a_postgresql_witness_with_no_heads_table_is_bad_input_to_audit(
    scenario: Path, tmp_path: Path, pg_server: str
) -> None:
    import psycopg

    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS witness_none")
        conn.execute("CREATE DATABASE witness_none")
    witness = pg_server.rsplit("/", 1)[0] + "/witness_none"
    storage = tmp_path / "storage"
    assert cli("run", str(scenario), "--storage", str(storage)).exit_code == 0
    result = cli("audit", "--witness", witness, "--storage", str(storage))
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: --witness: {witness} has no table agijobs_witness — name the database the "
        "run published its heads to\n"
    )


def test_a_postgresql_witness_in_the_storage_database_is_refused(
    scenario: Path, pg_url: str
) -> None:
    base = pg_url.split("?", 1)[0]
    result = cli("run", str(scenario), "--witness", base, "--storage", pg_url)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: --witness: {base} is the storage's own database — name another database "
        "(best: another server, under other credentials): a witness held by the same hands "
        "proves nothing\n"
    )
    named = cli("run", str(scenario), "--witness", f"{base}?fabric=w", "--storage", pg_url)
    assert named.exit_code == 2, named.output
    assert named.stderr == (
        f"Error: --witness: {base}?fabric=w names a fabric — a witness database takes none "
        "(its rows name the storage and run): drop ?fabric=\n"
    )


def test_a_postgresql_witness_that_cannot_be_reached(scenario: Path, tmp_path: Path) -> None:
    witness = "postgresql://nobody@127.0.0.1:1/witness"
    storage = tmp_path / "storage"
    result = cli("run", str(scenario), "--witness", witness, "--storage", str(storage))
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith(f"Error: witness {witness}: cannot use it (")
    assert result.stderr.endswith(
        ") — check the URL, that the server is up and that the user may read and insert "
        "into agijobs_witness\n"
    )
    assert "Traceback" not in result.output
    assert not storage.exists()
