"""What holds for every owner command at engine level (each name has a handler, a reason and
a description; one owner event each), restoring mid-run after the commands that change the
fabric's shape, and batches of commands applied together.

Conservation is checked after every tick of every run.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from agijobs.errors import BadInput
from agijobs.fabric import commands
from agijobs.fabric.engine import Engine
from agijobs.fabric.inputs import CommandInput
from agijobs.ledger.canonical import dumps
from agijobs.scenario.plan import fabric_inputs

from ..helpers import engine_of
from .builders import (
    REASON_REQUIRED,
    assert_refused,
    cmd,
    deregister,
    group,
    kinds_at,
    node,
    run,
    scenario,
    shard,
)
from .invariants import assert_invariants

# ------------------------------------------------------------------ every command


MINIMAL_ARGS: dict[str, dict[str, Any]] = {
    "pause-all": {},
    "resume": {},
    "reroute": {"from": "earth", "to": "luna"},
    "set-latency": {"shard": "earth", "ms": 50},
    "shard.pause": {"shard": "earth"},
    "shard.resume": {"shard": "earth"},
    "shard.register": {"shard": shard("mars")},
    "shard.deregister": {"shard": "earth", "redistribution": {"mode": "cancel"}},
    "shard.update": {"shard": "earth", "update": {"max_queue": 20}},
    "node.register": {"node": node("earth.b", "earth")},
    "node.update": {"node": "earth.a", "update": {"slots": 2}},
    "node.deregister": {"node": "earth.a"},
    "node.cordon": {"node": "earth.a"},
    "node.uncordon": {"node": "earth.a"},
    "node.drain": {"node": "earth.a", "deadline_ticks": 3},
    "job.submit": {"jobs": [{"id": "s-1", "shard": "earth", "skills": ["x"], "duration": 1}]},
    "job.cancel": {"job": "j-000002"},
    "job.reroute": {"job": "j-000002", "to": "luna"},
    "checkpoint.save": {},
    "checkpoint.configure": {"every": 3},
    "reporting.configure": {"label": "drill"},
}


def test_every_command_name_has_a_handler() -> None:
    # governance.update needs a fabric with owner keys: tests/fabric/test_authority.py
    assert set(MINIMAL_ARGS) | {"governance.update"} == set(commands.HANDLERS)


@pytest.mark.parametrize("name", sorted(MINIMAL_ARGS))
def test_a_blank_reason_refuses_any_command_and_changes_nothing(name: str) -> None:
    entry = {**cmd(2, name, **MINIMAL_ARGS[name]), "reason": "   "}
    assert_refused([entry], REASON_REQUIRED)


@pytest.mark.parametrize("name", sorted(MINIMAL_ARGS))
def test_every_command_with_minimal_arguments_applies_as_one_owner_event(name: str) -> None:
    engine = engine_of(scenario([cmd(2, name, **MINIMAL_ARGS[name])]))
    events = run(engine, until=2)
    owner = [(t, k) for t, k, _ in events if k.startswith("owner.")]
    assert owner == [(2, f"owner.{name}")]
    assert engine.state.owner_actions == 1
    assert engine.state.outside_commands == 0  # schedule entries are not outside commands
    assert engine.schedule_rejections == []
    run(engine)


def test_every_command_has_a_one_line_description() -> None:
    """Every handler's effect reads as a sentence in the CLI, the audit and the report."""
    from agijobs.views.describe import _DESCRIBERS

    plain = {"pause-all", "resume", "set-latency", "reroute"}  # described inline
    assert set(commands.HANDLERS) - plain == set(_DESCRIBERS)


# ------------------------------------------------------------- snapshot / restore


def test_restore_after_register_deregister_and_update_continues_to_the_same_events() -> None:
    spec = scenario(
        [
            cmd(
                2,
                "shard.register",
                shard=shard(
                    "mars", spillover=[{"target": "luna", "threshold": 2, "max_drain_per_tick": 1}]
                ),
            ),
            cmd(2, "node.register", node=node("mars.a", "mars", slots=2, price_per_job=0.5)),
            cmd(3, "shard.update", shard="luna", update={"max_queue": 4, "latency_budget_ms": 50}),
            cmd(3, "node.update", node="luna.a", update={"slots": 2, "metadata": {"r": 1}}),
            cmd(3, "shard.pause", shard="mars"),
            deregister(4, "earth", "mars"),
            cmd(5, "node.register", node=node("luna.b", "luna", latency_ms=80)),
            cmd(6, "shard.resume", shard="mars"),
            cmd(6, "shard.update", shard="luna", update={"latency_budget_ms": 90}),
            cmd(8, "node.deregister", node="luna.b"),
            cmd(9, "job.cancel", locator={"kind": "tail", "shard": "mars", "offset": 0}),
        ],
        [group(count=6, duration=3), group("k", count=4, duration=2, start=5)],
        faults=[{"tick": 9, "node": "luna.b", "kind": "outage", "until": 12}],
    )
    whole = engine_of(spec)
    uninterrupted = run(whole)
    assert whole.schedule_rejections == []
    assert kinds_at(uninterrupted, "owner.rejected") == []
    assert uninterrupted[-1][0] > 9
    for cut in range(uninterrupted[-1][0] + 1):
        first = engine_of(spec)
        head = run(first, until=cut)
        restored = Engine.restore(fabric_inputs(spec), orjson.loads(dumps(first.snapshot())))
        assert dumps(restored.snapshot()) == dumps(first.snapshot()), cut
        assert dumps(head + run(restored)) == dumps(uninterrupted), cut
        assert dumps(restored.snapshot()) == dumps(whole.snapshot()), cut


# ----------------------------------------------------------------------- batches


def template(source: str) -> CommandInput:
    return CommandInput("batch", {}, "", "ops", source, "2030-01-01T00:00:00Z", "cmd-1")


GOOD_PARTS: list[tuple[str, dict[str, Any], str]] = [
    ("shard.register", {"shard": shard("mars")}, "add mars"),
    ("node.register", {"node": node("mars.a", "mars")}, "staff it"),  # needs the shard above
    ("job.reroute", {"job": "j-000003", "to": "mars"}, "use it"),  # needs the node above
]
# The same, then a checkpoint request, a running job pulled, a shard retired (cancelling its
# last queued job) and an unknown node.
BAD_PARTS: list[tuple[str, dict[str, Any], str]] = [
    *GOOD_PARTS,
    ("checkpoint.save", {}, "save"),
    ("job.reroute", {"job": "j-000001", "to": "mars"}, "move the running one"),
    ("shard.deregister", {"shard": "earth", "redistribution": {"mode": "cancel"}}, "retire"),
    ("node.update", {"node": "mars.b", "update": {"slots": 2}}, "typo"),
]
BAD_ERROR = "commands -> 6 (node.update): node: unknown node `mars.b` — did you mean `mars.a`?"


@pytest.mark.parametrize("source", ["at-rest", "live"])
def test_batch_applies_every_command_in_order(source: str) -> None:
    engine = engine_of(scenario())
    run(engine, until=1)
    command = commands.batch(GOOD_PARTS, template(source))
    assert (command.name, command.reason) == ("batch", "3 commands applied together")
    if source == "at-rest":
        events = [(1, k, d) for k, d in engine.apply_at_rest(command)]
    else:
        events = [(2, k, d) for k, d in engine.run_tick([command])]
        assert_invariants(engine)
    owner = [
        (k, d["input"]["reason"], d["input"]["source"])
        for _, k, d in events
        if k.startswith("owner.")
    ]
    assert owner == [
        ("owner.shard.register", "add mars", source),
        ("owner.node.register", "staff it", source),
        ("owner.job.reroute", "use it", source),
    ]
    assert kinds_at(events, "job.spilled") == [
        (events[0][0], {"job": "j-000003", "from": "earth", "to": "mars", "reason": "reroute"})
    ]
    assert (engine.state.owner_actions, engine.state.outside_commands) == (3, 3)
    events += run(engine)
    assert [(t, d["job"], d["node"]) for t, d in kinds_at(events, "job.completed")] == [
        (3, "j-000001", "earth.a"),
        (4, "j-000003", "mars.a"),  # assigned at tick 2 in both cases
        (6, "j-000002", "earth.a"),
    ]


@pytest.mark.parametrize("requested", [False, True])
def test_batch_at_rest_with_one_bad_command_changes_nothing(requested: bool) -> None:
    engine, twin = engine_of(scenario()), engine_of(scenario())
    run(engine, until=2)
    run(twin, until=2)
    engine.state.checkpoint_requested = requested  # by an earlier checkpoint.save, or not
    before = dumps(engine.snapshot())
    with pytest.raises(BadInput) as caught:
        engine.apply_at_rest(commands.batch(BAD_PARTS, template("at-rest")))
    assert caught.value.render() == BAD_ERROR
    assert engine.events == []
    assert dumps(engine.snapshot()) == before
    assert engine.state.checkpoint_requested is requested  # not in the snapshot: kept apart
    assert "mars" not in engine.state.shards
    assert engine.state.shards["earth"].retired is False
    assert engine.state.jobs["j-000001"].node == "earth.a"
    assert run(engine) == run(twin)


def test_live_batch_with_one_bad_command_is_one_rejection_and_changes_nothing() -> None:
    engine, twin = engine_of(scenario()), engine_of(scenario())
    run(engine, until=2)
    run(twin, until=2)
    command = commands.batch(BAD_PARTS, template("live"))
    events = engine.run_tick([command])
    expected = twin.run_tick()
    assert events == [
        ("owner.rejected", {"input": command.to_json(), "error": BAD_ERROR}),
        *expected,
    ]
    snapshot = twin.snapshot()
    snapshot["outside_commands"] += 1  # a rejected live command is still counted
    assert dumps(engine.snapshot()) == dumps(snapshot)
    assert engine.state.checkpoint_requested is False
    assert engine.schedule_rejections == []
    assert_invariants(engine)
    assert run(engine) == run(twin)
