"""The audit's fast paths give what it gave before them: the chain checked by a forked child
beside the walk of the events (`agijobs.audit.chain`), and the ledger's inlined moves.

The reference is the audit as it was: every line hashed by `scan_events` before the walk,
in one process (`load_run(store, full_scan=True)`), and the ledger counting event by event
(`_EventByEventLedger`, its code before the walk inlined it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agijobs.audit import chain as audit_chain
from agijobs.audit import verify as audit_module
from agijobs.audit.chain import ChainCheck
from agijobs.audit.verify import audit
from agijobs.audit.walk import TALLIES, Ledger, walk_log
from agijobs.errors import IntegrityError
from agijobs.ledger.canonical import GENESIS_HASH, dumps, encode_event, sha256_hex
from agijobs.ledger.chain import scan_events, verified_head
from agijobs.run.loading import load_run
from agijobs.store.files import FileStore

from ..helpers import cli

SCENARIOS = Path(__file__).parents[2] / "scenarios"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished run, one stopped mid-way, and one whose process died between checkpoints."""
    made = {}
    for name, extra, env in (
        ("finished", (), {}),
        ("stopped", ("--stop-after-ticks", "30"), {}),
        ("crashed", (), {"AGIJOBS_CRASH_AT_TICK": "55"}),
    ):
        storage = tmp_path_factory.mktemp(name) / "storage"
        command = [
            "run",
            str(SCENARIOS / "crash-resume.yaml"),
            "--storage",
            str(storage),
            *extra,
        ]
        if env:
            _run_and_die(command, env)
        else:
            result = cli(*command)
            assert result.exit_code == 0, result.output
        made[name] = storage
    return made


def _run_and_die(command: list[str], env: dict[str, str]) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "agijobs", *command],
        env={**os.environ, **env},
        capture_output=True,
        check=False,
    )
    assert result.returncode == -9, result.stderr  # SIGKILLed at its crash point


@pytest.fixture
def copy_of(runs: dict[str, Path], tmp_path: Path) -> Callable[[str], Path]:
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(runs[name], target)
        return target

    return copy


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids the audit forks; every log is long enough to fork for."""
    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(audit_chain, "FORK_FROM", 0)
    monkeypatch.setattr(audit_chain.os, "fork", fork)
    return pids


@pytest.fixture(params=["forked", "in process"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test once with the chain checked by a child (which must then have been forked,
    and reaped), and once in this process."""
    if request.param == "in process":
        monkeypatch.setattr(audit_chain, "FORK_FROM", 1 << 62)
        yield request.param
        return
    pids: list[int] = request.getfixturevalue("forks")
    # Small chunks, so that the child and the parent each check part of the log.
    monkeypatch.setattr(audit_chain, "CHUNK", 64 << 10)
    yield request.param
    assert pids, "the audit checked the chain in process"
    for pid in pids:
        _assert_reaped(pid)


def _assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # neither running nor a zombie: reaped


def _reference(storage: Path) -> dict[str, Any]:
    """The audit as it was: the full scan first, then the walk, in one process."""
    store = FileStore(storage)
    loaded = load_run(store, full_scan=True)
    return audit_module._walked(store, loaded).to_json()


def _reference_error(storage: Path) -> str:
    with pytest.raises(IntegrityError) as caught:
        _reference(storage)
    return caught.value.render()


# ------------------------------------------------------------------ whole reports


@pytest.mark.parametrize("name", ["finished", "stopped", "crashed"])
def test_the_report_is_the_reference_report(
    mode: str, copy_of: Callable[[str], Path], name: str
) -> None:
    storage = copy_of(name)
    report = audit(FileStore(storage), quick=True).to_json()
    assert report == _reference(storage)
    if name == "crashed":
        assert report["after_checkpoint"] > 0  # lines after the checkpoint: load_run's share


def test_a_torn_tail_is_reported_as_before(mode: str, copy_of: Callable[[str], Path]) -> None:
    storage = copy_of("crashed")
    log = storage / "events.ndjson"
    log.write_bytes(log.read_bytes() + b'{"data":{"job":"earth-fin')
    report = audit(FileStore(storage), quick=True).to_json()
    assert report["torn_bytes"] == 25
    assert report == _reference(storage)


# ------------------------------------------------------------------ which error comes first


def _reseal_digest(storage: Path) -> None:
    """Re-seal the checkpoint over the log's present bytes, as a forger would: `load_run`
    then trusts the edited prefix by its digest, and only the full chain check finds it."""
    raw = orjson.loads((storage / "checkpoint.json").read_bytes())
    del raw["integrity"]
    data = (storage / "events.ndjson").read_bytes()
    size = sum(len(line) for line in data.splitlines(keepends=True)[: raw["seq"]])
    raw["events"] = {"bytes": size, "sha256": hashlib.sha256(data[:size]).hexdigest()}
    (storage / "checkpoint.json").write_bytes(
        dumps({**raw, "integrity": sha256_hex(dumps(raw))}) + b"\n"
    )


def _edit_line(storage: Path, kind: bytes, where: float, edit: Callable[[bytes], bytes]) -> int:
    """Edit the first `kind` event from `where` (a fraction of the log) on; its seq."""
    path = storage / "events.ndjson"
    lines = path.read_bytes().splitlines(keepends=True)
    seq = next(
        i + 1
        for i in range(int(where * len(lines)), len(lines))
        if b'"type":"' + kind + b'"' in lines[i]
    )
    lines[seq - 1] = edit(lines[seq - 1])
    path.write_bytes(b"".join(lines))
    return seq


@pytest.mark.parametrize("where", [0.05, 0.5, 0.95])  # the child's share, either, the parent's
@pytest.mark.parametrize(
    ("kind", "edit", "walk_meets"),
    [
        (  # a job renamed: the ledger finds it is not live
            b"job.assigned",
            lambda line: line.replace(b'"job":"', b'"job":"X', 1),
            "which is not live",
        ),
        (  # not JSON any more: orjson fails on it
            b"job.completed",
            lambda line: line.replace(b'{"data":{', b'{"data":{{', 1),
            "invalid JSON",
        ),
        (  # another tick: nothing the walk checks
            b"job.completed",
            lambda line: line.replace(b'"tick":', b'"tick":1', 1),
            "nothing",
        ),
    ],
)
def test_a_broken_chain_wins_over_what_the_walk_meets_on_the_same_line(
    mode: str,
    copy_of: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    where: float,
    kind: bytes,
    edit: Callable[[bytes], bytes],
    walk_meets: str,
) -> None:
    storage = copy_of("finished")
    seq = _edit_line(storage, kind, where, edit)
    _reseal_digest(storage)
    store = FileStore(storage)
    with pytest.raises(IntegrityError) as caught:
        audit(store, quick=True)
    assert caught.value.render() == (
        f"{storage}/events.ndjson: line {seq} (seq {seq}): hash does not match (line edited, "
        "removed, inserted or reordered) — the log was altered; restore it or re-run"
    )
    assert caught.value.render() == _reference_error(storage)
    # What the walk meets on that line when there is no chain verdict to wait for:
    with monkeypatch.context() as patched:
        patched.setattr(ChainCheck, "holds", lambda self: True)
        if walk_meets == "nothing":
            assert audit(store, quick=True).to_json()["ok"] is True
            return
        with pytest.raises(IntegrityError) as walked:
            audit(store, quick=True)
    if walk_meets == "invalid JSON":  # named, never a bare parser error
        assert str(walked.value).startswith(
            f"events.ndjson: line {seq} (seq {seq}): not a well-formed event (JSONDecodeError"
        )
    else:
        assert str(walked.value).startswith(f"events.ndjson: line {seq} (seq {seq}): job.")
        assert walk_meets in str(walked.value)


def test_a_prefix_with_a_line_too_many_is_refused_as_before(
    mode: str, copy_of: Callable[[str], Path]
) -> None:
    """The checkpoint's last line repeated, hashed on, and the digest and head re-sealed
    over it: `load_run` trusts a prefix of seq + 1 lines whose last claims the seq. The
    walk reads seq lines; the chain check must count them."""
    storage = copy_of("finished")
    path = storage / "events.ndjson"
    lines = path.read_bytes().splitlines(keepends=True)
    raw = orjson.loads((storage / "checkpoint.json").read_bytes())
    del raw["integrity"]
    last = orjson.loads(lines[raw["seq"] - 1])
    again, head = encode_event(last["hash"], last["seq"], last["tick"], last["type"], last["data"])
    lines.insert(raw["seq"], again + b"\n")
    data = b"".join(lines)
    size = sum(len(line) for line in lines[: raw["seq"] + 1])
    raw["head"] = head
    raw["events"] = {"bytes": size, "sha256": hashlib.sha256(data[:size]).hexdigest()}
    path.write_bytes(data)
    (storage / "checkpoint.json").write_bytes(
        dumps({**raw, "integrity": sha256_hex(dumps(raw))}) + b"\n"
    )
    load_run(FileStore(storage))  # the fast load takes it
    with pytest.raises(IntegrityError) as caught:
        audit(FileStore(storage), quick=True)
    assert caught.value.render() == _reference_error(storage)
    assert "chain head at seq" in caught.value.render()


def test_a_broken_chain_wins_over_a_conservation_error(
    mode: str, copy_of: Callable[[str], Path]
) -> None:
    storage = copy_of("finished")
    seq = _edit_line(
        storage, b"job.submitted", 0.3, lambda line: line.replace(b'"value":', b'"value":9', 1)
    )
    _reseal_digest(storage)
    with pytest.raises(IntegrityError, match=rf"line {seq} \(seq {seq}\): hash does not match"):
        audit(FileStore(storage), quick=True)


def test_a_line_only_the_full_scan_accepts_is_audited_on_its_result(
    mode: str, copy_of: Callable[[str], Path]
) -> None:
    """`verified_head` is strict: a seq written with a space before it is valid JSON that
    `scan_events` reads as the right seq. The audit then falls back to the full scan."""
    storage = copy_of("finished")
    path = storage / "events.ndjson"
    lines = path.read_bytes().splitlines(keepends=True)
    target = len(lines) // 2
    lines[target] = lines[target].replace(b'"seq":', b'"seq": ', 1)
    for i in range(target, len(lines)):  # re-chain from there, keeping the spaced seq
        body, _, _ = lines[i].rpartition(b',"hash":"')
        rest = lines[i][len(body) + len(b',"hash":"') + 65 :]
        prev = orjson.loads(lines[i - 1])["hash"].encode()
        digest = hashlib.sha256(prev + body + rest.rstrip(b"\n")).hexdigest().encode()
        lines[i] = body + b',"hash":"' + digest + b'"' + rest
    path.write_bytes(b"".join(lines))
    raw = orjson.loads((storage / "checkpoint.json").read_bytes())
    del raw["integrity"]
    raw["head"] = orjson.loads(lines[raw["seq"] - 1])["hash"]
    (storage / "checkpoint.json").write_bytes(
        dumps({**raw, "integrity": sha256_hex(dumps(raw))}) + b"\n"
    )
    _reseal_digest(storage)
    data = path.read_bytes()
    assert scan_events(data).error is None
    assert verified_head(data.split(b"\n")[:-1], 0, GENESIS_HASH.encode()) is None
    assert audit(FileStore(storage), quick=True).to_json() == _reference(storage)


# ------------------------------------------------------------------ the child


def test_no_child_is_left_behind_when_the_walk_is_interrupted(
    forks: list[int], copy_of: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(audit_module, "walk_log", interrupted)
    with pytest.raises(KeyboardInterrupt):
        audit(FileStore(copy_of("finished")), quick=True)
    assert len(forks) == 1
    _assert_reaped(forks[0])


def test_no_child_is_left_behind_when_the_walk_fails(
    forks: list[int], copy_of: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(audit_module, "walk_log", failing)
    with pytest.raises(RuntimeError, match="a bug"):
        audit(FileStore(copy_of("finished")), quick=True)
    assert len(forks) == 1
    _assert_reaped(forks[0])


def _log(storage: Path) -> bytes:
    return (storage / "events.ndjson").read_bytes()


def _broken(data: bytes, where: str) -> bytes:
    lines = data.split(b"\n")
    line = {"first": 0, "middle": len(lines) // 2, "last": len(lines) - 2}[where]
    lines[line] = lines[line].replace(b'"tick":', b'"tick":1', 1)
    return b"\n".join(lines)


@pytest.mark.parametrize("child", ["checks nothing", "checks half", "checks everything"])
@pytest.mark.parametrize("broken", [None, "first", "middle", "last"])
def test_whatever_share_the_child_checks_the_verdict_is_the_same(
    forks: list[int],
    runs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    child: str,
    broken: str | None,
) -> None:
    """The parent checks, from the end, whatever the child has not: a line is judged
    wherever the two meet."""
    data = _log(runs["finished"])
    if broken is not None:
        data = _broken(data, broken)
    end = len(data)
    monkeypatch.setattr(audit_chain, "CHUNK", 16 << 10)
    real = audit_chain._hash_forward

    def partial(data: bytes, end: int, progress: memoryview, parent: int) -> int:
        if child == "checks nothing":
            return 0
        progress[audit_chain._CLAIMED] = end // 2  # as if the parent had claimed half already
        return real(data, end, progress, parent)

    if child != "checks everything":
        monkeypatch.setattr(audit_chain, "_hash_forward", partial)
    with ChainCheck(data, data.count(b"\n"), end) as chain:
        assert chain.pid and chain.progress is not None
        if child == "checks everything":  # let it finish (unreaped) before the parent looks
            os.waitid(os.P_PID, chain.pid, os.WEXITED | os.WNOWAIT)
        assert chain.holds() is (broken is None)
        # Where the parent's own share began: the start, somewhere, or nowhere (the child
        # had checked every line, or had met the broken one and said so).
        claimed = {"checks nothing": 0, "checks half": None, "checks everything": end}[child]
        if claimed is not None and (broken is None or child == "checks everything"):
            assert chain.progress[audit_chain._CLAIMED] == claimed
    assert len(forks) == 1
    _assert_reaped(forks[0])


@pytest.mark.parametrize("lines", [-1, 1])
def test_a_log_with_another_number_of_lines_does_not_hold(
    forks: list[int], runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, lines: int
) -> None:
    """The child counts lines from the start and the parent from the end: where they meet,
    the counts must agree."""
    monkeypatch.setattr(audit_chain, "CHUNK", 16 << 10)
    data = _log(runs["finished"])
    with ChainCheck(data, data.count(b"\n") + lines, len(data)) as chain:
        assert chain.holds() is False
    with ChainCheck(data, data.count(b"\n"), len(data)) as chain:
        assert chain.holds() is True


def test_a_child_whose_parent_died_stops() -> None:
    data = encode_event(GENESIS_HASH, 1, 0, "x", {})[0] + b"\n"
    progress = memoryview(bytearray(32)).cast("q")
    progress[audit_chain._CLAIMED] = len(data)
    assert audit_chain._hash_forward(data, len(data), progress, parent=-1) == 1
    assert list(progress) == [0, 0, len(data), 0]  # it hashed nothing, and found nothing wrong
    assert audit_chain._hash_forward(data, len(data), progress, os.getppid()) == 0
    assert list(progress) == [1, len(data), len(data), 0]


def test_a_small_log_is_checked_in_process(
    runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise AssertionError("forked for a small log")

    monkeypatch.setattr(audit_chain.os, "fork", no_fork)
    data = _log(runs["finished"])
    assert len(data) < audit_chain.FORK_FROM
    for log, holds in ((data, True), (_broken(data, "middle"), False)):
        with ChainCheck(log, log.count(b"\n"), len(log)) as chain:
            assert chain.holds() is holds
    with ChainCheck(data, data.count(b"\n") + 1, len(data)) as chain:
        assert chain.holds() is False


# ------------------------------------------------------------------ verified_head


def _rechain(lines: list[bytes]) -> None:
    """Re-hash every line that has a hash field on the one before, as a forger would, so
    that only the fields around the hash can be wrong."""
    prev = GENESIS_HASH.encode()
    for i, line in enumerate(lines):
        cut = line.rfind(b',"hash":"')
        if cut < 0 or len(line) < cut + 74:
            return
        digest = hashlib.sha256(prev + line[:cut] + line[cut + 74 :]).hexdigest().encode()
        lines[i] = line[: cut + 9] + digest + line[cut + 73 :]
        prev = digest


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(line=5, back=1, byte=ord("}"))  # unchanged: both accept
@example(line=5, back=25, byte=ord("x"))  # the tick, no longer a number
@example(line=5, back=34, byte=ord("7"))  # another seq
@example(line=5, back=35, byte=ord(" "))  # a space before the seq: only scan_events takes it
@given(line=st.integers(0, 99), back=st.integers(1, 90), byte=st.integers(0, 255))
def test_verified_head_accepts_nothing_that_scan_events_rejects(
    runs: dict[str, Path], line: int, back: int, byte: int
) -> None:
    lines = (runs["finished"] / "events.ndjson").read_bytes().split(b"\n")[:100]
    edited = bytearray(lines[line])
    edited[len(edited) - back] = byte  # the end of a line: hash, seq, tick and type
    lines[line] = bytes(edited)
    lines = b"\n".join(lines).split(b"\n")  # as `ChainCheck` gets them (a newline splits)
    _rechain(lines)
    head = verified_head(lines, 0, GENESIS_HASH.encode())
    scan = scan_events(b"".join(line + b"\n" for line in lines))
    if head is not None:
        assert scan.error is None and scan.count == len(lines)
        assert head.decode() == scan.head
    if back == 1 and byte == ord("}"):
        assert head is not None


def test_verified_head_of_a_whole_log_is_its_head(runs: dict[str, Path]) -> None:
    data = _log(runs["finished"])
    lines = data.split(b"\n")
    head = verified_head(lines[:-1], 0, GENESIS_HASH.encode())
    assert head is not None and head.decode() == scan_events(data).head
    # Checked in two parts, each from the hash the line before it claims.
    middle = len(lines) // 2
    first = verified_head(lines[:middle], 0, GENESIS_HASH.encode())
    assert first is not None
    assert verified_head(lines[middle:-1], middle, first) == head


# ------------------------------------------------------------------ the ledger


class _EventByEventLedger:
    """The ledger as it was before the walk inlined its commonest moves (the oracle)."""

    def __init__(self) -> None:
        self.jobs: dict[str, list[Any]] = {}
        self.shards: dict[str, dict[str, list[int]]] = {}

    def _add(self, shard: str, name: str, value: int, sign: int = 1) -> None:
        counters = self.shards.get(shard)
        if counters is None:
            counters = self.shards[shard] = {t: [0, 0] for t in TALLIES}
        tally = counters[name]
        tally[0] += sign
        tally[1] += sign * value

    def apply(self, seq: int, kind: str, data: dict[str, Any]) -> None:
        if not kind.startswith("job."):
            return
        job_id = data["job"]
        if kind == "job.submitted":
            if job_id in self.jobs:
                raise self._bad(seq, f"job {job_id} submitted twice")
            self.jobs[job_id] = [data["shard"], data["value"], "queued"]
            self._add(data["shard"], "submitted", data["value"])
            self._add(data["shard"], "queued", data["value"])
            return
        job = self.jobs.get(job_id)
        if job is None:
            raise self._bad(seq, f"{kind} for job {job_id}, which is not live")
        shard, value, where = job
        if kind == "job.deferred":
            self._expect(seq, job_id, where, "queued", kind)
        elif kind == "job.spilled":
            if shard != data["from"]:
                raise self._bad(seq, f"job {job_id} spilled from {data['from']} but is in {shard}")
            self._add(shard, where, value, -1)
            self._add(shard, "spilled_out", value)
            self._add(data["to"], "spilled_in", value)
            self._add(data["to"], "queued", value)
            job[0], job[2] = data["to"], "queued"
        elif kind == "job.assigned":
            self._expect(seq, job_id, where, "queued", kind)
            self._add(shard, "queued", value, -1)
            self._add(shard, "in_flight", value)
            job[2] = "in_flight"
        elif kind in ("job.requeued", "job.rejected"):
            self._expect(seq, job_id, where, "in_flight", kind)
            self._add(shard, "in_flight", value, -1)
            self._add(shard, "queued", value)
            job[2] = "queued"
        elif kind in ("job.completed", "job.failed", "job.cancelled"):
            final = {"job.completed": "completed", "job.failed": "failed"}.get(kind, "cancelled")
            if kind == "job.completed":
                self._expect(seq, job_id, where, "in_flight", kind)
            self._add(shard, where, value, -1)
            self._add(shard, final, value)
            del self.jobs[job_id]

    def _expect(self, seq: int, job_id: str, where: str, wanted: str, kind: str) -> None:
        if where != wanted:
            raise self._bad(seq, f"{kind} for job {job_id}, which is {where}, not {wanted}")

    @staticmethod
    def _bad(seq: int, what: str) -> IntegrityError:
        return IntegrityError(
            f"events.ndjson: line {seq} (seq {seq}): {what}",
            "the log does not describe a valid run",
        )


def _oracle(events: list[dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
    ledger = _EventByEventLedger()
    try:
        for seq, event in enumerate(events, start=1):
            ledger.apply(seq, event["type"], event["data"])
    except IntegrityError as error:
        return ledger.shards, str(error)
    return ledger.shards, None


def _walked(events: list[dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
    data = b"".join(orjson.dumps(event) + b"\n" for event in events)
    captured: list[Ledger] = []
    real_init = Ledger.__init__

    def init(self: Ledger) -> None:
        real_init(self)
        captured.append(self)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(Ledger, "__init__", init)
        try:
            walk = walk_log(data, len(data), len(events), None)  # type: ignore[arg-type]
        except IntegrityError as error:
            ledger, failure = captured[0], str(error)
        else:
            ledger, failure = walk.ledger, None
    return {shard: ledger.counters(shard) for shard in ledger.shards}, failure


KINDS = [
    "job.submitted",
    "job.assigned",
    "job.completed",
    "job.requeued",
    "job.rejected",
    "job.deferred",
    "job.spilled",
    "job.failed",
    "job.cancelled",
]


@st.composite
def journeys(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Job events that mostly follow valid journeys, with an impossible move now and then."""
    values = st.integers(-5, 5000) | st.floats(-10, 10, allow_nan=False) | st.booleans()
    shards = st.sampled_from(["earth", "mars", "luna"])
    moves = {
        None: ["job.submitted"],
        "queued": ["job.assigned", "job.spilled", "job.deferred", "job.failed", "job.cancelled"],
        "in_flight": [
            "job.completed",
            "job.requeued",
            "job.rejected",
            "job.failed",
            "job.cancelled",
        ],
    }
    where: dict[str, tuple[str, str]] = {}  # job -> (shard, queued or in_flight)
    events = []
    for _ in range(draw(st.integers(1, 80))):
        job = draw(st.sampled_from(["a", "b", "c", "d"]))
        shard, state = where.get(job, ("earth", None))
        if draw(st.integers(0, 9)):
            kind = draw(st.sampled_from(moves[state]))
        else:
            kind = draw(st.sampled_from(KINDS))  # often impossible
        data: dict[str, Any] = {"job": job}
        if kind == "job.submitted":
            shard = draw(shards)
            data.update(shard=shard, value=draw(values))
            where[job] = (shard, "queued")
        elif kind == "job.spilled":
            to = draw(shards)
            data.update({"from": shard if draw(st.integers(0, 9)) else draw(shards), "to": to})
            where[job] = (to, "queued")
        elif kind == "job.assigned":
            where[job] = (shard, "in_flight")
        elif kind in ("job.requeued", "job.rejected"):
            where[job] = (shard, "queued")
        elif kind in ("job.completed", "job.failed", "job.cancelled"):
            where.pop(job, None)
        events.append({"type": kind, "data": data, "tick": 1})
    return events


@settings(max_examples=400)
@given(events=journeys())
def test_the_walk_counts_as_the_event_by_event_ledger(events: list[dict[str, Any]]) -> None:
    assert _walked(events) == _oracle(events)


def test_the_walk_counts_a_shipped_run_as_the_event_by_event_ledger(
    runs: dict[str, Path],
) -> None:
    events = [
        orjson.loads(line)
        for line in (runs["finished"] / "events.ndjson").read_bytes().splitlines()
        if b'"type":"job.' in line
    ]
    shards, failure = _oracle(events)
    assert failure is None and len(shards) == 2
    assert _walked(events) == (shards, None)
