"""The job commands at engine level: job.cancel and job.reroute, by id or by tail locator.

Each command is tested for its effect on the state, the exact `owner.*` event it records
(and the follow-up events), and every refusal (`builders.assert_refused` says what a
refusal must be). Conservation is checked after every tick of every run.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import engine_of
from .builders import (
    TWO_EARTH_NODES,
    assert_refused,
    at,
    cmd,
    deregister,
    effects,
    fabric,
    group,
    jobs_of,
    kinds_at,
    node,
    run,
    scenario,
)

# ------------------------------------------------------------------------ job.cancel


def test_cancel_a_queued_job_by_id() -> None:
    engine = engine_of(scenario([cmd(2, "job.cancel", job="j-000002")]))
    events = run(engine)
    assert [(k, d) for k, d in at(events, 2) if k != "owner.job.cancel"] == [
        ("job.cancelled", {"job": "j-000002", "shard": "earth", "was": "queued"})
    ]
    assert effects(events, "job.cancel") == [
        {"job": "j-000002", "shard": "earth", "node": None, "changed": True}
    ]
    assert jobs_of(events, "job.completed") == [(3, "j-000001"), (6, "j-000003")]
    earth = engine.state.shards["earth"]
    assert (earth.cancelled.to_json(), earth.completed.to_json()) == ([1, 11], [2, 22])


def test_cancel_a_running_job_by_id_frees_its_slot_at_once() -> None:
    engine = engine_of(scenario([cmd(2, "job.cancel", job="j-000001")]))
    events = run(engine)
    assert at(events, 2)[1:] == [
        ("job.cancelled", {"job": "j-000001", "shard": "earth", "was": "running"}),
        ("job.assigned", {"job": "j-000002", "node": "earth.a", "shard": "earth"}),
    ]
    assert effects(events, "job.cancel") == [
        {"job": "j-000001", "shard": "earth", "node": "earth.a", "changed": True}
    ]
    assert "j-000001" not in {j for _, j in jobs_of(events, "job.completed")}
    assert engine.state.shards["earth"].cancelled.to_json() == [1, 10]


@pytest.mark.parametrize(
    ("offset", "in_flight", "job", "was"),
    [
        (0, False, "j-000003", "queued"),  # the newest queued job
        (1, False, "j-000002", "queued"),
        (0, True, "j-000003", "queued"),
        (2, True, "j-000001", "running"),  # the running job is the oldest in the line
    ],
)
def test_cancel_by_tail_locator_counts_from_the_newest_job(
    offset: int, in_flight: bool, job: str, was: str
) -> None:
    locator = {"kind": "tail", "shard": "earth", "offset": offset, "include_in_flight": in_flight}
    engine = engine_of(scenario([cmd(2, "job.cancel", locator=locator)]))
    events = run(engine)
    (effect,) = effects(events, "job.cancel")
    assert effect["job"] == job
    assert kinds_at(events, "job.cancelled") == [(2, {"job": job, "shard": "earth", "was": was})]
    assert engine.state.totals()["cancelled"].count == 1


@pytest.mark.parametrize(("offset", "job"), [(0, "j-000003"), (1, "j-000001"), (2, "j-000002")])
def test_tail_locator_counts_a_requeued_job_at_the_front_of_the_line(offset: int, job: str) -> None:
    # earth.b goes at tick 2 and its job is requeued to the front of earth's queue, which is
    # the front of the whole line: ahead of j-000001, still running on earth.a.
    locator = {"kind": "tail", "shard": "earth", "offset": offset, "include_in_flight": True}
    engine = engine_of(
        scenario(
            [cmd(2, "node.deregister", node="earth.b"), cmd(2, "job.cancel", locator=locator)],
            [group(duration=4)],
            fabric_spec=TWO_EARTH_NODES,
        )
    )
    events = run(engine)
    assert [e["job"] for e in effects(events, "job.cancel")] == [job]


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [cmd(2, "job.cancel", locator={"kind": "tail", "shard": "earth", "offset": 2})],
            "locator -> offset: 2 is past the end of shard `earth`: it has 2 queued job(s) — "
            "use an offset below 2",
        ),
        (
            [
                cmd(
                    2,
                    "job.cancel",
                    locator={
                        "kind": "tail",
                        "shard": "earth",
                        "offset": 3,
                        "include_in_flight": True,
                    },
                )
            ],
            "locator -> offset: 3 is past the end of shard `earth`: it has 3 queued or running "
            "job(s) — use an offset below 3",
        ),
        (
            [cmd(2, "job.cancel", locator={"kind": "tail", "shard": "luna", "offset": 0})],
            "locator -> offset: 0 is past the end of shard `luna`: it has 0 queued job(s) — "
            "the shard has no job to pick",
        ),
        (
            [cmd(2, "job.cancel", locator={"kind": "tail", "shard": "mars", "offset": 0})],
            "locator -> shard: unknown shard `mars` — known: earth, luna",
        ),
        (
            [
                deregister(1, "luna"),
                cmd(2, "job.cancel", locator={"kind": "tail", "shard": "luna", "offset": 0}),
            ],
            "locator -> shard: shard `luna` was deregistered — name a registered shard "
            "(see status)",
        ),
        (
            [cmd(4, "job.cancel", job="j-000001")],  # completed at the end of tick 3
            "job: no queued or running job `j-000001` — ids look like `earth-finance-000042`; "
            "a completed, failed or cancelled job cannot change",
        ),
        (
            [cmd(2, "job.cancel", job="j-000002"), cmd(3, "job.cancel", job="j-000002")],
            "job: no queued or running job `j-000002` — ids look like `earth-finance-000042`; "
            "a completed, failed or cancelled job cannot change",
        ),
    ],
    ids=[
        "past-queued",
        "past-in-flight",
        "empty-shard",
        "unknown-shard",
        "retired-shard",
        "completed",
        "twice",
    ],
)
def test_job_cancel_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    assert_refused(schedule, error)


# ----------------------------------------------------------------------- job.reroute


def test_reroute_a_queued_job_by_id_to_a_shard_that_can_serve_it() -> None:
    engine = engine_of(scenario([cmd(2, "job.reroute", job="j-000003", to="luna")]))
    events = run(engine)
    assert effects(events, "job.reroute") == [
        {
            "job": "j-000003",
            "from": "earth",
            "to": "luna",
            "moved": 1,
            "left_unservable": 0,
            "pulled_from_node": None,
            "changed": True,
        }
    ]
    assert at(events, 2)[1:] == [
        ("job.spilled", {"job": "j-000003", "from": "earth", "to": "luna", "reason": "reroute"}),
        ("job.assigned", {"job": "j-000003", "node": "luna.a", "shard": "luna"}),
    ]
    luna = engine.state.shards["luna"]
    assert (luna.spilled_in.to_json(), luna.completed.to_json()) == ([1, 12], [1, 12])


def test_reroute_a_running_job_pulls_it_off_its_node_keeping_progress() -> None:
    engine = engine_of(scenario([cmd(2, "job.reroute", job="j-000001", to="luna")]))
    events = run(engine)
    (effect,) = effects(events, "job.reroute")
    assert (effect["moved"], effect["pulled_from_node"]) == (1, "earth.a")
    assert [(k, d["job"]) for k, d in at(events, 2)[1:]] == [
        ("job.spilled", "j-000001"),
        ("job.assigned", "j-000002"),  # earth routes first (id order): the freed slot
        ("job.assigned", "j-000001"),
    ]
    # One tick worked on earth.a, two on luna.a: done at the end of tick 3, as if unmoved.
    assert next((t, d["job"], d["node"]) for t, d in kinds_at(events, "job.completed")) == (
        3,
        "j-000001",
        "luna.a",
    )
    assert engine.state.shards["earth"].in_flight.count == 0


def test_reroute_by_tail_locator() -> None:
    locator = {"kind": "tail", "shard": "earth", "offset": 1}
    engine = engine_of(scenario([cmd(2, "job.reroute", locator=locator, to="luna")]))
    events = run(engine)
    assert [e["job"] for e in effects(events, "job.reroute")] == ["j-000002"]
    assert engine.state.shards["luna"].completed.to_json() == [1, 11]


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        (cmd(3, "job.reroute", job="y-000001", to="luna"), "job.spilled"),
        (cmd(3, "job.cancel", job="y-000001"), "job.cancelled"),
        (
            cmd(3, "job.cancel", locator={"kind": "tail", "shard": "earth", "offset": 0}),
            "job.cancelled",
        ),
    ],
    ids=["reroute", "cancel", "cancel-by-locator"],
)
def test_a_deferred_job_can_be_rerouted_or_cancelled(entry: dict[str, Any], kind: str) -> None:
    spec = fabric(nodes=[node("earth.a", "earth"), node("luna.a", "luna", skills=["y"])])
    engine = engine_of(
        scenario([entry], [group("y", count=1, duration=1, skills=("y",))], fabric_spec=spec)
    )
    events = run(engine)
    assert jobs_of(events, "job.deferred") == [(1, "y-000001")]
    assert jobs_of(events, kind) == [(3, "y-000001")]
    assert engine.state.shards["earth"].deferred_count == 0
    assert engine.is_done()


@pytest.mark.parametrize("job", ["j-000001", "j-000003"], ids=["running", "queued"])
def test_reroute_to_a_shard_that_cannot_serve_leaves_the_job_in_place(job: str) -> None:
    spec = fabric(nodes=[node("earth.a", "earth"), node("luna.a", "luna", skills=["y"])])
    engine = engine_of(scenario([cmd(2, "job.reroute", job=job, to="luna")], fabric_spec=spec))
    twin = engine_of(scenario(fabric_spec=spec))
    events = run(engine)
    expected = run(twin)
    assert effects(events, "job.reroute") == [
        {
            "job": job,
            "from": "earth",
            "to": "luna",
            "moved": 0,
            "left_unservable": 1,
            "pulled_from_node": None,
            "changed": False,
            "note": "no eligible node in `luna` has skills ['x']",
        }
    ]
    assert [e for e in events if not e[1].startswith("owner.")] == expected
    assert engine.state.owner_actions == 1


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (
            [cmd(2, "job.reroute", job="j-000002", to="earth")],
            "to: job `j-000002` is already in shard `earth` — name another shard",
        ),
        (
            [cmd(2, "job.reroute", job="j-000002", to="mars")],
            "to: unknown shard `mars` — known: earth, luna",
        ),
        (
            [
                deregister(1, "luna"),
                cmd(2, "job.reroute", job="j-000002", to="luna"),
            ],
            "to: shard `luna` was deregistered — name a registered shard (see status)",
        ),
        (
            [cmd(2, "job.reroute", job="j-000009", to="luna")],
            "job: no queued or running job `j-000009` — ids look like `earth-finance-000042`; "
            "a completed, failed or cancelled job cannot change",
        ),
        (
            [
                cmd(
                    2,
                    "job.reroute",
                    locator={"kind": "tail", "shard": "earth", "offset": 5},
                    to="luna",
                )
            ],
            "locator -> offset: 5 is past the end of shard `earth`: it has 2 queued job(s) — "
            "use an offset below 2",
        ),
    ],
    ids=["same-shard", "unknown-target", "retired-target", "unknown-job", "past-the-end"],
)
def test_job_reroute_refusals(schedule: list[dict[str, Any]], error: str) -> None:
    assert_refused(schedule, error)
