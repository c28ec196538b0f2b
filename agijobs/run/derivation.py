"""A stored run re-made from its inputs and compared byte for byte: `audit` and `runner start`.

The plan is run again from tick 0 on a store that keeps nothing, with the owner commands
the log records as inputs, at their ticks, up to the checkpoint's tick. Each event it
writes is compared with the stored log as it is written (`ComparingSink`: no line is
held, the stored log is read forward in pieces), then the checkpoint it writes with the
stored checkpoint (its whole state, job table included), and the summary it would write
with summary.json. Equal bytes prove the stored run is exactly what its inputs give; the
first difference is an `IntegrityError` naming the line, or the field, and both values.

What the derivation cannot prove is what the inputs themselves claim: in open mode an
owner command's actor and reason are as recorded (signed heads and witnesses cover that).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadInput, Conflict, IntegrityError
from ..fabric.authority import records_input
from ..fabric.commands import batch
from ..fabric.engine import Engine
from ..fabric.inputs import BATCH, CommandInput
from ..ledger import jobtable
from ..ledger.canonical import chain_hash, dumps, split_event_line
from ..ledger.checkpoint import without_note
from ..ledger.difference import describe_difference, first_difference
from ..ledger.jobtable import TABLE_KEY
from ..ledger.jobtable import attach as attach_jobs
from ..store import Store
from ..store.files import CHECKPOINT, EVENTS
from ..store.memory import MemoryStore
from ..views.summary import check_expectations
from .loading import LoadedRun
from .simulation import simulate

PIECE = 1 << 20  # bytes of the stored log read at a time
# The last field of an event line is its type: a line ends `,"type":"<kind>"}`.
_INPUT_MARK = re.compile(rb',"type":"(?:owner|governance|executor)\.')
_SOURCE = "the plan and the recorded owner commands"
# What an external executor answered that the log records: a run holding any of these is
# re-made only with that executor (its receipts, its reports of node health).
EXECUTOR_INPUTS = ("executor.receipts", "executor.nodes")


@dataclass(slots=True)
class Derivation:
    """What re-making the run gave, once it matched the stored run."""

    tick: int
    seq: int
    head: str
    by_type: dict[str, int]
    over: bool  # the run had ended at the checkpoint: no runner writes after it
    summary: str  # "identical", or why summary.json was not compared

    def to_json(self) -> dict[str, Any]:
        return {
            "matches": True,
            "tick": self.tick,
            "seq": self.seq,
            "head": self.head,
            "events": "identical",
            "checkpoint": "identical",
            "summary": self.summary,
        }


def derive(
    store: Store,
    loaded: LoadedRun,
    recorded: list[tuple[int, CommandInput]],
    bridge: Any = None,
    *,
    summary: bool = True,
) -> Derivation:
    """Re-make `loaded` from its plan and `recorded` inputs (and `bridge`, a BridgeSettings,
    for a run whose external executor's answers are on record) up to its checkpoint,
    comparing every event, the checkpoint and (with `summary`) the summary with what
    `store` holds."""
    checkpoint = loaded.checkpoint
    assert checkpoint is not None and loaded.checkpoint_bytes is not None
    tick = int(checkpoint["tick"])
    hint = (
        "the log was not produced by this plan and these owner commands"
        + (", or the bridge answered differently this time" if bridge is not None else "")
        + ": restore the storage from a backup, or re-run the scenario"
    )
    # Closed on the way out, refusal or not: a refusal's traceback keeps these frames alive.
    with closing(store.read_event_chunks(PIECE)) as pieces:
        log = StoredLog(pieces, loaded.scan.mark_bytes)
        sink = ComparingSink(log, f"{store.location}/{EVENTS}", hint)
        deriving = DerivingStore(sink)
        engine = Engine(loaded.plan.inputs)
        counts: dict[str, int] = {}
        outcome = simulate(
            loaded.plan,
            batches_regrouped(recorded),
            until_tick=tick,
            run_id=loaded.run_id,
            bridge=bridge,
            store=deriving,
            engine=engine,
            counts=counts,
        )
    if sink.seq != loaded.seq:
        raise IntegrityError(
            f"{store.location}/{EVENTS}: the checkpoint is at seq {loaded.seq}, but {_SOURCE} "
            f"give {sink.seq} events up to its tick {tick}"
            + (f"; line {sink.seq + 1} is not one of them" if sink.seq < loaded.seq else ""),
            hint,
        )
    _compare_checkpoint(store, loaded, deriving, hint)
    compared = _compare_summary(store, loaded, outcome.summary) if summary else "not compared"
    over = engine.is_done() or engine.state.tick >= loaded.plan.inputs.max_ticks
    return Derivation(tick, sink.seq, sink.head, dict(sorted(counts.items())), over, compared)


def verify_state(store: Store, loaded: LoadedRun, bridge: Any = None) -> Engine | None:
    """`runner start`'s proof, before it acts: the checkpoint's state is what the owner commands
    the log records, applied to the plan, give. The run is re-made to the checkpoint's
    tick without encoding a single event (the log's bytes before the checkpoint are held
    to the digest the checkpoint records, as every load does; `audit` compares them one by
    one), and its state compared with the checkpoint's: exit 3 naming the first field
    that differs. Returns the engine re-made (None without a checkpoint): it is the
    checkpoint's state."""
    checkpoint = loaded.checkpoint
    if checkpoint is None:
        return None  # nothing to act on: the run starts again from tick 0
    name = f"{store.location}/{EVENTS}"
    recorded, executed = recorded_inputs(
        prefix_pieces(loaded), loaded.seq, loaded.plan.inputs.keyed, name
    )
    if executed and bridge is None:
        raise Conflict(
            f"the run in {store.location} used an external executor whose answers are on "
            "record: resuming it in process would answer differently",
            "continue it with `agijobs runner start --executor bridge` (and the same bridge)",
        )
    engine = Engine(loaded.plan.inputs)
    outcome = simulate(
        loaded.plan,
        batches_regrouped(recorded),
        until_tick=int(checkpoint["tick"]),
        run_id=loaded.run_id,
        bridge=bridge,
        engine=engine,
        state_only=True,
    )
    state, table = jobtable.split(engine.snapshot())
    if outcome.summary["seq"] != loaded.seq:
        raise IntegrityError(
            f"{name}: the checkpoint is at seq {loaded.seq}, but {_SOURCE} give "
            f"{outcome.summary['seq']} events up to its tick {checkpoint['tick']}",
            _ALTERED,
        )
    if dumps(state) != dumps(checkpoint["state"]):
        stored = {k: v for k, v in checkpoint.items() if k != "note"}
        derived = {**stored, "state": state}
        raise IntegrityError(
            f"{store.location}/{CHECKPOINT}: "
            f"{_difference(_with_jobs(stored, loaded.job_table), _with_jobs(derived, table))} "
            f"(re-derived to seq {loaded.seq}, tick {loaded.engine_tick})",
            _ALTERED,
        )
    engine.schedule_rejections = []  # the refusals of the history re-made, not of this run
    return engine


_ALTERED = (
    "the checkpoint was altered: restore it from a backup, or run `agijobs runner start` from an "
    "unaltered copy"
)


def stored_prefix(store: Store, end: int) -> Generator[tuple[bytes, int], None, None]:
    """The stored log's first `end` bytes, in newline-terminated pieces read as needed,
    each with the length to read of it (`input_events`)."""
    left = end
    with closing(store.read_event_chunks(PIECE)) as pieces:
        for piece in pieces:
            if len(piece) >= left:
                if left:
                    yield piece, left
                return
            left -= len(piece)
            yield piece, len(piece)


def prefix_pieces(loaded: LoadedRun) -> Iterator[tuple[bytes, int]]:
    """The loaded log up to the checkpoint, as one piece (it is in memory already)."""
    yield loaded.events, loaded.scan.mark_bytes


def input_events(
    pieces: Iterable[tuple[bytes, int]], count: int, name: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(seq, event) of each ``owner.*``, ``governance.*`` and ``executor.*`` line among the
    first `count` lines of the log, in order: the only lines a derivation reads. `pieces`
    are (bytes, end): the log in newline-terminated pieces, each read up to its `end`. The
    lines are found by their last field, one C-level search over the bytes, and only they
    are parsed; each names its own seq (a wrong one fails the derivation that follows)."""
    for data, end in pieces:
        for found in _INPUT_MARK.finditer(data, 0, end):
            at = found.start()
            stop = data.find(b"\n", at, end)
            if data.find(b',"type":"', at + 1, stop) >= 0 or data[stop - 2 : stop] != b'"}':
                continue  # a field inside the data, not the line's own type
            try:
                event = orjson.loads(data[data.rfind(b"\n", 0, at) + 1 : stop])
                seq = event["seq"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                event, seq = None, None
            if type(seq) is not int or not isinstance(event, dict):
                raise IntegrityError(
                    f"{name}: the line at byte {at} is not an event line",
                    "the log was altered: restore it from a backup",
                )
            if seq > count:
                return
            yield seq, event


def recorded_inputs(
    pieces: Iterable[tuple[bytes, int]], count: int, keyed: bool, name: str
) -> tuple[list[tuple[int, CommandInput]], bool]:
    """The owner commands the first `count` lines record as inputs, with their ticks, each
    held to the command line's rules; and whether an external executor's receipts are on
    record. A malformed one is an `IntegrityError` naming its line in `name`."""
    recorded: list[tuple[int, CommandInput]] = []
    executed = False
    for seq, event in input_events(pieces, count, name):
        kind = event.get("type")
        if kind in EXECUTOR_INPUTS:
            executed = True
            continue
        command = recorded_input(name, seq, event, keyed)
        if command is not None:
            recorded.append((event["tick"], command))
    return recorded, executed


def recorded_input(name: str, seq: int, event: dict[str, Any], keyed: bool) -> CommandInput | None:
    """The input an ``owner.*``/``governance.*`` event records, if it records one, held to
    the command line's rules (`recorded_command`); an `IntegrityError` naming the line and
    the field if it is malformed."""
    kind, data, tick = event.get("type"), event.get("data"), event.get("tick")
    label = f"{name}: line {seq} (seq {seq})"
    fix = "the log was altered: restore it from a backup"
    if not isinstance(data, dict) or not isinstance(tick, int) or not isinstance(kind, str):
        raise IntegrityError(f"{label}: not an event with a type, a tick and data", fix)
    try:
        if not records_input(keyed, kind, data):
            return None
        from ..scenario.command_input import recorded_command  # pydantic: only when needed

        return recorded_command(data["input"], label, ("data", "input"))
    except BadInput as error:
        raise IntegrityError(error.message, fix) from None
    except (KeyError, TypeError, AttributeError) as error:
        raise IntegrityError(
            f"{label}: not a well-formed {kind} event ({type(error).__name__}: {error})", fix
        ) from None


def batches_regrouped(recorded: list[tuple[int, CommandInput]]) -> list[tuple[int, CommandInput]]:
    """The recorded inputs with each live batch whole again. A live `apply` of several
    commands is one inbox entry, journaled and applied as one batch, but its log records one
    event per command, each with the batch's id: re-applied one by one they would write
    the same events but count three journal entries where the runner counted one."""
    regrouped: list[tuple[int, CommandInput]] = []
    run: list[CommandInput] = []
    for index, (tick, command) in enumerate(recorded):
        run.append(command)
        following = recorded[index + 1] if index + 1 < len(recorded) else None
        if (
            following is not None
            and command.source == "live"
            and command.id is not None
            and following[0] == tick
            and following[1].id == command.id
            and following[1].name != BATCH
        ):
            continue  # the next command is part of the same batch
        if len(run) == 1:
            regrouped.append((tick, command))
        else:
            parts = [(part.name, part.args, part.reason) for part in run]
            regrouped.append((tick, batch(parts, run[0])))
        run = []
    return regrouped


class StoredLog:
    """The stored log's first `end` bytes, read forward in pieces."""

    def __init__(self, pieces: Iterator[bytes], end: int) -> None:
        self.pieces, self.left = pieces, end
        self.buffer = memoryview(b"")

    def take(self, size: int) -> bytes:
        """The next `size` bytes (fewer at the end)."""
        parts: list[bytes] = []
        while size and self.left:
            if not self.buffer:
                piece = next(self.pieces, b"")
                if not piece:
                    break
                self.buffer = memoryview(piece)[: self.left]
            part = self.buffer[:size]
            self.buffer = self.buffer[len(part) :]
            self.left -= len(part)
            size -= len(part)
            parts.append(bytes(part))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def line(self) -> bytes:
        """The rest of the current line, without its newline."""
        parts = []
        while (part := self.take(1 << 12)) and (cut := part.find(b"\n")) < 0:
            parts.append(part)
        if part:
            parts.append(part[:cut] if cut >= 0 else part)
        return b"".join(parts)


class ComparingSink:
    """An event sink that writes nothing: it holds each derived piece against the stored
    log's next bytes, and at the first difference names the line and what differs."""

    def __init__(self, log: StoredLog, name: str, hint: str) -> None:
        self.log, self.name, self.hint = log, name, hint
        self.seq = 0
        self.head = "0" * 64

    def append(self, lines: list[bytes], chunk: bytes | None = None) -> None:
        data = chunk if chunk is not None else b"\n".join(lines) + b"\n"
        stored = self.log.take(len(data))
        if stored != data:
            self._diverged(lines, stored)
        self.seq += len(lines)
        self.head = split_event_line(lines[-1])[1]

    def _diverged(self, lines: list[bytes], stored: bytes) -> None:
        position, head = 0, self.head
        for index, derived in enumerate(lines):
            line_end = position + len(derived) + 1
            if stored[position:line_end] != derived + b"\n":
                seq = self.seq + index + 1
                cut = stored.find(b"\n", position)
                line = stored[position:] + self.log.line() if cut < 0 else stored[position:cut]
                raise IntegrityError(self._what_differs(seq, line, derived, head), self.hint)
            position, head = line_end, split_event_line(derived)[1]
        raise AssertionError("a difference was found, but in no line")  # pragma: no cover

    def _what_differs(self, seq: int, stored: bytes, derived: bytes, head: str) -> str:
        where = f"{self.name}: line {seq} (seq {seq})"
        if not stored:
            return f"{where}: missing, but {_SOURCE} give {derived.decode()[:120]}"
        try:
            body, claimed = split_event_line(stored)
            event = orjson.loads(stored)
        except (ValueError, orjson.JSONDecodeError):
            return f"{where}: not an event line"
        if chain_hash(head, body) != claimed:
            return f"{where}: hash does not match (line edited, removed, inserted or reordered)"
        found = first_difference(event, orjson.loads(derived))
        assert found is not None
        return f"{where}: {describe_difference(found, _SOURCE + ' give')}"

    def flush(self) -> None:
        pass

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass


class DerivingStore(MemoryStore):
    """The derivation's store: events go to the comparing sink, and the last checkpoint
    (with its job table) is kept to hold against the stored one."""

    location = "(derivation)"

    def __init__(self, sink: ComparingSink) -> None:
        super().__init__()
        self.sink = sink
        self.checkpoint: tuple[bytes, bytes | None] | None = None

    def open_events(self, keep_bytes: int, keep_seq: int = 0) -> ComparingSink:  # type: ignore[override]
        return self.sink

    def write_checkpoint(self, data: bytes, jobs: str, table: bytes | None) -> None:
        self.checkpoint = (data, table)


def _compare_checkpoint(
    store: Store, loaded: LoadedRun, deriving: DerivingStore, hint: str
) -> None:
    assert deriving.checkpoint is not None and loaded.checkpoint_bytes is not None
    data, table = deriving.checkpoint
    stored_bytes = without_note(loaded.checkpoint_bytes)  # the runner's signature aside
    if data == stored_bytes:
        return  # the job table it names was verified against its digest as it was read
    stored = orjson.loads(stored_bytes)
    derived = orjson.loads(data)
    del stored["integrity"], derived["integrity"]  # a seal differs whenever anything does
    raise IntegrityError(
        f"{store.location}/{CHECKPOINT}: "
        f"{_difference(_with_jobs(stored, loaded.job_table), _with_jobs(derived, table))} "
        f"(re-derived to seq {loaded.seq}, tick {loaded.engine_tick})",
        _ALTERED,
    )


def _with_jobs(document: dict[str, Any], rows: bytes | None) -> dict[str, Any]:
    """A checkpoint document with its state's job rows attached from `rows`, its table."""
    state = document.get("state")
    if isinstance(state, dict) and TABLE_KEY in state and rows is not None:
        return {**document, "state": attach_jobs(state, rows, "job table")}
    return document


def _compare_summary(store: Store, loaded: LoadedRun, derived: dict[str, Any]) -> str:
    raw = store.read_document("summary.json")
    if raw is None:
        return "there is none yet (the run has not stopped cleanly)"
    try:
        stored = orjson.loads(raw)
    except orjson.JSONDecodeError:
        stored = None
    if not isinstance(stored, dict):
        raise IntegrityError(f"{store.location}/summary.json: not a JSON object", _SUMMARY_FIX)
    if (stored.get("seq"), stored.get("tick")) != (loaded.seq, loaded.engine_tick):
        # An earlier stop's (ticks without events leave the seq where it was).
        return (
            f"it describes seq {stored.get('seq')!r} at tick {stored.get('tick')!r}, the "
            f"checkpoint seq {loaded.seq} at tick {loaded.engine_tick} (written before a "
            "crash; the next clean stop rewrites it)"
        )
    status, reason = stored.get("status"), stored.get("reason")
    expected = {**derived, "status": status, "reason": reason}
    expected.pop("expect", None)
    if status == "finished" or reason == "max-ticks":
        failures, skipped = check_expectations(loaded.plan, expected)
        expected["expect"] = {"held": not failures, "failures": failures, "skipped": skipped}
    if raw == dumps(expected) + b"\n":
        return "identical"
    difference = _difference(stored, orjson.loads(dumps(expected)))
    raise IntegrityError(f"{store.location}/summary.json: {difference}", _SUMMARY_FIX)


def _difference(stored: Any, derived: Any) -> str:
    found = first_difference(stored, derived)
    return "differs from the derived one" if found is None else describe_difference(found)


_SUMMARY_FIX = "summary.json was altered: restore it from a backup or re-create it by re-running"
