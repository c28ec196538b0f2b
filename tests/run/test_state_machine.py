"""A stateful model test: advance, stop, command, crash and resume in any order.

After every step the storage on disk must audit clean: the chain and the checkpoint verify,
every counter re-derived from the log equals the checkpoint's, jobs are conserved (count and
value), and replaying the scenario with the recorded owner commands reproduces the chain head
at the checkpoint — the live state is exactly what the log says.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from agijobs.audit.verify import audit
from agijobs.errors import Conflict
from agijobs.run.delivery import issue_command
from agijobs.run.lifecycle import continue_run, start_run
from agijobs.run.loading import load_run
from agijobs.run.runner import RunOptions
from agijobs.run.status import status
from agijobs.scenario.loading import build_plan
from agijobs.scenario.models import Expectations, Scenario
from agijobs.scenario.plan import Plan
from agijobs.store.files import FileStore

from ..helpers import scenario_dict

WORKLOAD = [
    {
        "prefix": "f",
        "shard": "earth",
        "skills": ["finance"],
        "count": 60,
        "duration": 3,
        "value": 10,
        "value_step": 2,
        "arrive": {"start": 1, "per_tick": 3},
    },
    {
        "prefix": "n",
        "shard": "luna",
        "skills": ["nav"],
        "count": 20,
        "duration": 2,
        "value": 7,
        "arrive": {"start": 5, "per_tick": 2},
    },
]
NODES = ["earth.a", "earth.b", "luna.c"]


@st.composite
def faults(draw: Any) -> list[dict[str, Any]]:
    """Outages and latency faults, injected at random ticks (faults are scenario inputs)."""
    drawn = []
    for _ in range(draw(st.integers(0, 4))):
        tick = draw(st.integers(1, 40))
        fault: dict[str, Any] = {
            "tick": tick,
            "node": draw(st.sampled_from(NODES)),
            "until": draw(st.integers(tick + 1, tick + 30)),
        }
        if draw(st.booleans()):
            fault["kind"] = "outage"
        else:
            fault.update(kind="latency", latency_ms=draw(st.integers(0, 400)))
        drawn.append(fault)
    return drawn


def plan_with(injected: list[dict[str, Any]]) -> Plan:
    scenario = Scenario.model_validate(
        scenario_dict(
            workload=WORKLOAD, faults=injected, run={"max_ticks": 400, "checkpoint_every": 4}
        )
    )
    return build_plan(scenario, Expectations())


COMMANDS = [
    ("pause-all", {}),
    ("resume", {}),
    ("set-latency", {"shard": "earth", "ms": 85}),
    ("set-latency", {"shard": "earth", "ms": 120}),
    ("reroute", {"from": "earth", "to": "luna", "backlog": 5}),
    ("reroute", {"from": "earth", "clear": True}),
]


class Crash(BaseException):
    pass


class FabricMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="agijobs-machine-"))
        self.store = FileStore(self.root / "storage")
        self.started = False
        self.over = False
        self.plan = plan_with([])

    @initialize(injected=faults())
    def inject_faults(self, injected: list[dict[str, Any]]) -> None:
        self.plan = plan_with(injected)

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _continue(self, options: RunOptions) -> None:
        if not self.started:
            self.started = True
            outcome = start_run(self.store, self.plan, "machine", options)
        else:
            outcome = continue_run(self.store, options)
        self.over = outcome.status == "finished"

    @precondition(lambda self: not self.over)
    @rule(ticks=st.integers(1, 25))
    def advance_and_stop(self, ticks: int) -> None:
        self._continue(RunOptions(stop_after_ticks=ticks))

    @precondition(lambda self: not self.over)
    @rule(after=st.integers(1, 10))
    def crash_mid_run(self, after: int) -> None:
        """Die part-way through a stretch: events written after the checkpoint are lost."""
        ran = [0]

        def die(engine: Any, seq: int) -> None:
            ran[0] += 1
            if ran[0] == after:
                raise Crash

        with contextlib.suppress(Crash):
            self._continue(RunOptions(progress=die))

    @precondition(lambda self: self.started and not self.over)
    @rule(index=st.integers(0, len(COMMANDS) - 1))
    def owner_command_at_rest(self, index: int) -> None:
        name, args = COMMANDS[index]
        try:
            result = issue_command(self.store, name, args, "machine", "machine", 5.0)
        except Conflict as refused:
            # A crash at the very last tick leaves a fabric whose jobs are all done but whose
            # stop was never written: nothing is left to command (`resume` records the end).
            assert "finished at tick" in refused.message
            assert load_run(self.store).engine().is_done()
            return
        assert result.mode == "at-rest"

    @rule()
    def read_status(self) -> None:
        """Always possible, finished or not: status answers and names a state it may be in."""
        if not self.started:  # no storage yet: named as missing, never taken for empty
            with pytest.raises(Conflict, match="does not exist"):
                status(self.store)
            return
        report = status(self.store)
        if self.over:
            assert report["state"] == "finished"
        else:
            assert report["state"] in {"stopped", "paused", "crashed"}

    @invariant()
    def storage_audits_and_replays_clean(self) -> None:
        if not self.started:
            return
        report = audit(self.store)
        assert report.conservation["holds"]
        assert report.replay is not None and report.replay["matches"]


FabricMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFabricMachine = FabricMachine.TestCase
