"""Forgeries an attacker's tools can make cannot pass `audit`.

Each forgery edits one field of a stored run and then re-chains the log and re-seals the
checkpoint with the project's own encoders (`forgery.py`): every hash and integrity field
holds, so only a verifier that re-derives the run can see it. The audit must exit 3 naming
the place: the event's line, or the checkpoint.

The sweep edits every kind of field there is in a rich stored run (every field of the
checkpoint's state, its job rows included, and every field of every event type); the
hypothesis test draws the stored run itself, and any field of it.

In open mode an owner command's recorded input (its actor, reason, arguments) is what the
log claims: a forger who edits it re-derives a consistent run. That gap is documented and
tested apart (signed heads and witnesses close it).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agijobs import Fabric
from agijobs.errors import IntegrityError
from agijobs.scenario.models import Scenario

from ..fabric.strategies import valid_scenarios
from .forgery import events, forge_event, forge_state, full_state, kind_of, leaves

ROOT = Path(__file__).resolve().parents[2]


def audit_refuses(storage: Path) -> str:
    """The audit's error (it must refuse), as the operator reads it."""
    with pytest.raises(IntegrityError) as refused:
        Fabric(str(storage)).audit()
    return refused.value.render()


def is_recorded_input(event: dict[str, Any], path: tuple[Any, ...]) -> bool:
    """Whether `path` is part of an owner command the log records as an input (open mode):
    the command itself, or the tick it was applied at."""
    data = event["data"]
    if not isinstance(data, dict) or "input" not in data or data["input"]["source"] == "schedule":
        return False
    return path[:2] == ("data", "input") or path == ("tick",)


@pytest.fixture(scope="module")
def rich_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planetary drill stopped during its maintenance pause, owner commands applied at
    rest (a node cordoned, one drained by tick 140, one draining past the end), then the
    runner started again (still paused) past its reroute and latency drills: queues, jobs
    running, nodes down, slow, cordoned and draining, every event type the drill writes."""
    storage = tmp_path_factory.mktemp("forgery") / "storage"
    fabric = Fabric(str(storage))
    fabric.run(ROOT / "scenarios" / "planetary.yaml", stop_after_ticks=130)
    fabric.set_latency("tighten mars", shard="mars", ms=300, actor="alice")
    fabric.reroute("drain luna", source="luna", target="earth", backlog=20, actor="bob")
    fabric.cordon("luna.nav-station", "flaky NIC", actor="carol")
    fabric.drain("mars.regolith-cradle", 10, "kernel upgrade", actor="carol")
    fabric.drain("earth.edge-europa", 500, "rack move", actor="carol")
    fabric.start_runner(stop_after_ticks=200)
    return storage


def copy(run: Path, tmp_path: Path) -> Path:
    storage = tmp_path / "forged"
    shutil.copytree(run, storage)
    return storage


def test_the_untouched_rich_run_audits(rich_run: Path) -> None:
    report = Fabric(str(rich_run)).audit().to_json()
    assert report["mode"] == "derived" and report["replay"]["checkpoint"] == "identical"


def test_every_kind_of_checkpoint_field_forged_is_refused(rich_run: Path, tmp_path: Path) -> None:
    state = full_state(rich_run)
    kinds: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for path in leaves(state):
        kinds.setdefault(kind_of(path), path)
    assert len(kinds) >= 75  # every field of shards, nodes, queues and job rows
    passed = []
    for path in kinds.values():
        storage = copy(rich_run, tmp_path)
        forge_state(storage, path)
        try:
            message = audit_refuses(storage)
        except pytest.fail.Exception:
            passed.append(path)
        else:
            assert "checkpoint.json" in message or "/jobs/" in message, (path, message)
        shutil.rmtree(storage)
    assert passed == []


def test_every_kind_of_event_field_forged_is_refused(rich_run: Path, tmp_path: Path) -> None:
    stored = events(rich_run)
    kinds: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
    for seq, event in enumerate(stored, start=1):
        for path in leaves(event):
            if path == ("hash",) or is_recorded_input(event, path):
                continue
            kinds.setdefault((event["type"], *kind_of(path)), (seq, path))
    assert len({kind[0] for kind in kinds}) >= 18  # every event type the drill writes
    passed = []
    for seq, path in kinds.values():
        storage = copy(rich_run, tmp_path)
        forge_event(storage, seq, path)
        try:
            message = audit_refuses(storage)
        except pytest.fail.Exception:
            passed.append((seq, path))
        else:
            assert f"line {seq} " in message, (seq, path, message)
        shutil.rmtree(storage)
    assert passed == []


# ------------------------------------------------------------------ drawn runs


@st.composite
def stored_runs(draw: Any) -> tuple[Scenario, int]:
    scenario = draw(valid_scenarios())
    return scenario, draw(st.integers(1, 60))


def stored(tmp_path: Path, scenario: Scenario, stop: int) -> Path:
    root = tmp_path / "drawn"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    source = root / "scenario.yaml"
    source.write_text(yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True)))
    storage = root / "storage"
    Fabric(str(storage)).run(source, stop_after_ticks=stop)
    return storage


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(run=stored_runs(), where=st.randoms(use_true_random=False))
def test_a_drawn_run_with_one_field_forged_is_refused(
    tmp_path: Path, run: tuple[Scenario, int], where: Any
) -> None:
    storage = stored(tmp_path, *run)
    if where.random() < 0.5:
        paths = list(leaves(full_state(storage)))
        path = where.choice(paths)
        forge_state(storage, path)
        message = audit_refuses(storage)
        assert "checkpoint.json" in message or "/jobs/" in message, (path, message)
    else:
        stored_events = events(storage)
        seq = where.randrange(1, len(stored_events) + 1)
        event = stored_events[seq - 1]
        choices = [p for p in leaves(event) if p != ("hash",) and not is_recorded_input(event, p)]
        path = where.choice(choices)
        forge_event(storage, seq, path)
        message = audit_refuses(storage)
        assert f"line {seq} " in message, (seq, path, message)


def test_an_event_appended_after_a_finished_run_is_refused(tmp_path: Path) -> None:
    """Chained on the final checkpoint's head: `resume` refuses a finished run, so it would
    never be dropped; the audit refuses it instead of accepting it forever."""
    storage = tmp_path / "storage"
    Fabric(str(storage)).run(ROOT / "scenarios" / "incident-pause.yaml")
    log = storage / "events.ndjson"
    lines = log.read_bytes().splitlines(keepends=True)
    last = orjson.loads(lines[-1])
    appended = {**last, "seq": last["seq"] + 1, "data": {**last["data"], "job": "forged-1"}}
    lines.append(orjson.dumps(appended, option=orjson.OPT_SORT_KEYS) + b"\n")
    log.write_bytes(b"".join(lines))
    rechain_tail(storage, lines)
    message = audit_refuses(storage)
    assert message.startswith(
        f"{storage}/events.ndjson: 1 event(s) and 0 byte(s) after the final checkpoint (seq "
        f"{last['seq']}) of a run that had ended: no runner or owner command writes there"
    ), message


def rechain_tail(storage: Path, lines: list[bytes]) -> None:
    """Hash the last line on the one before it, as a runner appending it would."""
    from agijobs.ledger.canonical import dumps, sha256_hex

    event = orjson.loads(lines[-1])
    body = {k: v for k, v in event.items() if k != "hash"}
    head = str(orjson.loads(lines[-2])["hash"])
    lines[-1] = dumps({**body, "hash": sha256_hex(head.encode() + dumps(body))}) + b"\n"
    (storage / "events.ndjson").write_bytes(b"".join(lines))


def open_log_handles(storage: Path) -> int:
    """How many of this process's file descriptors are open on the run's log."""
    log = str((storage / "events.ndjson").resolve())
    descriptors = Path("/proc/self/fd")
    return sum(1 for fd in descriptors.iterdir() if _target(fd) == log)


def _target(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:  # closed between listing and reading
        return ""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_refused_audit_leaves_no_handle_on_the_log_open(rich_run: Path, tmp_path: Path) -> None:
    """The refusal's traceback keeps the derivation's frames alive (a pytest report, an
    operator's debugger): the log it was reading must be closed by then, not at some
    later garbage collection (CI once saw a ResourceWarning from one, in another test)."""
    storage = copy(rich_run, tmp_path)
    stored_events = events(storage)
    seq = len(stored_events) // 2
    forge_event(storage, seq, ("tick",))
    with pytest.raises(IntegrityError) as refused:
        Fabric(str(storage)).audit()
    assert refused.value.__traceback__ is not None
    assert open_log_handles(storage) == 0
