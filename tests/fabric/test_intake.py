"""job.submit at engine level: jobs put into a run, all or none, each id used once per run.

The effect and the follow-up events, every refusal (`builders.assert_refused`: one
`owner.rejected`, the run otherwise byte-identical to the run without the entry), the ids
a run has used kept as claims (ranges and names) in the checkpoint, and a restore.
Conservation is checked after every tick of every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agijobs.fabric.claims import Claims, generated_id, parse_generated
from agijobs.fabric.engine import Engine
from agijobs.ledger.canonical import dumps
from agijobs.scenario.plan import fabric_inputs

from ..helpers import engine_of
from .builders import assert_refused, at, cmd, effects, fabric, jobs_of, node, run, scenario


def job(**fields: Any) -> dict[str, Any]:
    return {"shard": "earth", "skills": ["x"], "duration": 1, "value": 7, **fields}


def submit(tick: int, *jobs: dict[str, Any]) -> dict[str, Any]:
    return cmd(tick, "job.submit", jobs=list(jobs))


def test_submitted_jobs_join_the_back_of_their_queue_in_the_order_given() -> None:
    engine = engine_of(scenario([submit(2, job(id="hot-1"), job(prefix="s", count=2, value=5))]))
    events = run(engine)
    assert at(events, 2)[1:] == [
        ("job.submitted", {"job": "hot-1", "shard": "earth", "value": 7}),
        ("job.submitted", {"job": "s-000001", "shard": "earth", "value": 5}),
        ("job.submitted", {"job": "s-000002", "shard": "earth", "value": 5}),
    ]
    assert effects(events, "job.submit") == [
        {
            "jobs": 3,
            "value": 17,
            "shards": {"earth": 3},
            "ids": ["hot-1", "s-000001", "s-000002"],
            "changed": True,
        }
    ]
    # Behind the workload's j-000002 and j-000003, which were queued before them.
    assert [j for _, j in jobs_of(events, "job.completed")] == [
        "j-000001",
        "j-000002",
        "j-000003",
        "hot-1",
        "s-000001",
        "s-000002",
    ]
    earth = engine.state.shards["earth"]
    assert earth.submitted.to_json() == [6, 10 + 11 + 12 + 17]
    assert engine.state.intake is not None
    assert engine.state.intake.to_json() == {
        "jobs": 3,
        "value": 17,
        "names": ["hot-1"],
        "ranges": {"s": [[1, 2]]},
    }


def test_a_submission_to_an_idle_fabric_keeps_the_run_going_until_its_jobs_are_done() -> None:
    engine = engine_of(scenario([submit(20, job(prefix="late", count=2, duration=3))]))
    events = run(engine)
    assert jobs_of(events, "job.completed")[-2:] == [(22, "late-000001"), (25, "late-000002")]


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [submit(2, job(id="a"), job(id="b", shard="eartj"))],
            "jobs -> 1 -> shard: unknown shard `eartj` — did you mean `earth`?",
        ),
        (
            [submit(2, job(id="a", skills=["y"]))],
            "jobs -> 0 -> skills: no node has skill `y` — known: x",
        ),
        (
            [submit(2, job(id="a", skills=["x", "xx"]))],
            "jobs -> 0 -> skills: no node has skill `xx` — did you mean `x`?",
        ),
        (
            [submit(2, job(id="j-000003"))],
            "jobs -> 0 -> id: job id `j-000003` is already used by the scenario's workload — a "
            "job id is used once per run (resubmitted, it is refused, never doubled): pick a "
            "new id",
        ),
        (
            [submit(2, job(prefix="j", count=5))],
            "jobs -> 0 -> prefix: job id `j-000001` is already used by the scenario's workload "
            "— a job id is used once per run (resubmitted, it is refused, never doubled): "
            "pick a new prefix",
        ),
        (  # completed by then: ever used, still refused
            [submit(2, job(prefix="s", count=3)), submit(9, job(id="s-000002"))],
            "jobs -> 0 -> id: job id `s-000002` is already used by an earlier submission — a "
            "job id is used once per run (resubmitted, it is refused, never doubled): pick a "
            "new id",
        ),
        (
            [submit(2, job(id="s-000004"), job(prefix="s", count=9))],
            "jobs -> 1 -> prefix: job id `s-000004` is already used earlier in this batch — a "
            "job id is used once per run (resubmitted, it is refused, never doubled): pick a "
            "new prefix",
        ),
        (
            [submit(2, job(id="twice"), job(id="twice"))],
            "jobs -> 1 -> id: job id `twice` is already used earlier in this batch — a job id "
            "is used once per run (resubmitted, it is refused, never doubled): pick a new id",
        ),
    ],
)
def test_a_bad_entry_refuses_the_whole_batch(schedule: list[dict[str, Any]], error: str) -> None:
    assert_refused(schedule, error)


def test_skills_no_single_node_has_are_refused() -> None:
    two = fabric(nodes=[node("earth.a", "earth"), node("luna.a", "luna", skills=["y"])])
    assert_refused(
        [submit(2, job(id="a", skills=["x", "y"]))],
        "jobs -> 0 -> skills: no node has all of x, y — split the work into jobs whose skills "
        "one node has, or register such a node",
        fabric_spec=two,
    )


def test_a_general_node_serves_any_skill() -> None:
    general = fabric(nodes=[node("earth.a", "earth", skills=["general"]), node("luna.a", "luna")])
    engine = engine_of(scenario([submit(2, job(id="a", skills=["anything"]))], fabric_spec=general))
    assert "a" in {j for _, j in jobs_of(run(engine), "job.completed")}


def test_the_ids_used_stay_a_few_ranges_however_many_jobs() -> None:
    engine = engine_of(
        scenario(
            [
                submit(2, job(prefix="s", count=400), job(id="s-000402")),
                submit(3, job(id="s-000401"), job(prefix="t", count=3)),
            ]
        )
    )
    run(engine, until=3)
    assert engine.state.intake is not None
    assert engine.state.intake.to_json()["ranges"] == {"s": [[1, 402]], "t": [[1, 3]]}


def test_a_restored_engine_remembers_the_ids_used_and_continues_identically() -> None:
    spec = scenario(
        [submit(2, job(prefix="s", count=3), job(id="n")), submit(12, job(id="s-000002"))]
    )
    whole = engine_of(spec)
    uninterrupted = run(whole)
    assert len(effects(uninterrupted, "job.submit")) == 1  # the second is refused
    for cut in (2, 5, 11):
        first = engine_of(spec)
        head = run(first, until=cut)
        restored = Engine.restore(fabric_inputs(spec), orjson.loads(dumps(first.snapshot())))
        assert dumps(restored.snapshot()) == dumps(first.snapshot()), cut
        assert dumps(head + run(restored)) == dumps(uninterrupted), cut


# ------------------------------------------------------------------------ claims


@pytest.mark.parametrize(
    ("job_id", "parsed"),
    [
        ("web-000001", ("web", 1)),
        ("a-b-000042", ("a-b", 42)),
        ("big-1234567", ("big", 1234567)),
        ("web-1", None),  # never generated: at least six digits
        ("web-0000001", None),  # a leading zero beyond six digits
        ("web-000000", None),  # numbering starts at 1
        ("web000001", None),
        ("-000001", ("", 1)),
    ],
)
def test_generated_ids_parse_back(job_id: str, parsed: tuple[str, int] | None) -> None:
    assert parse_generated(job_id) == parsed
    if parsed is not None:
        assert generated_id(*parsed) == job_id


def test_claims_find_the_first_id_used_in_a_range() -> None:
    claims = Claims()
    claims.add_range("p", 10, 20)
    claims.add_range("p", 30, 30)
    claims.add_range("p", 21, 29)  # merges the three
    assert claims.ranges == {"p": [[10, 30]]}
    assert claims.find_range("p", 1, 9) is None
    assert claims.find_range("p", 5, 12) == "p-000010"
    assert claims.find_range("p", 25, 99) == "p-000025"
    assert claims.find_range("p", 31, 40) is None
    assert claims.find_range("q", 10, 10) is None


# ------------------------------------------------------ at rest, without the backlog's rows


def test_a_submission_at_rest_without_the_rows_writes_what_a_full_restore_writes() -> None:
    """At rest a submission never parses the backlog: the engine is restored without its
    job rows and the stored rows are merged back, each class's new rows after them."""
    from agijobs.fabric.commands import ADDS_JOBS
    from agijobs.fabric.inputs import CommandInput
    from agijobs.ledger import jobtable

    assert {"job.submit"} == ADDS_JOBS
    two = fabric(nodes=[node("earth.a", "earth", skills=["x", "y"]), node("luna.a", "luna")])
    spec = scenario(
        workload=[
            {"prefix": "j", "shard": "earth", "skills": ["x"], "count": 6, "duration": 3},
            {"prefix": "k", "shard": "earth", "skills": ["y"], "count": 4, "duration": 2},
            {"prefix": "m", "shard": "luna", "skills": ["x"], "count": 3, "duration": 2},
        ],
        fabric_spec=two,
    )
    command = CommandInput(
        "job.submit",
        {
            "jobs": [
                job(prefix="s", count=2, skills=["y"]),
                job(id="t", skills=["x", "y"]),
                job(id="u", shard="luna"),
            ]
        },
        "rest",
        "ops",
        "at-rest",
        "2030-01-01T00:00:00Z",
    )
    for cut in range(0, 8):
        engine = engine_of(spec)
        run(engine, until=cut)
        header, table = jobtable.split(orjson.loads(dumps(engine.snapshot())))
        assert table is not None
        full = Engine.restore(fabric_inputs(spec), jobtable.attach(header, table, "t"))
        light = Engine.restore(fabric_inputs(spec), header, jobs=False, table=table)
        assert dumps(full.apply_at_rest(command)) == dumps(light.apply_at_rest(command)), cut
        assert jobtable.split(light.snapshot()) == jobtable.split(full.snapshot()), cut
        # ... and it runs on as the full engine does.
        again = Engine.restore(fabric_inputs(spec), orjson.loads(dumps(light.snapshot())))
        assert dumps(run(again)) == dumps(run(full)), cut


SHIPPED = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=st.sampled_from(SHIPPED),
    cut=st.integers(0, 60),
    picks=st.lists(
        st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(1, 3)), min_size=1, max_size=4
    ),
)
def test_rows_spliced_into_the_stored_table_are_the_bytes_a_full_restore_writes(
    scenario: Path, cut: int, picks: list[tuple[int, int, int]]
) -> None:
    """A submission at rest splices its rows into the stored table's bytes
    (`jobtable.appended`) instead of parsing the backlog: the checkpoint state and table are
    those the fully restored engine gives, to the byte, whichever shards and classes (new
    or not) the jobs join."""
    from agijobs.fabric.inputs import CommandInput
    from agijobs.ledger import jobtable
    from agijobs.scenario.loading import load_plan

    plan = load_plan(scenario)
    engine = Engine(plan.inputs)
    while not engine.is_done() and engine.state.tick < cut:
        engine.run_tick()
    header, table = jobtable.split(orjson.loads(dumps(engine.snapshot())))
    assert table is not None
    shards = [s for s in engine.state.shards.values() if not s.retired]
    nodes = list(engine.state.nodes.values())
    entries = []
    for number, (which, skill, count) in enumerate(picks):
        shard = shards[which % len(shards)]
        # Mostly a class the shard's queue holds (spliced), else a node's skill (often new).
        held = [list(key[0]) for key in sorted(shard.active) if key[1] == (shard.id,)]
        if held and skill % 8:
            skills = held[skill % len(held)]
        else:
            skills = sorted(nodes[skill % len(nodes)].skills)[:1] or ["general"]
        entries.append(
            {"prefix": f"z{number}", "count": count, "shard": shard.id, "skills": skills,
             "duration": 2, "value": 5}
        )  # fmt: skip
    command = CommandInput(
        "job.submit", {"jobs": entries}, "rest", "ops", "at-rest", "2030-01-01T00:00:00Z"
    )
    full = Engine.restore(plan.inputs, jobtable.attach(header, table, "t"))
    light = Engine.restore(plan.inputs, header, jobs=False, table=table)
    try:
        events = full.apply_at_rest(command)
    except Exception:  # a skill no node of that shard has, a finished run: nothing to splice
        return
    assert dumps(light.apply_at_rest(command)) == dumps(events)
    spliced, merged = light.split_snapshot(), jobtable.split(full.snapshot())
    assert (dumps(spliced[0]), spliced[1]) == (dumps(merged[0]), merged[1])


def test_rows_for_a_class_the_table_holds_are_spliced_not_parsed() -> None:
    """The splice is what runs (a class new to its shard is merged from parsed rows)."""
    from agijobs.ledger import jobtable

    row = ["j-1", 1, "earth", ["x"], 3, 5, ["earth"], 1, False, None]
    state = {"shards": [{"id": "earth"}, {"id": "luna"}], "nodes": [{"id": "earth.a"}]}
    queue = [[[["x"], ["earth"]], [row]]]
    table = dumps(
        {
            "format": 1,
            "nodes": [["earth.a", []]],
            "shards": [["earth", queue, []], ["luna", [], []]],
        }
    )
    new = ["j-2", 2, "earth", ["x"], 3, 5, ["earth"], 2, False, None]
    key = (("x",), ("earth",))
    spliced = jobtable.appended(state, table, {"earth": ([(key, [new])], [])})
    merged = [[[["x"], ["earth"]], [row, new]]]
    assert spliced == dumps(
        {
            "format": 1,
            "nodes": [["earth.a", []]],
            "shards": [["earth", merged, []], ["luna", [], []]],
        }
    )
    assert jobtable.appended(state, table, {"luna": ([(key, [new])], [])}) is None  # new class
    assert jobtable.appended(state, table, {"earth": ([], [(key, [new])])}) is None  # deferred
    # A table no run writes (its strings are names): a pattern inside a string is not
    # taken for structure, and an escape is not read at all. The rows are then parsed.
    odd = ["a]]]", 1, "earth", ["x"], 3, 5, ["earth"], 1, False, None]
    for stored in (odd, [*row[:2], 'e"q', *row[3:]]):
        shards = [["earth", [[[["x"], ["earth"]], [stored]]], []], ["luna", [], []]]
        tampered = dumps({"format": 1, "nodes": [["earth.a", []]], "shards": shards})
        assert jobtable.appended(state, tampered, {"earth": ([(key, [new])], [])}) is None
