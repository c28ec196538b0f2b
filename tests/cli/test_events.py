"""`agijobs events`: the log as lines for humans or as the stored lines (NDJSON), filtered;
`--follow` against a live runner; and `audit`'s timeline filters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ..contract_check import check_output
from ..helpers import cli, wait_for


def test_owner_events_as_text(finished: Path) -> None:
    result = cli("events", "--type", "owner.", "--storage", str(finished))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "tick 4 · seq 24 · owner.pause-all · pause-all by Owner — drill: fabric paused\n"
        "tick 8 · seq 40 · owner.resume · resume by Owner — drill over: pause lifted\n"
    )


def test_filters_combine_with_and(finished: Path) -> None:
    result = cli(
        "events", "--node", "earth.a", "--type", "job.completed", "--since-tick", "15",
        "--storage", str(finished),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "tick 15 · seq 86 · job.completed · job=f-000025 node=earth.a shard=earth\n"
        "tick 15 · seq 88 · job.completed · job=f-000027 node=earth.a shard=earth\n"
        "tick 17 · seq 93 · job.completed · job=f-000030 node=earth.a shard=earth\n"
    )
    several = cli(
        "events", "--job", "f-000010", "--type", "job.submitted", "--type", "job.completed",
        "--storage", str(finished),
    )  # fmt: skip
    assert several.stdout == (
        "tick 4 · seq 25 · job.submitted · job=f-000010 shard=earth value=100\n"
        "tick 9 · seq 53 · job.completed · job=f-000010 node=earth.a shard=earth\n"
    )


def test_json_is_the_stored_lines_one_a_line(finished: Path) -> None:
    stored = (finished / "events.ndjson").read_bytes()
    everything = cli("events", "--json", "--storage", str(finished))
    assert everything.exit_code == 0, everything.output
    assert everything.stdout.encode() == stored
    job = cli("events", "--json", "--job", "f-000010", "--storage", str(finished))
    assert job.stdout.encode() == b"".join(
        line + b"\n" for line in stored.splitlines() if b'"job":"f-000010"' in line
    )
    assert [orjson.loads(line)["seq"] for line in job.stdout.splitlines()] == [25, 45, 53]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--shard",
            "eart",
            "Error: --shard: no shard `eart` in this run; did you mean `earth`? — name one of "
            "its shards: earth, luna\n",
        ),
        (
            "--node",
            "eart.a",
            "Error: --node: no node `eart.a` in this run; did you mean `earth.a`? — name one "
            "of its nodes: earth.a, earth.b, luna.c\n",
        ),
    ],
)
def test_an_unknown_shard_or_node_is_refused_with_a_did_you_mean(
    finished: Path, option: str, value: str, message: str
) -> None:
    result = cli("events", option, value, "--storage", str(finished))
    assert result.exit_code == 2, result.output
    assert (result.stdout, result.stderr) == ("", message)
    as_json = cli("events", option, value, "--json", "--storage", str(finished))
    assert as_json.exit_code == 2, as_json.output
    document = orjson.loads(as_json.stdout)  # one document: the refusal
    assert (document["kind"], document["error"]["code"]) == ("Error", "bad-input")


def test_events_of_no_run(storage: Path) -> None:
    storage.mkdir()
    result = cli("events", "--storage", str(storage))
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: no run in {storage} — start one with `agijobs run SCENARIO`\n"
    )


def test_follow_without_a_live_runner_prints_the_log_and_says_so(finished: Path) -> None:
    result = cli("events", "--follow", "--type", "owner.resume", "--storage", str(finished))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "tick 8 · seq 40 · owner.resume · resume by Owner — drill over: pause lifted\n"
    )
    assert result.stderr == (
        f"Notice: no live run in {finished} to follow; printed the log as it is\n"
    )


def beside_a_live_run(
    scenario_file: Path, storage: Path, *command: str
) -> subprocess.CompletedProcess[bytes]:
    """`agijobs COMMAND`, started once a paced runner of `scenario_file` is live in another
    process, and left to end on its own when the runner stops."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "agijobs", "run", str(scenario_file), "--storage", str(storage),
         "--tick-ms", "250"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(storage / "live.json")
        done = subprocess.run(
            [sys.executable, "-m", "agijobs", *command, "--storage", str(storage)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert runner.wait(timeout=60) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
    return done


def test_follow_tails_a_live_run_to_its_end(scenario_file: Path, storage: Path) -> None:
    # The follower starts while the run is live and ends on its own once the runner
    # stops, having printed every line.
    follower = beside_a_live_run(scenario_file, storage, "events", "--follow", "--json")
    assert follower.returncode == 0, follower.stderr
    assert follower.stderr == b""  # it did follow a live runner
    assert follower.stdout == (storage / "events.ndjson").read_bytes()


def test_status_watch_json_streams_status_documents(scenario_file: Path, storage: Path) -> None:
    watched = beside_a_live_run(scenario_file, storage, "status", "--watch", "--json")
    assert watched.returncode == 0, watched.stderr
    check_output(["status", "--watch", "--json"], watched.stdout.decode())
    documents = [orjson.loads(line) for line in watched.stdout.splitlines()]
    assert len(documents) >= 2
    assert {(d["api_version"], d["kind"]) for d in documents} == {("agijobs/v1", "Status")}
    assert all(d["state"].startswith("running") for d in documents[:-1])
    ticks = [d["tick"] for d in documents[:-1]]
    assert ticks == sorted(ticks)
    assert (documents[-1]["state"], documents[-1]["tick"]) == ("finished", 17)


def test_status_watch_json_of_a_run_at_rest_is_its_status(finished: Path) -> None:
    result = cli("status", "--watch", "--json", "--storage", str(finished))
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    document = orjson.loads(line)
    assert (document["kind"], document["state"], document["tick"]) == ("Status", "finished", 17)


def test_audit_filters_choose_timeline_rows_never_what_is_proved(finished: Path) -> None:
    whole = orjson.loads(cli("audit", "--json", "--storage", str(finished)).stdout)
    result = cli(
        "audit", "--json", "--command", "resume", "--actor", "Owner", "--since-tick", "5",
        "--until-tick", "8", "--storage", str(finished),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cut = orjson.loads(result.stdout)
    assert [(g["tick"], g["command"]) for g in cut["governance"]] == [(8, "resume")]
    assert cut["timeline_filter"] == {
        "actor": "Owner",
        "command": "resume",
        "since_tick": 5,
        "until_tick": 8,
        "rows": 1,
        "of": 2,
    }
    assert "timeline_filter" not in whole  # said only when the timeline was cut
    same = ("proved", "not_proved", "events", "head", "conservation", "replay")
    assert {k: cut[k] for k in same} == {k: whole[k] for k in same}
    text = cli("audit", "--until-tick", "4", "--storage", str(finished))
    assert text.exit_code == 0, text.output
    assert (
        "governance timeline (only until_tick 4: 1 of 2 rows; the whole run was proved)"
        in text.stdout
    )
    assert "drill over" not in text.stdout


def test_audit_refuses_a_window_that_ends_before_it_starts(finished: Path) -> None:
    result = cli("audit", "--since-tick", "9", "--until-tick", "3", "--storage", str(finished))
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: --since-tick 9 is after --until-tick 3 — give a since tick at or before the "
        "until tick\n"
    )


def test_ctrl_c_leaves_a_follow_with_130(scenario_file: Path, storage: Path) -> None:
    import signal

    runner = subprocess.Popen(
        [sys.executable, "-m", "agijobs", "run", str(scenario_file), "--storage", str(storage),
         "--tick-ms", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(storage / "live.json")
        follower = subprocess.Popen(
            [sys.executable, "-m", "agijobs", "events", "--follow", "--storage", str(storage)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert follower.stdout is not None
        first = follower.stdout.readline()  # it has started printing: it is following
        assert first.startswith(b"tick 0 \xc2\xb7 seq 1 \xc2\xb7 run.started")
        follower.send_signal(signal.SIGINT)
        _, told = follower.communicate(timeout=30)
        assert follower.returncode == 130, told
        assert told == b""  # it followed a live run, and left without a traceback
        assert runner.poll() is None  # the runner goes on
    finally:
        runner.kill()
        runner.wait()
