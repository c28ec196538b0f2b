"""The owner commands are named once: the fabric's vocabulary (`COMMAND_NAMES`, the keys of
its handlers). The boundary's models, the effects' descriptions and the metrics that count
owner events each cover exactly that vocabulary."""

from __future__ import annotations

from agijobs.fabric.commands import COMMAND_NAMES, HANDLERS, JOBLESS
from agijobs.scenario.commands import COMMAND_MODELS
from agijobs.views.metrics import REPORTED


def test_the_models_cover_the_vocabulary_in_its_order() -> None:
    assert tuple(COMMAND_MODELS) == COMMAND_NAMES == tuple(HANDLERS)


def test_every_applied_command_is_reported_to_the_metrics() -> None:
    assert {f"owner.{name}" for name in COMMAND_NAMES} <= REPORTED


def test_the_commands_an_engine_without_jobs_may_apply_are_commands() -> None:
    assert set(JOBLESS) <= set(COMMAND_NAMES)
