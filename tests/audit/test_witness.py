"""`audit --witness`: the log must extend every head the run published outside the storage.

Each forgery here passes the plain audit — it re-chains the log and re-seals the checkpoint
with the project's own encoders, or writes with the project's own recorder — and only the
witness tells it apart: a rewritten owner command's input (open mode), a log truncated to a
consistent earlier run, an owner command appended after the run's end.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from agijobs.cli import app
from agijobs.fabric.inputs import CommandInput
from agijobs.ledger.canonical import dumps
from agijobs.run.loading import load_run
from agijobs.run.recorder import Recorder
from agijobs.store import open_store

from ..helpers import cli, scenario_dict, write_scenario
from .forgery import events, forge_event

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


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run that published its heads to `witness.ndjson` beside its storage: run
    to tick 2, `pause-all` at rest by alice (open mode: its actor is as claimed), lifted at rest,
    and the runner started again to the end."""
    root = tmp_path_factory.mktemp("witnessed")
    scenario = write_scenario(root / "scenario.yaml", scenario_dict(workload=WORKLOAD))
    storage, witness = str(root / "storage"), str(root / "witness.ndjson")
    steps = [
        ("run", str(scenario), "--stop-after-ticks", "2"),
        ("pause-all", "--reason", "drill", "--actor", "alice"),
        ("resume", "--reason", "drill over"),
        ("runner", "start"),
    ]
    for step in steps:
        extra = ("--witness", witness) if step[0] in ("run", "runner") else ()
        result = cli(*step, *extra, "--storage", storage)
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def run(witnessed: Path, tmp_path: Path) -> Path:
    """A copy of the witnessed run (storage/ and witness.ndjson) to forge."""
    shutil.copytree(witnessed, tmp_path / "run")
    return tmp_path / "run"


def records(root: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (root / "witness.ndjson").read_bytes().splitlines()]


def audit(root: Path, *options: str) -> Any:
    return cli("audit", "--storage", str(root / "storage"), *options)


def witnessed_audit(root: Path, *options: str) -> Any:
    return audit(root, "--witness", str(root / "witness.ndjson"), *options)


def test_the_runner_published_a_head_at_every_checkpoint(run: Path) -> None:
    held = records(run)
    checkpoint = orjson.loads((run / "storage" / "checkpoint.json").read_bytes())
    stored = events(run / "storage")
    run_id = orjson.loads((run / "storage" / "run.json").read_bytes())["run_id"]
    assert [(r["seq"], r["tick"], r["ended"]) for r in held] == [
        (1, 0, False),  # run.started
        (15, 2, False),  # stopped after tick 2 (alice's pause-all and its lift, 16 and 17,
        (41, 5, False),  # at rest, are held from the next head the runner publishes)
        (81, 10, False),
        (93, 13, True),  # finished: the last head
    ]
    for record in held:
        assert set(record) == {
            "ended",
            "format",
            "head",
            "integrity",
            "published_at",
            "run_id",
            "seq",
            "storage",
            "tick",
        }
        assert record["head"] == stored[record["seq"] - 1]["hash"]
        assert (record["run_id"], record["format"]) == (run_id, 1)
    assert held[-1]["integrity"] == checkpoint["integrity"]


def test_an_untouched_run_audits_against_its_witness(run: Path) -> None:
    result = witnessed_audit(run)
    assert result.exit_code == 0, result.output
    assert (
        f"witness: {run}/witness.ndjson — 5 head(s) of this run, up to seq 93; the run's end "
        "at seq 93: the log extends every one\n"
    ) in result.stdout
    assert (
        "proved: the log extends every head the witness holds for this run (5 record(s), up "
        "to seq 93); nothing follows the end it holds\n"
    ) in result.stdout
    report = orjson.loads(witnessed_audit(run, "--json").stdout)
    assert report["witness"] == {
        "source": f"{run}/witness.ndjson",
        "run_id": records(run)[0]["run_id"],
        "records": 5,
        "proved_seq": 93,
        "ended_seq": 93,
        "other_runs_records": 0,
    }
    quick = witnessed_audit(run, "--quick", "--json")
    assert quick.exit_code == 0, quick.output
    assert orjson.loads(quick.stdout)["witness"]["proved_seq"] == 93


def test_a_rewritten_owner_command_derives_but_breaks_a_witnessed_head(run: Path) -> None:
    storage = run / "storage"
    seq = next(s for s, e in enumerate(events(storage), 1) if e["type"] == "owner.pause-all")
    assert forge_event(storage, seq, ("data", "input", "actor")) == ("alice", "alicex")
    _reseal_summary(storage)
    plain = audit(run)
    assert plain.exit_code == 0, plain.output  # open mode: the forged actor derives
    assert "│ 2    │ pause-all │ alicex │ drill" in plain.stdout
    result = witnessed_audit(run)
    assert result.exit_code == 3, result.output
    forged = events(storage)[40]["hash"]
    head = records(run)[2]["head"]
    assert result.stderr == (
        f"Error: {storage}/events.ndjson: line 41 has hash {forged}, but the witness "
        f"{run}/witness.ndjson line 3 holds head {head} at seq 41 (tick 5): a line from 16 to "
        "41 was rewritten after that head was published — restore the log from a backup "
        "whose line 41 hashes to that head (lines 1 to 15 match the witness)\n"
    )


def _reseal_summary(storage: Path) -> None:
    """What a forger does to summary.json after re-chaining: the new head and digest."""
    log = (storage / "events.ndjson").read_bytes()
    summary = orjson.loads((storage / "summary.json").read_bytes())
    summary["head"] = orjson.loads(log.splitlines()[-1])["hash"]
    summary["events_digest"] = hashlib.sha256(log).hexdigest()
    (storage / "summary.json").write_bytes(dumps(summary) + b"\n")


def test_a_log_truncated_before_a_witnessed_head_is_refused(tmp_path: Path) -> None:
    """The forger replaces a finished run by an earlier point of it: the same plan run
    again and stopped at tick 7, whose log is the original's first lines and whose
    checkpoint, job table and summary are the runner's own, with the original run.json."""
    scenario = write_scenario(tmp_path / "scenario.yaml", scenario_dict(workload=WORKLOAD))
    storage, witness = tmp_path / "storage", tmp_path / "witness.ndjson"
    done = cli("run", str(scenario), "--witness", str(witness), "--storage", str(storage))
    assert done.exit_code == 0, done.output
    earlier = tmp_path / "earlier"
    made = cli("run", str(scenario), "--stop-after-ticks", "7", "--storage", str(earlier))
    assert made.exit_code == 0, made.output
    shutil.copy(storage / "run.json", earlier / "run.json")
    shutil.rmtree(storage)
    earlier.rename(storage)
    plain = audit(tmp_path)
    assert plain.exit_code == 0, plain.output
    result = witnessed_audit(tmp_path)
    assert result.exit_code == 3, result.output
    held = records(tmp_path)
    assert [(r["seq"], r["tick"]) for r in held] == [(1, 0), (39, 5), (79, 10), (91, 13)]
    assert result.stderr == (
        f"Error: {storage}/events.ndjson: 55 line(s), but the witness {witness} line 3 holds "
        f"head {held[2]['head']} at seq 79 (tick 10): lines were deleted after that head was "
        "published — restore the log and checkpoint from a backup that has them (the "
        "witness holds heads up to seq 91)\n"
    )


def test_an_owner_command_appended_after_the_end_is_refused(run: Path) -> None:
    """The forger applies a command at rest to the finished run with the project's own
    recorder (which `agijobs pause-all` would refuse): a new checkpoint covers it."""
    storage = run / "storage"
    store = open_store(str(storage))
    loaded = load_run(store)
    engine = loaded.engine()
    recorder = Recorder(store, loaded.plan, engine, loaded)
    sneaked = CommandInput("pause-all", {}, "quiet", "mallory", "at-rest", "2030-01-01T00:00:00Z")
    recorder.write(engine.state.tick, engine.apply_at_rest(sneaked))
    recorder.checkpoint()
    recorder.close()
    plain = audit(run)  # no command at rest is applied to an ended run: the derivation says so
    assert plain.exit_code == 3, plain.output
    assert plain.stderr == (
        "Error: events.ndjson: pause-all by mallory is recorded at rest at tick 13, after the "
        "run had ended there: owner commands at rest are refused once a run has ended — it was "
        "added to the log after the run: restore the log from a backup\n"
    )
    result = witnessed_audit(run)  # the derivation's verdict comes first
    assert result.exit_code == 3, result.output
    assert result.stderr == plain.stderr


def test_records_of_other_runs_are_ignored_with_a_note(run: Path) -> None:
    """A witness file kept across `run --fresh` holds the earlier runs' heads too."""
    witness = run / "witness.ndjson"
    other = {**records(run)[1], "run_id": "20250101T000000.000000-1-00000000"}
    witness.write_bytes(dumps(other) + b"\n" + witness.read_bytes())
    result = witnessed_audit(run)
    assert result.exit_code == 0, result.output
    assert f"note: the witness {witness} holds 1 record(s) of other runs, ignored\n" in (
        result.stdout
    )
    report = orjson.loads(witnessed_audit(run, "--json").stdout)
    assert (report["witness"]["records"], report["witness"]["other_runs_records"]) == (5, 1)


def test_a_witness_with_no_head_of_this_run_is_refused(run: Path) -> None:
    witness = run / "witness.ndjson"
    others = [{**r, "run_id": "20250101T000000.000000-1-00000000"} for r in records(run)]
    witness.write_bytes(b"".join(dumps(r) + b"\n" for r in others))
    result = witnessed_audit(run)
    assert result.exit_code == 3, result.output
    run_id = orjson.loads((run / "storage" / "run.json").read_bytes())["run_id"]
    assert result.stderr == (
        f"Error: the witness {witness} holds no head of run {run_id}, which "
        f"{run}/storage/run.json names (5 record(s) of other runs) — audit with the witness "
        "this run published to; if it is that one, the run was replaced or its run.json "
        "rewritten\n"
    )


HEAD = "a" * 64


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (dumps({"run_id": 7, "seq": 3, "tick": 0, "head": HEAD, "ended": False}),
         "run_id is not a string"),
        (dumps({"run_id": "r", "seq": 0, "tick": 0, "head": HEAD, "ended": False}),
         "seq is not a whole number from 1"),
        (dumps({"run_id": "r", "seq": 3, "tick": "0", "head": HEAD, "ended": False}),
         "tick is not a whole number"),
        (dumps({"run_id": "r", "seq": 3, "tick": 0, "head": "ABC", "ended": False}),
         "head is not 64 lowercase hex digits"),
        (dumps({"run_id": "r", "seq": 3, "tick": 0, "head": HEAD, "ended": 1}),
         "ended is not true or false"),
    ],
)  # fmt: skip
def test_a_damaged_witness_record_is_named(run: Path, line: bytes, problem: str) -> None:
    witness = run / "witness.ndjson"
    held = witness.read_bytes().splitlines(keepends=True)
    witness.write_bytes(held[0] + line + b"\n" + b"".join(held[1:]))
    result = witnessed_audit(run)
    assert result.exit_code == 3, result.output
    assert result.stderr == (
        f"Error: {witness} line 2: not a witness record ({problem}) — the witness was damaged "
        "or is not one: compare it with its own copies\n"
    )


def test_a_torn_last_record_is_one_not_witnessed(run: Path) -> None:
    """A runner that died writing a record left half a line: that head was not witnessed."""
    witness = run / "witness.ndjson"
    held = witness.read_bytes().splitlines(keepends=True)
    witness.write_bytes(b"".join(held[:-1]) + held[-1][:40])
    result = witnessed_audit(run, "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["witness"]["proved_seq"] == 81


def test_a_witness_that_does_not_exist_is_bad_input(run: Path) -> None:
    result = audit(run, "--witness", str(run / "missing.ndjson"))
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: --witness: {run}/missing.ndjson does not exist — name the file the run "
        "published its heads to\n"
    )


def test_audit_reads_the_witness_from_standard_input(run: Path) -> None:
    """`run --witness -` gives the records on stdout, for CI to keep; audit reads them back."""
    result = CliRunner().invoke(
        app,
        ["audit", "--storage", str(run / "storage"), "--witness", "-", "--json"],
        input=(run / "witness.ndjson").read_bytes(),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["witness"]["source"] == "<stdin>"
