"""The commands for the whole fabric at engine level: pause-all and resume, and their
reference aliases system.pause and system.resume.

Each command is tested for its effect on the state, the exact `owner.*` event it records
(and the follow-up events), and every refusal (`builders.assert_refused` says what a
refusal must be). Conservation is checked after every tick of every run.
"""

from __future__ import annotations

import pytest

from ..helpers import engine_of
from .builders import (
    REASON_REQUIRED,
    assert_refused,
    cmd,
    effects,
    group,
    jobs_of,
    kinds_at,
    run,
    scenario,
)

# ------------------------------------------------------------- pause-all / resume


def test_pause_all_stops_routing_while_arrivals_queue_and_running_jobs_finish() -> None:
    engine = engine_of(
        scenario(
            [cmd(2, "pause-all"), cmd(4, "resume")],
            [group(count=2, duration=2), group("k", count=1, duration=1, start=3)],
        )
    )
    events = run(engine, until=3)
    assert engine.state.paused is True
    assert engine.state.shards["earth"].queued.count == 2  # j-000002 and the new k-000001
    events += run(engine)
    assert effects(events, "pause-all") == [{"paused": [False, True], "changed": True}]
    assert effects(events, "resume") == [{"paused": [True, False], "changed": True}]
    assert engine.state.paused is False
    assert jobs_of(events, "job.submitted")[-1] == (3, "k-000001")
    assert jobs_of(events, "job.assigned") == [(1, "j-000001"), (4, "j-000002"), (6, "k-000001")]
    assert jobs_of(events, "job.completed") == [
        (2, "j-000001"),  # progress goes on while paused
        (5, "j-000002"),
        (6, "k-000001"),
    ]


@pytest.mark.parametrize(
    ("alias", "canonical", "paused"),
    [("system.pause", "pause-all", True), ("system.resume", "resume", False)],
)
def test_reference_alias_is_accepted_and_recorded_under_the_canonical_name(
    alias: str, canonical: str, paused: bool
) -> None:
    schedule = [cmd(1, "pause-all")] if alias == "system.resume" else []
    engine = engine_of(scenario([*schedule, cmd(2, alias)]))
    events = run(engine, until=2)
    (data,) = [d for t, d in kinds_at(events, f"owner.{canonical}") if t == 2]
    assert data["input"]["command"] == canonical
    assert data["effect"] == {"paused": [not paused, paused], "changed": True}
    assert engine.state.paused is paused
    assert not any(k.startswith("owner.system") for _, k, _ in events)


def test_resume_when_not_paused_and_pause_when_paused_are_unchanged() -> None:
    engine = engine_of(
        scenario([cmd(1, "resume"), cmd(2, "pause-all"), cmd(2, "system.pause"), cmd(3, "resume")])
    )
    events = run(engine)
    assert effects(events, "resume") == [
        {"paused": [False, False], "changed": False},
        {"paused": [True, False], "changed": True},
    ]
    assert effects(events, "pause-all") == [
        {"paused": [False, True], "changed": True},
        {"paused": [True, True], "changed": False},
    ]
    assert engine.state.owner_actions == 4  # an unchanged command is still an owner action


@pytest.mark.parametrize("alias", ["system.pause", "system.resume"])
def test_alias_with_a_blank_reason_is_refused_under_the_canonical_name(alias: str) -> None:
    engine = assert_refused([{**cmd(2, alias), "reason": " "}], REASON_REQUIRED)
    assert engine.state.paused is False
