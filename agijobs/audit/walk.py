"""The audit's walk of the event log: every job's journey re-derived from the events alone,
every shard's counters with it, and the governance timeline and the inputs a replay needs
gathered on the way.

A move the log describes that cannot happen (a job assigned that was not queued, completed
that was not running) is an `IntegrityError` naming its seq; the counters derived are then
held against the checkpoint's (`compare_counters`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import IntegrityError
from ..fabric.inputs import CommandInput
from ..fabric.state import TALLIES
from ..run.acyclic import rarely_collected
from ..run.derivation import input_events, recorded_input
from .authority import AuthorityCheck
from .report import timeline_entry

_CHUNK = 1 << 20  # bytes of the log split into lines at a time

# A shard's tallies, flat: the [count, value] of each of TALLIES in turn, from these offsets.
_AT = {name: 2 * i for i, name in enumerate(TALLIES)}
_SUBMITTED, _QUEUED, _IN_FLIGHT, _COMPLETED = (
    _AT[name] for name in ("submitted", "queued", "in_flight", "completed")
)
_FINAL = {
    "job.completed": _COMPLETED,
    "job.failed": _AT["failed"],
    "job.cancelled": _AT["cancelled"],
}


class Ledger:
    """Counters per shard re-derived from events, and each live job's journey.

    A job is ``[shard, value, where, tallies]``, `tallies` being its shard's, so that a
    move updates them without looking the shard up. Every tally takes the same additions
    in the same order as counting event by event does, so even a float value sums alike.
    """

    def __init__(self) -> None:
        self.jobs: dict[str, list[Any]] = {}
        self.shards: dict[str, list[Any]] = {}

    def tallies(self, shard: str) -> list[Any]:
        tallies = self.shards.get(shard)
        if tallies is None:
            tallies = self.shards[shard] = [0] * (2 * len(TALLIES))
        return tallies

    def counters(self, shard: str) -> dict[str, list[Any]]:
        tallies = self.shards.get(shard) or [0] * (2 * len(TALLIES))
        return {name: tallies[at : at + 2] for name, at in _AT.items()}

    def apply(self, seq: int, kind: str, data: dict[str, Any]) -> None:
        """Apply one ``job.*`` event; raise `IntegrityError` for an impossible move."""
        job_id = data["job"]
        if kind == "job.submitted":
            if job_id in self.jobs:
                raise self._bad(seq, f"job {job_id} submitted twice")
            shard, value = data["shard"], data["value"]
            tallies = self.tallies(shard)
            self.jobs[job_id] = [shard, value, "queued", tallies]
            _add(tallies, _SUBMITTED, value)
            _add(tallies, _QUEUED, value)
            return
        job = self.jobs.get(job_id)
        if job is None:
            raise self._bad(seq, f"{kind} for job {job_id}, which is not live")
        shard, value, where, tallies = job
        if kind == "job.deferred":
            self._expect(seq, job_id, where, "queued", kind)
        elif kind == "job.spilled":
            if shard != data["from"]:
                raise self._bad(seq, f"job {job_id} spilled from {data['from']} but is in {shard}")
            to = self.tallies(data["to"])
            _take(tallies, _AT[where], value)
            _add(tallies, _AT["spilled_out"], value)
            _add(to, _AT["spilled_in"], value)
            _add(to, _QUEUED, value)
            job[0], job[2], job[3] = data["to"], "queued", to
        elif kind == "job.assigned":
            self._expect(seq, job_id, where, "queued", kind)
            _take(tallies, _QUEUED, value)
            _add(tallies, _IN_FLIGHT, value)
            job[2] = "in_flight"
        elif kind in ("job.requeued", "job.rejected"):
            self._expect(seq, job_id, where, "in_flight", kind)
            _take(tallies, _IN_FLIGHT, value)
            _add(tallies, _QUEUED, value)
            job[2] = "queued"
        elif kind in _FINAL:
            if kind == "job.completed":
                self._expect(seq, job_id, where, "in_flight", kind)
            _take(tallies, _AT[where], value)
            _add(tallies, _FINAL[kind], value)
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


def _add(tallies: list[Any], at: int, value: Any) -> None:
    tallies[at] += 1
    tallies[at + 1] += value


def _take(tallies: list[Any], at: int, value: Any) -> None:
    tallies[at] -= 1
    tallies[at + 1] -= value


@dataclass(slots=True)
class Walk:
    """What one pass over the events found."""

    ledger: Ledger
    by_type: dict[str, int]
    governance: list[dict[str, Any]]
    recorded: list[tuple[int, CommandInput]]  # the inputs a derivation re-applies, with ticks
    authority: AuthorityCheck
    at: int = 0  # the line a malformed event was met at


def walk_log(data: bytes, end: int, count: int, authority: AuthorityCheck) -> Walk:
    """Apply the first `count` events of ``data[:end]`` in order to the ledger, the
    authority check and the timeline.

    Most events are a job assigned, submitted or completed: their valid moves are applied
    here, inline, and anything else goes to `_Ledger.apply`, which raises when the move is
    impossible. Only ``owner.*`` and ``governance.*`` events concern authority.
    """
    with rarely_collected():  # each event's dicts, each live job's record (acyclic.py)
        return _walk_events(_line_chunks(data, end), count, authority)


def _line_chunks(data: bytes, end: int) -> Iterator[list[bytes]]:
    """``data[:end].split(b"\\n")``, a megabyte at a time: each line is parsed while it is
    in the cache, and the lines of a big log are never all in memory at once."""
    position = 0
    while (stop := data.find(b"\n", min(position + _CHUNK, end), end)) >= 0:
        yield data[position:stop].split(b"\n")
        position = stop + 1
    yield data[position:end].split(b"\n")


def _walk_events(chunks: Iterable[list[bytes]], count: int, authority: AuthorityCheck) -> Walk:
    walk = Walk(Ledger(), {}, [], [], authority)
    try:
        _walk_chunks(chunks, count, walk, authority)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise IntegrityError(
            f"events.ndjson: line {walk.at} (seq {walk.at}): not a well-formed event "
            f"({type(error).__name__}: {error})",
            "the log was altered: restore it from a backup",
        ) from None
    return walk


def _walk_chunks(
    chunks: Iterable[list[bytes]], count: int, walk: Walk, authority: AuthorityCheck
) -> None:
    ledger = walk.ledger
    jobs, shards = ledger.jobs, ledger.shards
    by_type = walk.by_type
    assigned = submitted = completed = 0  # by_type's commonest kinds, counted apart
    loads = orjson.loads
    seq = 0
    try:
        for lines in chunks:
            if seq >= count:
                break
            for line in lines[: count - seq] if seq + len(lines) > count else lines:
                seq += 1
                event = loads(line)
                kind, data = event["type"], event["data"]
                if kind == "job.assigned":
                    assigned += 1
                    job = jobs.get(data["job"])
                    if job is not None and job[2] == "queued":
                        tallies, value = job[3], job[1]
                        tallies[_QUEUED] -= 1
                        tallies[_QUEUED + 1] -= value
                        tallies[_IN_FLIGHT] += 1
                        tallies[_IN_FLIGHT + 1] += value
                        job[2] = "in_flight"
                    else:
                        ledger.apply(seq, kind, data)
                elif kind == "job.submitted":
                    submitted += 1
                    job_id = data["job"]
                    if job_id not in jobs:
                        shard, value = data["shard"], data["value"]
                        tallies = shards.get(shard) or ledger.tallies(shard)
                        jobs[job_id] = [shard, value, "queued", tallies]
                        tallies[_SUBMITTED] += 1
                        tallies[_SUBMITTED + 1] += value
                        tallies[_QUEUED] += 1
                        tallies[_QUEUED + 1] += value
                    else:
                        ledger.apply(seq, kind, data)
                elif kind == "job.completed":
                    completed += 1
                    job_id = data["job"]
                    job = jobs.get(job_id)
                    if job is not None and job[2] == "in_flight":
                        tallies, value = job[3], job[1]
                        tallies[_IN_FLIGHT] -= 1
                        tallies[_IN_FLIGHT + 1] -= value
                        tallies[_COMPLETED] += 1
                        tallies[_COMPLETED + 1] += value
                        del jobs[job_id]
                    else:
                        ledger.apply(seq, kind, data)
                else:
                    by_type[kind] = by_type.get(kind, 0) + 1
                    if kind.startswith("job."):
                        ledger.apply(seq, kind, data)
                    elif kind.startswith(("owner.", "governance.")):
                        note_governance(walk, authority, seq, event)
    except (KeyError, TypeError, ValueError, AttributeError):
        walk.at = seq  # the line that failed: the error names it
        raise
    for kind, number in (
        ("job.assigned", assigned),
        ("job.submitted", submitted),
        ("job.completed", completed),
    ):
        if number:
            by_type[kind] = number


def note_governance(walk: Walk, authority: AuthorityCheck, seq: int, event: dict[str, Any]) -> None:
    """An ``owner.*`` or ``governance.*`` event: its authority re-checked, its row of the
    timeline, and the input a derivation re-applies, if it records one (held to the rules
    the command line applies: `recorded_input`, which also proves its shape)."""
    command = recorded_input("events.ndjson", seq, event, authority.keyed)
    kind, tick, data = event["type"], event["tick"], event["data"]
    try:
        authority.check(seq, kind, data)
        if (kind.startswith("owner.") or kind == "governance.refused") and "input" in data:
            walk.governance.append(timeline_entry(seq, tick, kind, data, authority))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise IntegrityError(
            f"events.ndjson: line {seq} (seq {seq}): not a well-formed {kind} event "
            f"({type(error).__name__}: {error})",
            "the log was altered: restore it from a backup",
        ) from None
    if command is not None:
        walk.recorded.append((tick, command))


def walk_inputs(pieces: Iterable[tuple[bytes, int]], count: int, authority: AuthorityCheck) -> Walk:
    """The governance part of `walk_log` alone, for the derivation (which proves every
    other event by re-making it): only the ``owner.*``, ``governance.*`` and
    ``executor.*`` lines are read (`input_events`)."""
    walk = Walk(Ledger(), {}, [], [], authority)
    for seq, event in input_events(pieces, count, "events.ndjson"):
        kind = event.get("type")
        if isinstance(kind, str) and kind.startswith("executor."):
            walk.by_type[kind] = walk.by_type.get(kind, 0) + 1
        else:
            note_governance(walk, authority, seq, event)
    return walk


def compare_counters(ledger: Ledger, checkpoint: dict[str, Any]) -> None:
    """Every shard's counters in the checkpoint must be what the log's events add up to."""
    for raw in checkpoint["state"]["shards"]:
        shard = raw["id"]
        stored = raw["counters"]
        derived = ledger.counters(shard)
        for name in TALLIES:
            if list(stored[name]) != derived[name]:
                raise IntegrityError(
                    f"checkpoint.json: shard {shard} {name} is {stored[name]} "
                    f"but the log gives {derived[name]}",
                    "the checkpoint does not match the log",
                )
