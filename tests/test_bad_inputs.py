"""The bad-input corpus (tests/bad_inputs/cases.yaml): a clear error, the documented exit
code, and a storage directory that is byte for byte what it was."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from agijobs.cli import app

from .helpers import file_hashes

HERE = Path(__file__).parent / "bad_inputs"
BASE = yaml.safe_load((HERE / "base.yaml").read_text(encoding="utf-8"))
CASES = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))


def mutate(document: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply {dotted.path: value}; list indices may append; "__delete__" removes a key."""
    result = copy.deepcopy(document)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target: Any = result
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            index = int(last)
            if index == len(target):
                target.append(value)
            else:
                target[index] = value
        elif value == "__delete__":
            del target[last]
        else:
            target[last] = value
    return result


def test_the_corpus_is_large_and_unique() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-inputs")
    scenario = root / "base.yaml"
    shutil.copy(HERE / "base.yaml", scenario)
    storage = root / "storage"
    result = CliRunner().invoke(
        app, ["run", str(scenario), "--storage", str(storage), "--stop-after-ticks", "2"]
    )
    assert result.exit_code == 0, result.output
    return storage


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    case: dict[str, Any], stopped_run: Path, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    shutil.copytree(stopped_run, storage)
    scenario = tmp_path / case.get("name", "s.yaml")
    if "cli" in case:
        args = [*case["cli"], "--storage", str(storage)]
    else:
        if "set" in case:
            scenario.write_text(yaml.safe_dump(mutate(BASE, case["set"])), encoding="utf-8")
        elif "raw" in case:
            scenario.write_text(case["raw"], encoding="utf-8")
        elif "bytes_hex" in case:
            scenario.write_bytes(bytes.fromhex(case["bytes_hex"]))
        elif case.get("directory"):
            scenario.mkdir()
        else:
            assert case.get("missing"), f"case {case['id']} says nothing about its input"
        args = ["run", str(scenario), "--storage", str(storage)]
    before = file_hashes(storage)
    result = CliRunner().invoke(app, args, env=case.get("env"))
    assert result.exit_code == case["exit"], result.output
    assert case["message"].replace("{file}", str(scenario)) in result.stderr
    assert file_hashes(storage) == before
