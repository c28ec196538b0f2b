"""agijobs submit: jobs from JSON lines or YAML into a fabric, at rest or live, all or none,
each job id used once per run; recorded as an input, so that audit re-makes the run."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from agijobs.cli import app

from ..audit.forgery import events, rechain, reseal
from ..helpers import (
    cli,
    fabric_without,
    file_hashes,
    owner_events,
    scenario_dict,
    start,
    wait_for,
    write_scenario,
)

JOBS = (
    '{"shard": "earth", "skills": ["finance"], "duration": 2, "value": 50, "id": "hot-1"}\n'
    "\n"
    '{"shard": "luna", "skills": ["nav"], "duration": 1, "value": 5, "prefix": "rp", "count": 3}\n'
)
ACCEPTED = (
    "job.submit: 4 jobs accepted into earth (1), luna (3): hot-1, rp-000001 … rp-000003 "
    "(tick 2, fabric at rest)\n"
)
RESUBMIT = "a job id is used once per run (resubmitted, it is refused, never doubled)"


def luna(storage: Path) -> dict[str, object]:
    status = orjson.loads(cli("status", "--storage", str(storage), "--json").stdout)
    [shard] = [s for s in status["shards"] if s["id"] == "luna"]
    return dict(shard)


def submit(storage: Path, text: str, *args: str) -> object:
    return CliRunner().invoke(
        app,
        ["submit", "-", "--storage", str(storage), "--reason", "INC-9: replay", *args],
        input=text,
        catch_exceptions=False,
    )


def test_jobs_from_a_json_lines_file_join_the_fabric_at_rest(stopped: Path, tmp_path: Path) -> None:
    source = tmp_path / "jobs.ndjson"
    source.write_text(JOBS)
    result = cli(
        "submit", str(source), "--reason", "INC-9", "--actor", "alice", "--storage", str(stopped)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ACCEPTED
    [event] = owner_events(stopped)
    assert (event["type"], event["tick"]) == ("owner.job.submit", 2)
    assert event["data"]["input"]["args"] == {
        "jobs": [
            {"id": "hot-1", "shard": "earth", "skills": ["finance"], "duration": 2, "value": 50},
            {"prefix": "rp", "count": 3, "shard": "luna", "skills": ["nav"], "duration": 1,
             "value": 5},
        ]
    }  # fmt: skip
    submitted = [e["data"] for e in events(stopped) if e["seq"] > event["seq"]]
    assert submitted == [
        {"job": "hot-1", "shard": "earth", "value": 50},
        {"job": "rp-000001", "shard": "luna", "value": 5},
        {"job": "rp-000002", "shard": "luna", "value": 5},
        {"job": "rp-000003", "shard": "luna", "value": 5},
    ]
    assert luna(stopped)["queued"] == 3


@pytest.mark.parametrize(
    "text",
    [
        "- {shard: earth, skills: [finance], duration: 2, value: 50, id: hot-1}\n"
        "- {shard: luna, skills: [nav], duration: 1, value: 5, prefix: rp, count: 3}\n",
        "jobs:\n"
        "  - {shard: earth, skills: [finance], duration: 2, value: 50, id: hot-1}\n"
        "  - {shard: luna, skills: [nav], duration: 1, value: 5, prefix: rp, count: 3}\n",
    ],
)
def test_yaml_a_list_or_a_jobs_document_reads_as_json_lines_do(stopped: Path, text: str) -> None:
    result = submit(stopped, text)
    assert result.exit_code == 0, result.output
    assert result.stdout == ACCEPTED


def test_json_gives_one_acknowledgement_listing_the_ids(stopped: Path) -> None:
    result = submit(stopped, JOBS, "--json")
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    assert document == {
        "api_version": "agijobs/v1",
        "kind": "Acknowledgement",
        "command": "job.submit",
        "mode": "at-rest",
        "tick": 2,
        "event": "owner.job.submit",
        "effect": {
            "jobs": 4,
            "value": 65,
            "shards": {"earth": 1, "luna": 3},
            "ids": ["hot-1", "rp-000001", "rp-000002", "rp-000003"],
            "changed": True,
        },
        "id": None,
    }


LINE = '{"shard": "earth", "skills": ["finance"], "duration": 2, "id": "ok-1"}\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            LINE + '{"shard": "eartj", "skills": ["finance"], "duration": 2, "id": "x"}\n',
            "<stdin>: line 2 -> shard: unknown shard `eartj` — did you mean `earth`?",
        ),
        (
            LINE + '{"shard": "earth", "skills": ["finance"], "duration": 2, "id": "f-000004"}\n',
            f"<stdin>: line 2 -> id: job id `f-000004` is already used by the scenario's "
            f"workload — {RESUBMIT}: pick a new id",
        ),
        (
            LINE + '{"shard": "earth", "skills": ["finance"], "duration": 2, "prefix": "ok", '
            '"count": 2}\n' + LINE,
            f"<stdin>: line 3 -> id: job id `ok-1` is already used earlier in this batch — "
            f"{RESUBMIT}: pick a new id",
        ),
        (
            LINE + '{"shard": "earth", "skills": ["finance"], "duration": "2", "id": "x"}\n',
            "<stdin>: line 2 -> duration: Input should be a valid integer, not a string (write "
            "the number without quotes) (got '2') — fix the value(s) named above",
        ),
        (
            '{"shard": "earth", "skills": ["finance"], "duration": 2.0, "id": "x"}\n',
            "<stdin>: line 1 -> duration: Input should be a valid integer, written without a "
            "decimal point (got 2.0) — fix the value(s) named above",
        ),
        (
            '{"shard": "earth", "skills": ["finance"], "duration": 2, "value": -1, "id": "x"}\n',
            "<stdin>: line 1 -> value: Input should be greater than or equal to 0 (got -1) — "
            "fix the value(s) named above",
        ),
        (
            '{"shard": "earth", "skills": ["finance"], "duration": 2, "id": "x", "prefix": "p", '
            '"count": 2}\n',
            "<stdin>: line 1: give either `id` (one job) or `prefix` and `count`, not both — "
            "fix the value(s) named above",
        ),
        (
            '{"shard": "earth", "skills": ["finance"], "duration": 2, "prefix": "p", '
            '"count": 100001}\n',
            "<stdin>: line 1 -> count: Input should be less than or equal to 100000 (got "
            "100001) — fix the value(s) named above",
        ),
        (
            '{"shard": "earth", "skills": ["finance"], "duration": 2, "prefix": "p", '
            '"count": 60000}\n'
            '{"shard": "earth", "skills": ["finance"], "duration": 2, "prefix": "q", '
            '"count": 60000}\n',
            "<stdin>: (top level): 120,000 jobs in one submission, more than 100,000 "
            '(docs/scenario-format.md, "Limits"); split it — fix the value(s) named above',
        ),
        (
            '{"shard": "earth", "skills": ["finance"], "duration": 2, "id": "x", "note": "n"}\n',
            "<stdin>: line 1 -> note: unknown key — fix the value(s) named above",
        ),
        (
            LINE + "{not json}\n",
            "<stdin>: line 2: invalid JSON (unexpected character, expected a string key) — "
            'write one JSON object per line, e.g. {"shard": "earth", "skills": ["gpu"], '
            '"duration": 3, "value": 100, "id": "web-7"} (or "prefix": "web", "count": 50 '
            'instead of "id")',
        ),
        (
            "shard: earth\n",
            "<stdin>: expected a list of jobs or {jobs: [...]} (keys: shard) — one entry per "
            'job or group, e.g. {"shard": "earth", "skills": ["gpu"], "duration": 3, "value": '
            '100, "id": "web-7"} (or "prefix": "web", "count": 50 instead of "id")',
        ),
        (
            "[]\n",
            '<stdin>: no jobs — give one entry per job or group, e.g. {"shard": "earth", '
            '"skills": ["gpu"], "duration": 3, "value": 100, "id": "web-7"} (or "prefix": '
            '"web", "count": 50 instead of "id")',
        ),
        (
            "",
            "<stdin>: the file is empty — write a scenario or command (see "
            "docs/scenario-format.md)",
        ),
    ],
)
def test_a_bad_entry_refuses_the_whole_batch_and_changes_nothing(
    stopped: Path, text: str, message: str
) -> None:
    before = file_hashes(stopped)
    result = submit(stopped, text)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {message}\n"
    assert file_hashes(stopped) == before


def test_a_skill_no_node_has_is_named_with_a_did_you_mean(tmp_path: Path) -> None:
    data = scenario_dict(fabric=fabric_without("luna.c"))
    storage = tmp_path / "s"
    ran = cli("run", str(write_scenario(tmp_path / "s.yaml", data)), "--storage", str(storage),
              "--stop-after-ticks", "1")  # fmt: skip
    assert ran.exit_code == 0, ran.output
    before = file_hashes(storage)
    text = '{"shard": "luna", "skills": ["finanse"], "duration": 1, "id": "x"}\n'
    result = submit(storage, text)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: <stdin>: line 1 -> skills: no node has skill `finanse` — did you mean `finance`?\n"
    )
    assert file_hashes(storage) == before


def test_a_resubmitted_batch_is_refused_never_doubled_even_once_its_jobs_are_done(
    stopped: Path,
) -> None:
    assert submit(stopped, JOBS).exit_code == 0
    resumed = cli("runner", "start", "--storage", str(stopped), "--stop-after-ticks", "10")
    assert resumed.exit_code == 0, resumed.output
    assert luna(stopped)["completed"] == 3  # rp-*
    before = file_hashes(stopped)
    again = submit(stopped, JOBS)
    assert again.exit_code == 2, again.output
    assert again.stderr == (
        f"Error: <stdin>: line 1 -> id: job id `hot-1` is already used by an earlier "
        f"submission — {RESUBMIT}: pick a new id\n"
    )
    assert file_hashes(stopped) == before


def test_audit_re_makes_a_run_with_submissions_byte_for_byte(stopped: Path) -> None:
    assert submit(stopped, JOBS).exit_code == 0
    finished = cli("runner", "start", "--storage", str(stopped))
    assert finished.exit_code == 0, finished.output
    assert "jobs: 34 completed, 0 failed, 0 cancelled, 0 pending (of 30 planned)" in (
        finished.stdout
    )
    audit = cli("audit", "--storage", str(stopped))
    assert audit.exit_code == 0, audit.output
    assert "conservation: holds — submitted 34 = completed 34" in audit.stdout
    assert "job.submit (2 entries)" in audit.stdout


@pytest.mark.parametrize(
    "forge",
    [
        # Another job in the effect and in the follow-ups, rechained and resealed.
        lambda data: data["effect"]["ids"].append("extra"),
        # The recorded input refused by the command line's rules.
        lambda data: data["input"]["args"]["jobs"][0].update(duration=0),
    ],
)
def test_a_forged_submission_fails_the_audit(stopped: Path, forge: object) -> None:
    assert submit(stopped, JOBS).exit_code == 0
    lines = (stopped / "events.ndjson").read_bytes().splitlines(keepends=True)
    [seq] = [e["seq"] for e in events(stopped) if e["type"] == "owner.job.submit"]
    event = orjson.loads(lines[seq - 1])
    forge(event["data"])  # type: ignore[operator]
    lines[seq - 1] = orjson.dumps(event) + b"\n"
    rechain(stopped, lines, seq)
    audit = cli("audit", "--storage", str(stopped))
    assert audit.exit_code == 3, audit.output
    assert f"events.ndjson: line {seq} (seq {seq})" in audit.stderr


def test_jobs_injected_without_a_submission_fail_the_audit(stopped: Path) -> None:
    lines = (stopped / "events.ndjson").read_bytes().splitlines(keepends=True)
    at = 3  # a job.submitted line slipped in before the checkpoint's seq
    forged = {"data": {"job": "ghost", "shard": "earth", "value": 1}, "tick": 1}
    lines.insert(at - 1, orjson.dumps({**forged, "seq": at, "type": "job.submitted"}) + b"\n")
    for index in range(at, len(lines)):
        event = orjson.loads(lines[index])
        lines[index] = orjson.dumps({**event, "seq": index + 1}) + b"\n"
    reseal(stopped, seq=len(lines))
    rechain(stopped, lines, at)
    audit = cli("audit", "--storage", str(stopped))
    assert audit.exit_code == 3, audit.output
    assert "events.ndjson: line 3 (seq 3)" in audit.stderr


def test_submit_is_in_apply_s_vocabulary(stopped: Path) -> None:
    text = (
        "- {command: shard.pause, shard: luna}\n"
        "- {command: job.submit, jobs: [{shard: luna, skills: [nav], duration: 1, id: a}]}\n"
    )
    result = CliRunner().invoke(
        app,
        ["apply", "-", "--storage", str(stopped), "--reason", "park and queue"],
        input=text,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "job.submit: 1 job accepted into luna (1): a (tick 2, fabric at rest)"
    )


def test_a_live_runner_takes_the_jobs_at_the_tick_it_acknowledges(
    scenario_file: Path, storage: Path
) -> None:
    runner = start("run", str(scenario_file), "--storage", str(storage), "--tick-ms", "50")
    try:
        wait_for(storage / "live.json")
        time.sleep(0.2)
        result = submit(storage, JOBS, "--json")
        assert result.exit_code == 0, result.output
        acknowledged = orjson.loads(result.stdout)
        assert (acknowledged["mode"], acknowledged["effect"]["jobs"]) == ("live", 4)
        refused = submit(
            storage, '{"shard": "eartj", "skills": ["finance"], "duration": 2, "id": "x"}\n'
        )
        assert refused.exit_code == 2, refused.output
        assert refused.stderr == (
            "Error: the live run rejected job.submit: <stdin>: line 1 -> shard: unknown shard "
            "`eartj` — did you mean `earth`?\n"
        )
    finally:
        assert runner.wait(timeout=60) == 0
    [event] = [e for e in owner_events(storage) if e["type"] == "owner.job.submit"]
    assert (event["tick"], event["data"]["input"]["source"]) == (acknowledged["tick"], "live")
    audit = cli("audit", "--storage", str(storage))
    assert audit.exit_code == 0, audit.output


# ------------------------------------------------------------------ a keyed fabric

KEYED_JOBS = '{"shard": "mars", "skills": ["general"], "duration": 1, "prefix": "k", "count": 2}\n'


def test_on_a_keyed_fabric_a_submission_follows_the_owners_policy(at_rest: Path) -> None:
    before = file_hashes(at_rest)
    unsigned = submit(at_rest, KEYED_JOBS)
    assert unsigned.exit_code == 5, unsigned.output
    assert unsigned.stderr == (
        "Error: job.submit is not signed, and this fabric accepts only signed commands — pass "
        "--key NAME (a key listed under owner.keys) or set AGIJOBS_KEY\n"
    )
    assert [e["type"] for e in events(at_rest)][-1] == "governance.refused"
    # The policy's default threshold is two owners: alice proposes, bob's approval applies.
    proposed = submit(at_rest, KEYED_JOBS, "--key", "alice")
    assert proposed.exit_code == 0, proposed.output
    pid = re.findall(r"p-[0-9a-f]{12}", proposed.stdout)[0]
    assert proposed.stdout.startswith(f"job.submit: proposal {pid} recorded, 1 of 2 approvals")
    approved = cli("approve", pid, "--key", "bob", "--storage", str(at_rest))
    assert approved.exit_code == 0, approved.output
    assert approved.stdout.splitlines()[-1] == (
        "job.submit: 2 jobs accepted into mars (2): k-000001, k-000002 (tick 5, fabric at rest)"
    )
    assert file_hashes(at_rest) != before
    audit = cli("audit", "--storage", str(at_rest))
    assert audit.exit_code == 0, audit.output


def test_a_submission_at_rest_never_imports_typer_or_pydantic(stopped: Path) -> None:
    """The fast path takes `submit FILE`, and plainly valid entries need no model."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "agijobs", "submit", "-", "--reason", "r",
         "--storage", str(stopped)],
        input=JOBS, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == ACCEPTED
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert "agijobs.scenario.intake" in imported
    assert not {"typer", "click", "rich", "pydantic", "yaml", "agijobs.scenario.models"} & imported
