"""The memory a run needs, estimated before anything is written (docs/scenario-format.md,
"Limits"): no shipped scenario or benchmark size is refused on a normal machine, and a run
that cannot fit is refused with the numbers."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from agijobs.errors import BadInput
from agijobs.run import capacity
from agijobs.scenario.loading import build_plan, load_plan
from agijobs.scenario.models import Expectations, Scenario

from ..helpers import cli, file_hashes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench  # noqa: E402

MIB = 1024 * 1024


def needed(document: dict[str, object]) -> int:
    plan = build_plan(Scenario.model_validate(document), Expectations())
    return capacity.memory_needed(plan)[0]


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_need_little(path: Path) -> None:
    assert capacity.memory_needed(load_plan(path))[0] < 64 * MIB


def test_the_benchmark_sizes_fit_a_normal_machine() -> None:
    # The figures docs/scenario-format.md quotes, and all well under the 4 GiB or so a
    # laptop has free.
    assert round(needed(bench.scaled(1_000_000)) / MIB) == 192
    assert round(needed(bench.scaled(10_000_000)) / MIB) == 1490
    assert round(needed(bench.burst(100_000)) / MIB) == 158
    assert needed(bench.steady(1_000_000)) < 200 * MIB


def test_memory_available_is_read_from_the_machine() -> None:
    available = capacity.memory_available()
    assert available is not None and available > 64 * MIB


def test_a_run_that_cannot_fit_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capacity, "memory_available", lambda: 40 * MIB)
    scenario = ROOT / "scenarios" / "planetary.yaml"
    storage = tmp_path / "storage"
    result = cli("run", str(scenario), "--storage", str(storage))
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {scenario}: the run needs about 49 MiB of memory (10,000 jobs, 227 of them "
        "alive at once); this machine has 40 MiB available — run fewer jobs "
        "(workload -> N -> count), spread their arrivals (arrive -> per_tick), or free memory "
        '(docs/scenario-format.md, "Limits")\n'
    )
    assert not storage.exists()


def test_an_unknown_amount_of_memory_refuses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capacity, "memory_available", lambda: None)
    capacity.check_memory(load_plan(ROOT / "scenarios" / "planetary.yaml"), "planetary.yaml")


def test_plan_is_refused_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capacity, "memory_available", lambda: 1 * MIB)
    storage = tmp_path / "storage"
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    storage.mkdir()
    before = file_hashes(storage)
    result = cli("plan", str(tmp_path / "scenarios" / "planetary.yaml"), "--storage", str(storage))
    assert result.exit_code == 2, result.output
    assert "the run needs about 49 MiB of memory" in result.stderr
    assert file_hashes(storage) == before
    with pytest.raises(BadInput):
        capacity.check_memory(load_plan(ROOT / "scenarios" / "planetary.yaml"), "p")
