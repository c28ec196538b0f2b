"""The bad-input corpus (tests/bad_inputs/cases.yaml): a clear error, the documented exit
code, no traceback and no hang, and a storage directory that is byte for byte what it was."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import resource
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


def nested(spec: dict[str, Any]) -> str:
    """`prefix`, then `open` and `close` each `depth` times, then `suffix`: a document
    nested deeper than any parser should recurse."""
    depth = spec["depth"]
    return (
        spec.get("prefix", "")
        + spec["open"] * depth
        + spec["close"] * depth
        + spec.get("suffix", "")
    )


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail rather than hang: a read of a FIFO that blocks is a defect, not a stuck suite."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def memory_cap(extra: int) -> Iterator[None]:
    """Fail rather than exhaust the machine: a read of /dev/zero that does not stop is a
    defect, not a reason to wake the OOM killer on a shared host."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * resource.getpagesize()
    cap = used + extra if hard == resource.RLIM_INFINITY else min(used + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_the_corpus_is_large_and_unique() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 110
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


def write_input(case: dict[str, Any], scenario: Path) -> None:
    """The case's input file at `scenario` (a FIFO, a changed base.yaml, raw text…)."""
    if case.get("fifo") is True:
        os.mkfifo(scenario)
    elif "set" in case:
        document = mutate(BASE, case["set"])
        if scenario.suffix == ".json":
            scenario.write_text(json.dumps(document), encoding="utf-8")
        else:
            scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    elif "raw" in case:
        scenario.write_text(case["raw"], encoding="utf-8")
    elif "copy" in case:  # a file of the repository, e.g. a reference demo file
        shutil.copy(HERE.parent.parent / case["copy"], scenario)
    elif "nest" in case:
        scenario.write_text(nested(case["nest"]), encoding="utf-8")
    elif "bytes_hex" in case:
        scenario.write_bytes(bytes.fromhex(case["bytes_hex"]))
    elif case.get("directory"):
        scenario.mkdir()
    else:
        assert case.get("missing") or "cli" in case or "path" in case, (
            f"case {case['id']} says nothing about its input"
        )
    if isinstance(case.get("fifo"), str):  # a FIFO beside it, which it names
        os.mkfifo(scenario.parent / case["fifo"])


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    case: dict[str, Any], stopped_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = tmp_path / "storage"
    shutil.copytree(stopped_run, storage)
    scenario = Path(case["path"]) if "path" in case else tmp_path / case.get("name", "s.yaml")
    if "path" not in case:
        write_input(case, scenario)

    def filled(text: str) -> str:
        return text.replace("{file}", str(scenario)).replace("{dir}", str(tmp_path))

    given = case.get("storage", str(storage))
    if "cli" in case:
        args = list(map(filled, case["cli"]))
        if given is not False:  # `keys` takes no storage
            args += ["--storage", given]
    else:
        args = ["run", str(scenario), "--storage", given]
    if "memory_available" in case:
        monkeypatch.setattr(
            "agijobs.run.capacity.memory_available", lambda: case["memory_available"]
        )
    before = file_hashes(storage)
    with deadline(60), memory_cap(2 << 30):
        result = CliRunner().invoke(app, args, env=case.get("env"), input=case.get("stdin"))
    assert result.exit_code == case["exit"], result.output
    # Refused through the one way out (a SystemExit with the code), never a traceback.
    assert isinstance(result.exception, SystemExit), result.exception
    messages = case["message"] if isinstance(case["message"], list) else [case["message"]]
    for message in messages:
        assert filled(message) in result.stderr
    assert "Traceback" not in result.output
    assert file_hashes(storage) == before


# ------------------------------------------------------------------ anything at all
#
# Whatever the bytes, `agijobs plan` answers with a plan (exit 0) or a refusal (exit 2),
# through the one way out: never a traceback, never a hang. The machine is said to have
# little memory, so that a valid scenario the fuzzing makes large is refused rather than
# planned for minutes.

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKENS = [
    *"-:[]{}&*!|>'\"#%@`,? \n\t.0123456789",
    "name", "fabric", "workload", "shards", "nodes", "seed", "count", "x", "e", "\x1b",
    "\u202e", "é", "!!int", "!!set", "!!binary", "&a", "*a", "<<", "null", "true", ".inf",
    "99999999999999999999999", "- ", ": ", "\n  ", "---", "...",
]  # fmt: skip
# The values that found defects before: the edges of 64 bits, what strict types refuse,
# what is not finite, and text a terminal would obey.
EDGES = st.sampled_from(
    [
        2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**300, -1, 0, 1, 10_000_001,
        float("inf"), float("-inf"), float("nan"), 6.0, 1e300, True, False, "6", "",
        "all", "earth", "luna", "earth.a", "pause-all", "\x1b[2J", "\u202e", "a\nb", "[/bold]",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
    | EDGES
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)


def leaf_paths(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        found = [f"{prefix}{key}" for key in value]
        for key, child in value.items():
            found += leaf_paths(child, f"{prefix}{key}.")
        return found
    if isinstance(value, list):
        found = [f"{prefix}{index}" for index in range(len(value))]
        for index, child in enumerate(value):
            found += leaf_paths(child, f"{prefix}{index}.")
        return found
    return []


# Every key of base.yaml but max_ticks, which would let a valid run last 10,000,000 ticks.
PATHS = [path for path in leaf_paths(BASE) if path != "run.max_ticks"]


def plan_answers(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="wt-fuzz-") as folder:
        scenario = Path(folder) / name
        scenario.write_bytes(data)
        args = ["plan", str(scenario), "--out", f"{folder}/plan.json", "--storage", folder]
        with (
            mock.patch("agijobs.run.capacity.memory_available", lambda: 52 << 20),
            deadline(60),
            memory_cap(2 << 30),
        ):
            result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception),
        result.output,
    )


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["s.yaml", "s.json"]))
def test_any_bytes(data: bytes, name: str) -> None:
    plan_answers(name, data)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_any_yaml_ish_text(text: str) -> None:
    plan_answers("s.yaml", text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(JSON_VALUES, st.sampled_from(["s.yaml", "s.json"]))
def test_any_json_value(value: Any, name: str) -> None:
    plan_answers(name, json.dumps(value).encode())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(PATHS), EDGES | JSON_VALUES, min_size=1, max_size=2))
def test_base_yaml_with_any_values(changes: dict[str, Any]) -> None:
    # Deepest first: a change below a key another change replaces would find nothing.
    ordered = dict(sorted(changes.items(), key=lambda item: -item[0].count(".")))
    try:
        document = mutate(BASE, ordered)
    except (KeyError, IndexError, TypeError, ValueError):
        return  # a path inside a value an earlier change replaced
    plan_answers("s.yaml", yaml.safe_dump(document).encode())
