"""The log against the heads a witness outside the storage holds (`audit --witness`).

Every record the runner published for this run says: after line `seq` the chain head was
`head`, and perhaps that the run had ended there. A log that still extends each of them —
at least `seq` lines, line `seq` hashed to `head`, nothing after an end — was neither
rewritten, truncated nor appended to after the end since those heads were published, even
by someone who re-chained every line and re-sealed the checkpoint. In open mode that is
what stands between a log rewritten from the start with other owner commands and an audit
that derives it.

The audit has verified the chain already; this reads the log once more, in chunks, and
looks only at the lines the records name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

from ..errors import IntegrityError
from ..ledger.canonical import split_event_line
from ..run.loading import read_json
from ..store import Store
from ..store.files import EVENTS
from ..store.witness import Witness
from .report import OPEN_MODE_GAP, AuditReport

_CHUNK = 1 << 22
Held = tuple[str, dict[str, Any]]  # (where in the witness, record)


def check_witness(store: Store, report: AuditReport, witness: Witness) -> AuditReport:
    """`report`, with what the witness proved added; IntegrityError naming the record and
    the log line when the log does not extend a head it holds."""
    info = read_json(store, "run.json") or {}
    run_id = info.get("run_id")
    held: list[Held] = []
    others = 0
    for where, record in witness.records():
        if record["run_id"] == run_id:
            held.append((where, record))
        else:
            others += 1
    if not held:
        raise IntegrityError(
            f"the witness {witness.name} holds no head of run {run_id}, which "
            f"{store.location}/run.json names ({others} record(s) of other runs)",
            "audit with the witness this run published to; if it is that one, the run was "
            "replaced or its run.json rewritten",
        )
    held.sort(key=lambda item: int(item[1]["seq"]))
    log = f"{store.location}/{EVENTS}"
    with closing(store.read_event_chunks(_CHUNK)) as chunks:
        lines = _compare_heads(chunks, held, witness.name, log)
    _check_nothing_deleted(held, lines, witness.name, log)
    ended = next((item for item in held if item[1]["ended"]), None)
    if ended is not None and lines > ended[1]["seq"]:
        where, record = ended
        raise IntegrityError(
            f"{log}: line {record['seq'] + 1} follows seq {record['seq']}, where the witness "
            f"{witness.name} {where} says the run had ended (tick {record['tick']}): it was "
            "appended after the run's end",
            "restore the log and checkpoint from a backup taken at the end: no runner or "
            "owner command writes after it",
        )
    highest = int(held[-1][1]["seq"])
    report.witness = {
        "source": witness.name,
        "run_id": run_id,
        "records": len(held),
        "proved_seq": highest,
        "ended_seq": None if ended is None else ended[1]["seq"],
        "other_runs_records": others,
    }
    report.proved.append(
        f"the log extends every head the witness holds for this run ({len(held)} record(s), "
        f"up to seq {highest})"
        + ("; nothing follows the end it holds" if ended is not None else "")
    )
    # The open-mode gap (a log rewritten with other commands) is closed up to that head.
    report.not_proved = [
        f"who issued each owner command, and why (open mode: unsigned, as recorded); the "
        f"witness proves the log was not rewritten up to seq {highest}"
        if line == OPEN_MODE_GAP
        else line
        for line in report.not_proved
    ]
    if lines > highest:
        report.not_proved.append(
            f"the {lines - highest} event(s) after seq {highest}, the last head the witness "
            "holds (a head is published at each checkpoint)"
        )
    if others:
        report.notes.append(
            f"the witness {witness.name} holds {others} record(s) of other runs, ignored"
        )
    return report


def _compare_heads(chunks: Iterator[bytes], held: list[Held], name: str, log: str) -> int:
    """Hold line `seq` of the log against each record's head, in seq order; the number of
    complete lines the log has."""
    lines = 0
    at = 0  # the next record to compare
    proved = 0  # the seq of the last head found in the log
    for chunk in chunks:
        count = chunk.count(b"\n")
        if at < len(held) and held[at][1]["seq"] <= lines + count:
            pieces = chunk.split(b"\n")
            while at < len(held) and held[at][1]["seq"] <= lines + count:
                where, record = held[at]
                line = pieces[record["seq"] - lines - 1]
                try:
                    found = split_event_line(line)[1]
                except ValueError:
                    found = "none (no hash field)"
                if found != record["head"]:
                    raise IntegrityError(
                        f"{log}: line {record['seq']} has hash {found}, but the witness "
                        f"{name} {where} holds head {record['head']} at seq {record['seq']} "
                        f"(tick {record['tick']}): a line from {proved + 1} to {record['seq']} "
                        "was rewritten after that head was published",
                        f"restore the log from a backup whose line {record['seq']} hashes to "
                        f"that head ({_proved(proved)})",
                    )
                proved = record["seq"]
                at += 1
        lines += count
    return lines


def _check_nothing_deleted(held: list[Held], lines: int, name: str, log: str) -> None:
    for where, record in held:
        if record["seq"] > lines:
            raise IntegrityError(
                f"{log}: {lines} line(s), but the witness {name} {where} holds head "
                f"{record['head']} at seq {record['seq']} (tick {record['tick']}): lines were "
                "deleted after that head was published",
                f"restore the log and checkpoint from a backup that has them (the witness "
                f"holds heads up to seq {held[-1][1]['seq']})",
            )


def _proved(seq: int) -> str:
    return f"lines 1 to {seq} match the witness" if seq else "no line is proved"
