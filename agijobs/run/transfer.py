"""`agijobs export` and `agijobs import`: a verified run copied between two stores.

Any store to any store (a database fabric to a directory, a directory to a database, …):
the log, the checkpoint and its job table keep their bytes, so the copy verifies exactly
as the original,
and `events.ndjson` exported from PostgreSQL equals the directory backend's byte for byte.
"""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, IntegrityError
from ..ledger import jobtable
from ..store import Store, no_run
from .loading import load_run

# What belongs to a live process, not to the run: never copied.
_TRANSIENT = frozenset({"live.json", "run.lock"})


def copy_run(source: Store, target: Store) -> dict[str, Any]:
    """Verify `source`, copy its run into `target` (which must hold none), verify the copy.

    The copy is of exactly the checkpoint and log bytes that were verified, read once: a
    live source is copied as of its last checkpoint (and reads as a crashed run that
    `runner start` continues). Raises IntegrityError if the source does not verify and Conflict
    if the target holds a run, both before anything is written; a copy that fails halfway
    is removed from the target."""
    if not source.has_run():
        raise no_run(source, "check --storage")
    loaded = load_run(source)
    raw_checkpoint, table = loaded.checkpoint_bytes, loaded.job_table
    if loaded.checkpoint is None or raw_checkpoint is None or table is None:
        raise Conflict(
            f"the run in {source.location} has no checkpoint yet",
            "continue it with `agijobs runner start` first, then copy",
        )
    events = loaded.events[: loaded.scan.valid_bytes]  # a torn last line is not copied
    journal = source.read_journal()  # verified, like the rest, before anything is written
    target.ensure()
    with target.run_lock():
        if target.has_run() or target.read_document("run-plan.json") is not None:
            raise Conflict(
                f"{target.location} already holds a run",
                "copy into an empty directory or a new fabric name",
            )
        try:
            digest = jobtable.digest(loaded.checkpoint["state"])
            names = _write_copy(source, target, events, journal, (raw_checkpoint, digest, table))
            copied = load_run(target)
            if (
                target.read_events() != events
                or target.read_checkpoint() != raw_checkpoint
                or target.read_job_table(digest) != table
            ):
                raise IntegrityError(
                    f"{target.location}: the copy does not read back byte for byte",
                    "check the target's storage; nothing in the source changed",
                )
        except BaseException:
            target.discard()
            raise
    return {
        "from": source.location,
        "to": target.location,
        "name": loaded.plan.name,
        "run_id": copied.run_id,
        "events": copied.scan.count,
        "head": copied.scan.head,
        "checkpoint": {"seq": copied.seq, "tick": copied.engine_tick},
        "documents": names,
        "sessions": len(source.read_sessions()),
        "journal": len(journal),
        "torn_bytes_dropped": loaded.scan.torn_bytes,
    }


def _write_copy(
    source: Store,
    target: Store,
    events: bytes,
    journal: list[dict[str, Any]],
    checkpoint: tuple[bytes, str, bytes],
) -> list[str]:
    names = [name for name in source.document_names() if name not in _TRANSIENT]
    for name in names:
        data = source.read_document(name)
        if data is not None:
            target.write_document(name, data)
    for record in source.read_sessions():
        target.append_session(record)
    metrics = source.read_metrics().splitlines()
    if metrics:
        target.append_metrics(metrics)
    if journal:
        target.journal(journal)
    sink = target.open_events(0, 0)
    try:
        sink.append(events.split(b"\n")[:-1])
        sink.sync()
        target.write_checkpoint(*checkpoint)
    finally:
        sink.close()
    return names
