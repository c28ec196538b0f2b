"""The run's settings at engine level: checkpoint.save, checkpoint.configure and
reporting.configure (governance.update needs owner keys: test_authority.py).

Each command is tested for its effect on the state and the exact `owner.*` event it
records. Conservation is checked after every tick of every run.
"""

from __future__ import annotations

from ..helpers import engine_of
from .builders import cmd, effects, run, scenario

# ------------------------------------------------------- checkpoint and reporting


def test_checkpoint_save_requests_a_checkpoint_at_its_tick() -> None:
    engine = engine_of(scenario([cmd(2, "checkpoint.save")]))
    run(engine, until=1)
    assert engine.state.checkpoint_requested is False
    events = run(engine, until=2)
    assert effects(events, "checkpoint.save") == [{"tick": 2, "changed": True}]
    assert engine.state.checkpoint_requested is True


def test_checkpoint_configure_changes_the_interval() -> None:
    engine = engine_of(
        scenario([cmd(1, "checkpoint.configure", every=3), cmd(2, "checkpoint.configure", every=3)])
    )
    assert engine.state.checkpoint_every == 5  # run -> checkpoint_every
    events = run(engine, until=2)
    assert effects(events, "checkpoint.configure") == [
        {"every": [5, 3], "changed": True},
        {"every": [3, 3], "changed": False},
    ]
    assert engine.state.checkpoint_every == 3


def test_reporting_configure_changes_the_report_label() -> None:
    engine = engine_of(scenario([cmd(1, "reporting.configure", label="drill-7")]))
    events = run(engine, until=1)
    assert effects(events, "reporting.configure") == [
        {"label": ["latest", "drill-7"], "changed": True}
    ]
    assert engine.state.report_label == "drill-7"
