"""`agijobs describe job|node|shard`: state now and history, from the log (through the
index kept beside a directory log) and the checkpoint."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ..backends import Backend
from ..helpers import agijobs, cli


def test_describe_a_job(finished: Path) -> None:
    result = cli("describe", "job", "f-000010", "--storage", str(finished))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "job f-000010: completed on earth.a in shard earth since tick 9\n"
        "submitted: tick 4 to earth, value 100 · moves 0 · requeues 0\n"
        "history:\n"
        "  tick 4 · seq 25 · job.submitted · job=f-000010 shard=earth value=100\n"
        "  tick 8 · seq 45 · job.assigned · job=f-000010 node=earth.a shard=earth\n"
        "  tick 9 · seq 53 · job.completed · job=f-000010 node=earth.a shard=earth\n"
    )
    assert (finished / "events-index" / "0.idx").is_file()
    document = orjson.loads(
        cli("describe", "job", "f-000010", "--json", "--storage", str(finished)).stdout
    )
    assert (document["api_version"], document["kind"]) == ("agijobs/v1", "JobDescription")
    assert (document["state"], document["node"], document["since"]) == (
        "completed",
        "earth.a",
        {"tick": 9, "seq": 53},
    )
    assert [e["type"] for e in document["history"]] == [
        "job.submitted",
        "job.assigned",
        "job.completed",
    ]


def test_describe_a_node_and_a_shard(finished: Path) -> None:
    node = cli("describe", "node", "earth.a", "--storage", str(finished))
    assert node.exit_code == 0, node.output
    assert node.stdout == (
        "node earth.a (shard earth): up · slots 2 · latency 80 ms · running 0 · outages 0\n"
        "skills: finance\n"
        "as of: checkpoint at tick 17\n"
        "running: none\n"
        "history: none\n"
    )
    shard = cli("describe", "shard", "earth", "--storage", str(finished))
    assert shard.exit_code == 0, shard.output
    assert shard.stdout == (
        "shard earth (earth): running · budget 120 ms · max queue 100 · alert at 70\n"
        "queues: queued 0 · deferred 0 · in-flight 0\n"
        "counters: cancelled 0 · completed 30 · failed 0 · in_flight 0 · queued 0 · "
        "spilled_in 0 · spilled_out 0 · submitted 30\n"
        "spillover: luna (threshold 50, drain 5/tick) · reroute target: none\n"
        "as of: checkpoint at tick 17\n"
        "history:\n"
        "  tick 4 · seq 24 · owner.pause-all · pause-all by Owner — drill: fabric paused\n"
        "  tick 8 · seq 40 · owner.resume · resume by Owner — drill over: pause lifted\n"
    )
    for kind, name in (("node", "earth.a"), ("shard", "luna")):
        result = cli("describe", kind, name, "--json", "--storage", str(finished))
        assert orjson.loads(result.stdout)["kind"] == f"{kind.capitalize()}Description"


def test_a_node_with_a_fault_has_a_history_and_its_running_jobs(
    tmp_path: Path, storage: Path
) -> None:
    from ..helpers import scenario_dict, write_scenario

    data = scenario_dict(
        faults=[{"tick": 2, "node": "earth.b", "kind": "outage", "until": 9}],
        run={"max_ticks": 500, "checkpoint_every": 1},
    )
    scenario = write_scenario(tmp_path / "fault.yaml", data)
    stopped = cli("run", str(scenario), "--storage", str(storage), "--stop-after-ticks", "8")
    assert stopped.exit_code == 0, stopped.output
    result = cli("describe", "node", "earth.b", "--json", "--storage", str(storage))
    assert result.exit_code == 0, result.output
    node = orjson.loads(result.stdout)
    assert [e["type"] for e in node["history"]] == ["fault.outage", "node.down"]
    assert (node["status"], node["running_jobs"], node["running"]) == ("down", 0, [])
    assert node["as_of"] == {"source": "checkpoint", "tick": 8}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["job", "f-999999"],
            "Error: job `f-999999`: no event of this run names it — check the id; `agijobs "
            "events --type job.submitted` lists the jobs submitted\n",
        ),
        (
            ["node", "eart.a"],
            "Error: --node: no node `eart.a` in this run; did you mean `earth.a`? — name one "
            "of its nodes: earth.a, earth.b, luna.c\n",
        ),
        (
            ["shard", "lun"],
            "Error: --shard: no shard `lun` in this run; did you mean `luna`? — name one of "
            "its shards: earth, luna\n",
        ),
    ],
)
def test_an_unknown_id_exits_2(finished: Path, argv: list[str], message: str) -> None:
    result = cli("describe", *argv, "--storage", str(finished))
    assert result.exit_code == 2, result.output
    assert (result.stdout, result.stderr) == ("", message)


def test_the_index_grows_with_the_log_and_is_rebuilt_when_stale(
    scenario_file: Path, storage: Path, tmp_path: Path
) -> None:
    def history(job: str) -> list[int]:
        result = cli("describe", "job", job, "--json", "--storage", str(storage))
        assert result.exit_code == 0, result.output
        return [e["seq"] for e in orjson.loads(result.stdout)["history"]]

    cli("run", str(scenario_file), "--storage", str(storage), "--stop-after-ticks", "7")
    assert history("f-000010") == [25]  # submitted, waiting in the paused fabric's queue
    cli("runner", "start", "--storage", str(storage))
    assert history("f-000010") == [25, 45, 53]  # the log grew: a second segment
    assert sorted(p.name for p in (storage / "events-index").iterdir()) == ["0.idx", "1.idx"]
    # A log that is no longer the one indexed (here: another run's, written in its place)
    # is indexed again from its start.
    other = tmp_path / "other"
    from ..helpers import scenario_dict, write_scenario

    cli("run", str(write_scenario(tmp_path / "b.yaml", scenario_dict())), "--storage", str(other))
    (storage / "events.ndjson").write_bytes((other / "events.ndjson").read_bytes())
    events = cli("events", "--json", "--job", "f-000002", "--storage", str(other)).stdout
    assert history("f-000002") == [orjson.loads(line)["seq"] for line in events.splitlines()]
    # An index that is damaged is only ever a shortcut: it is rebuilt.
    for segment in (storage / "events-index").iterdir():
        segment.write_bytes(b"junk")
    assert history("f-000002") == [orjson.loads(line)["seq"] for line in events.splitlines()]


def test_run_fresh_moves_the_index_aside_with_the_run(finished: Path, scenario_file: Path) -> None:
    cli("describe", "job", "f-000001", "--storage", str(finished))
    result = cli("run", str(scenario_file), "--storage", str(finished), "--fresh")
    assert result.exit_code == 0, result.output
    assert not (finished / "events-index").exists()
    [archived] = (finished / "archive").iterdir()
    assert (archived / "events-index" / "0.idx").is_file()


def test_describe_and_events_on_each_backend(backend: Backend, scenario_file: Path) -> None:
    result = agijobs("run", str(scenario_file), "--storage", backend.storage)
    assert result.returncode == 0, result.stderr
    described = cli("describe", "job", "f-000010", "--json", "--storage", backend.storage)
    assert described.exit_code == 0, described.output
    assert [e["seq"] for e in orjson.loads(described.stdout)["history"]] == [25, 45, 53]
    shard = orjson.loads(
        cli("describe", "shard", "earth", "--json", "--storage", backend.storage).stdout
    )
    assert [e["type"] for e in shard["history"]] == ["owner.pause-all", "owner.resume"]
    events = cli("events", "--json", "--type", "owner.", "--storage", backend.storage)
    assert events.exit_code == 0, events.output
    stored = [line for line in backend.events().splitlines() if b'"type":"owner.' in line]
    assert events.stdout.encode() == b"".join(line + b"\n" for line in stored)
