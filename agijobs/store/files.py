"""The storage directory: the embedded default `Store`.

Layout (docs/storage.md, "The storage directory"):

    events.ndjson     append-only hash-chained fabric log
    checkpoint.json   state at an event seq, integrity-checked, replaced atomically
    jobs/<sha256>.json  the job rows of that state, named by digest (agijobs.ledger.jobtable)
    sessions.ndjson   process lifecycle (started, stopped, resumed, recovered)
    summary.json      the outcome at the last stop
    run-plan.json     the plan being run (`agijobs plan` writes plan.json beside it)
    run.json          pid, start time and scenario of the process that ran it last
    live.json         a live runner's current tick, shards and nodes, for `status`
    run.lock          held by the live runner (flock: released by the kernel if it dies)
    inbox/pending/    live commands, one file each, durable before the CLI waits
    inbox/journal.ndjson  commands the runner took, with their tick, hash-chained and
                      fsynced before acking
    inbox/acks/       the outcome of each taken command, read by the waiting CLI
    events-index/     `describe`'s index of the log: derived, rebuilt when stale, never audited
    archive/<run id>/ earlier runs moved aside by `run --fresh`
    runner.log        a detached runner's output (run/background.py): not part of the run

Durability: event lines are buffered and fsynced at every checkpoint and at every stop;
the checkpoint is written to a temporary file, fsynced, renamed over and the directory
fsynced. Inbox files and the journal are fsynced before anyone is told they exist.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import Conflict
from ..ledger.journal import encode_entry, verify_journal
from . import Chunks, crashpoints

EVENTS = "events.ndjson"
CHECKPOINT = "checkpoint.json"
SESSIONS = "sessions.ndjson"
RUN_PLAN = "run-plan.json"
JOURNAL = "inbox/journal.ndjson"  # hash-chained entries (agijobs.ledger.journal)
METRICS = "metrics.ndjson"  # one row per tick: what reports and status charts read
PROMETHEUS = "metrics.prom"  # node_exporter textfile collector format, at each checkpoint
JOBS = "jobs"  # job tables, one file each, named by their sha256
RUN_FILES = (
    EVENTS,
    CHECKPOINT,
    JOBS,
    SESSIONS,
    "summary.json",
    RUN_PLAN,
    "run.json",
    "live.json",
    "inbox",
    METRICS,
    PROMETHEUS,
    "report.html",
    "report.md",
    "events-index",  # describe's index of the log (agijobs.run.eventindex)
)
PLAN = "plan.json"  # what `agijobs plan` writes by default
# Whole files the run keeps beside its log, checkpoint, sessions, metrics and inbox.
DOCUMENTS = (
    "summary.json",
    RUN_PLAN,
    "run.json",
    "live.json",
    PROMETHEUS,
    "report.html",
    "report.md",
    PLAN,
)
# Rewritten often and derived from the run (a live runner's view, the Prometheus text):
# replaced atomically but not fsynced, so a checkpoint costs three fsyncs, not six.
DERIVED = frozenset({"live.json", PROMETHEUS})
_counter = itertools.count()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _row_tick(row: bytes) -> int:
    try:
        return int(orjson.loads(row)["t"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return 1 << 62  # a torn row: dropped with the rest of the tail


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError from writing `path` names it: a full disk (ENOSPC) surfaces at a write
    or fsync, whose error says which device is full but not which file it was for."""
    try:
        yield
    except OSError as error:
        if error.filename is None:
            error.filename = str(path)
        raise


def atomic_write(
    path: Path, data: bytes, crash_point: str | None = None, *, durable: bool = True
) -> None:
    """Write `data` so that `path` holds either the old or the new bytes, never a mix.
    `durable` also survives power loss (fsyncs); without it a process crash still cannot
    leave a mix, which is all derived files need."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with naming(path), open(tmp, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()  # e.g. a full disk: leave the previous file, and no debris
        raise
    if crash_point and crashpoints.reached(crash_point):
        crashpoints.kill()
    os.replace(tmp, path)
    if crash_point and crashpoints.reached(f"{crash_point}-renamed"):
        crashpoints.kill()
    if durable:
        fsync_dir(path.parent)


def append_durably(path: Path, data: bytes) -> None:
    with naming(path), open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _drop_torn_tail(path: Path) -> None:
    """A crash mid-append leaves a last line without newline; it was never acknowledged.
    Cut it before appending, or every later entry would fuse with it and be unreadable."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "r+b") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        keep = handle.read().rfind(b"\n") + 1
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())


class FileEventSink:
    def __init__(self, path: Path, keep_bytes: int) -> None:
        self.path = path
        self._handle: IO[bytes] = open(path, "r+b" if path.exists() else "w+b")  # noqa: SIM115
        self._handle.truncate(keep_bytes)
        self._handle.seek(keep_bytes)

    def append(self, lines: list[bytes], chunk: bytes | None = None) -> None:
        if not lines:
            return
        if chunk is None:
            chunk = b"\n".join(lines) + b"\n"
        if crashpoints.reached("append"):
            self._handle.write(chunk[: len(chunk) // 2])
            self._handle.flush()
            crashpoints.kill()
        with naming(self.path):
            self._handle.write(chunk)

    def flush(self) -> None:
        with naming(self.path):
            self._handle.flush()

    def sync(self) -> None:
        with naming(self.path):
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        with naming(self.path):
            self._handle.close()


class FileStore:
    observed = True
    shared = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    # ------------------------------------------------------------- the run

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass

    def exists(self) -> bool:
        return self.root.is_dir()

    def has_run(self) -> bool:
        return (self.root / EVENTS).exists() or (self.root / CHECKPOINT).exists()

    def read_events(self) -> bytes:
        try:
            return (self.root / EVENTS).read_bytes()
        except FileNotFoundError:
            return b""

    def read_event_chunks(self, size: int) -> Chunks:
        """The log in pieces of about `size` bytes, each ending at a line end (a torn last
        line is left out): for scans that should not hold a large log in memory."""
        try:
            handle = open(self.root / EVENTS, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return
        with handle:
            rest = b""
            while chunk := handle.read(size):
                chunk = rest + chunk
                end = chunk.rfind(b"\n") + 1
                rest = chunk[end:]
                if end:
                    yield chunk[:end]

    def read_events_from(self, offset: int, seq: int) -> bytes:
        try:
            with open(self.root / EVENTS, "rb") as handle:
                handle.seek(offset)
                return handle.read()
        except FileNotFoundError:
            return b""

    def open_events(self, keep_bytes: int, keep_seq: int = 0) -> FileEventSink:
        return FileEventSink(self.root / EVENTS, keep_bytes)

    def read_checkpoint(self) -> bytes | None:
        return self.read_document(CHECKPOINT)

    def read_job_table(self, digest: str) -> bytes | None:
        return self.read_document(f"{JOBS}/{digest}.json")

    def write_checkpoint(self, data: bytes, jobs: str, table: bytes | None) -> None:
        tables = self.root / JOBS
        keep = f"{jobs}.json"
        if table is not None and not (tables / keep).is_file():
            fresh = not tables.is_dir()
            tables.mkdir(exist_ok=True)
            if fresh:
                fsync_dir(self.root)
            atomic_write(tables / keep, table)
        atomic_write(self.root / CHECKPOINT, data, crash_point="checkpoint")
        for stale in tables.glob("*.json"):  # named by no checkpoint now (not fsynced:
            if stale.name != keep:  # one that comes back after a crash is deleted next time)
                stale.unlink(missing_ok=True)

    def read_document(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None

    def write_document(self, name: str, data: bytes) -> None:
        atomic_write(self.root / name, data, durable=name not in DERIVED)

    def document_names(self) -> list[str]:
        """The run's documents present here (never other files someone put beside them)."""
        return sorted(name for name in DOCUMENTS if (self.root / name).is_file())

    def append_session(self, record: dict[str, Any]) -> None:
        append_durably(
            self.root / SESSIONS, orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"
        )

    # ------------------------------------------------------------- metrics

    def append_metrics(self, rows: list[bytes]) -> None:
        # Derived from the log, so not fsynced: a process crash keeps what the OS holds,
        # and runner start trims the series back to the checkpoint either way.
        with naming(self.root / METRICS), open(self.root / METRICS, "ab") as handle:
            handle.write(b"\n".join(rows) + b"\n")

    def read_metrics(self) -> bytes:
        return self.read_document(METRICS) or b""

    def trim_metrics(self, last_tick: int) -> None:
        """Drop rows after `last_tick` (a crashed runner wrote them after its checkpoint)."""
        data = self.read_metrics()
        if not data:
            return
        rows = data.splitlines()
        keep = [row for row in rows if _row_tick(row) <= last_tick]
        if len(keep) != len(rows):
            atomic_write(self.root / METRICS, b"".join(row + b"\n" for row in keep))

    def read_sessions(self) -> list[dict[str, Any]]:
        data = self.read_document(SESSIONS) or b""
        records = []
        for line in data.splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                records.append(orjson.loads(line))
        return records

    # ------------------------------------------------------------- the lock

    @contextlib.contextmanager
    def run_lock(self, *, wait: float = 0.0) -> Iterator[None]:
        if not self.root.is_dir():
            raise Conflict(f"no storage directory {self.root}", "check --storage")
        held = _flock(self.root / "run.lock", wait)
        if held is None:
            raise Conflict(
                f"storage {self.root} is in use by another agijobs process (a live run, or an "
                "owner command being applied)",
                "see `agijobs status`; a live run takes owner commands (pause-all, reroute, …)",
            )
        try:
            yield
        finally:
            os.close(held)  # releases the lock

    def lock_session(self) -> str | None:
        return None  # local: the run.json pid identifies the holder

    def lock_holder(self) -> str | None:
        return None

    def lock_is_held(self) -> bool:
        """Whether a process holds the run lock. Asked by readers (status, audit), so it
        only reads: a storage on read-only media is evidence that must still verify."""
        try:
            descriptor = os.open(self.root / "run.lock", os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return False
        try:
            # A shared lock is refused while a holder keeps the exclusive one, and needs
            # no write access to take.
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(descriptor)
        return False

    # ------------------------------------------------------------- the inbox

    def _inbox(self, part: str) -> Path:
        path = self.root / "inbox" / part
        path.mkdir(parents=True, exist_ok=True)
        return path

    def submit_command(self, command: dict[str, Any]) -> str:
        command_id = f"{command['issued_ns']:020d}-{os.getpid()}-{next(_counter)}"
        pending = self._inbox("pending")
        atomic_write(pending / f"{command_id}.json", orjson.dumps({**command, "id": command_id}))
        return command_id

    def pending_commands(self) -> list[tuple[str, dict[str, Any]]]:
        pending = self.root / "inbox" / "pending"
        if not pending.exists():
            return []
        found = []
        for entry in sorted(os.scandir(pending), key=lambda e: e.name):
            if entry.name.endswith(".json") and not entry.name.startswith("."):
                with contextlib.suppress(FileNotFoundError, orjson.JSONDecodeError):
                    found.append((entry.name[:-5], orjson.loads(Path(entry.path).read_bytes())))
        return found

    def journal(self, entries: list[dict[str, Any]]) -> None:
        data = b"".join(encode_entry(entry) + b"\n" for entry in entries)
        path = self._inbox("") / "journal.ndjson"
        _drop_torn_tail(path)
        append_durably(path, data)
        pending = self.root / "inbox" / "pending"
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                (pending / f"{entry['id']}.json").unlink()

    def wait_for_commands(self, timeout: float) -> None:
        time.sleep(min(timeout, 0.05))  # a directory has no notifications: poll

    def drop_pending(self, command_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / "inbox" / "pending" / f"{command_id}.json").unlink()

    def reject_pending(self, command_id: str, ack: dict[str, Any]) -> None:
        self.acknowledge(command_id, ack)
        self.drop_pending(command_id)

    def read_journal(self) -> list[dict[str, Any]]:
        data = self.read_document(JOURNAL) or b""
        # What follows the last newline is a torn entry (a crash while appending): it was
        # never acknowledged, and the next append cuts it. Every complete line is verified.
        return verify_journal(data.split(b"\n")[:-1], f"{self.location}/{JOURNAL}")

    def acknowledge(self, command_id: str, ack: dict[str, Any]) -> None:
        atomic_write(self._inbox("acks") / f"{command_id}.json", orjson.dumps(ack))

    def read_ack(self, command_id: str) -> dict[str, Any] | None:
        data = self.read_document(f"inbox/acks/{command_id}.json")
        return None if data is None else orjson.loads(data)

    def wait_ack(self, command_id: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while (ack := self.read_ack(command_id)) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return ack

    # ------------------------------------------------------------- archive

    def discard(self) -> None:
        for name in (*RUN_FILES, PLAN):
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        fsync_dir(self.root)

    def archive(self, run_id: str) -> str:
        target = self.root / "archive" / run_id
        suffix = 1
        while target.exists():
            suffix += 1
            target = self.root / "archive" / f"{run_id}.{suffix}"
        target.mkdir(parents=True)
        for name in RUN_FILES:
            source = self.root / name
            if source.exists():
                source.rename(target / name)
        fsync_dir(self.root)
        return str(target)


def _flock(path: Path, wait: float) -> int | None:
    """An open descriptor of `path` (created if missing) holding its exclusive flock, or
    None if another holder keeps it for `wait` seconds. Closing the descriptor releases the
    lock, and the kernel releases it when its process dies: a crash never leaves it held.
    (Ten lines of fcntl rather than the filelock package, whose import alone cost 38 ms of
    every command's start.)"""
    # Not through a link: the lock, like every write, stays in the storage directory.
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
    except BaseException:
        os.close(descriptor)
        raise
    os.close(descriptor)
    return None
