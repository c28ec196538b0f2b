"""Persistence behind a small interface; `files.FileStore` is the embedded default.

The runner, audit and the CLI use only the methods of `Store`, so a shared backend holds
the same canonical line bytes: `postgres.PostgresStore` keeps them in PostgreSQL tables.
`open_store` picks the backend from the --storage value.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..errors import Conflict

# The log in newline-terminated pieces, read as they are taken: a file or a connection is
# held between pieces, so a reader that may stop early closes it (`contextlib.closing`).
Chunks = Generator[bytes, None, None]


class EventSink(Protocol):
    # `chunk`, when given, is the lines joined, each ending in a newline (the runner
    # has it already, for the log's digest).
    def append(self, lines: list[bytes], chunk: bytes | None = None) -> None: ...
    def flush(self) -> None: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...


class Store(Protocol):
    """What agijobs needs from storage. Every write that is acknowledged is durable."""

    location: str
    # Whether runs on this store keep a metrics series and write reports (not dry runs).
    observed: bool
    # Whether processes on other machines use it (then a lock holder's pid proves nothing).
    shared: bool

    def ensure(self) -> None: ...
    def close(self) -> None: ...
    def has_run(self) -> bool: ...
    # Whether the storage itself is there (a directory that exists; a database always is):
    # a mistyped --storage is told apart from an empty one.
    def exists(self) -> bool: ...
    def read_events(self) -> bytes: ...
    def read_event_chunks(self, size: int) -> Chunks: ...
    # The log after its first `offset` bytes (its first `seq` lines), a torn tail included.
    def read_events_from(self, offset: int, seq: int) -> bytes: ...
    def open_events(self, keep_bytes: int, keep_seq: int) -> EventSink: ...
    def read_checkpoint(self) -> bytes | None: ...
    def read_job_table(self, digest: str) -> bytes | None: ...
    # The checkpoint names its job table by sha256 (`jobs`); `table` is its bytes when
    # they are not stored yet (None: a job-less command kept the stored one). The table is
    # durable before the checkpoint; tables no checkpoint names go once it is.
    def write_checkpoint(self, data: bytes, jobs: str, table: bytes | None) -> None: ...
    def read_document(self, name: str) -> bytes | None: ...
    def document_names(self) -> list[str]: ...
    def write_document(self, name: str, data: bytes) -> None: ...
    def append_session(self, record: dict[str, Any]) -> None: ...
    def append_metrics(self, rows: list[bytes]) -> None: ...
    def read_metrics(self) -> bytes: ...
    def trim_metrics(self, last_tick: int) -> None: ...
    def read_sessions(self) -> list[dict[str, Any]]: ...
    def run_lock(self, *, wait: float = 0.0) -> AbstractContextManager[None]: ...
    def lock_is_held(self) -> bool: ...
    # Which session holds the run lock, where a pid cannot tell (a shared store): this
    # process's own while it holds it, and the current holder's; None for local stores.
    def lock_session(self) -> str | None: ...
    def lock_holder(self) -> str | None: ...
    def submit_command(self, command: dict[str, Any]) -> str: ...
    def pending_commands(self) -> list[tuple[str, dict[str, Any]]]: ...
    def wait_for_commands(self, timeout: float) -> None: ...
    def drop_pending(self, command_id: str) -> None: ...
    # A pending command the runner will not take (it fails the checks every journaled one
    # passes): acknowledged with `ack` and out of the inbox, never journaled.
    def reject_pending(self, command_id: str, ack: dict[str, Any]) -> None: ...
    def journal(self, entries: list[dict[str, Any]]) -> None: ...
    def read_journal(self) -> list[dict[str, Any]]: ...
    def acknowledge(self, command_id: str, ack: dict[str, Any]) -> None: ...
    def read_ack(self, command_id: str) -> dict[str, Any] | None: ...
    def wait_ack(self, command_id: str, timeout: float) -> dict[str, Any] | None: ...
    def archive(self, run_id: str) -> str: ...
    def discard(self) -> None: ...  # remove the run entirely (a copy that failed halfway)


def no_run(store: Store, fix: str = "start one with `agijobs run SCENARIO`") -> Conflict:
    """The error for a command that needs a run where there is none: a storage that does
    not exist at all (a mistyped --storage) is named as such, never taken for an empty one."""
    if not store.exists():
        missing = getattr(store, "missing", None)  # a database names the fabrics it holds
        if missing is not None:
            found: Conflict = missing()
            return found
        return Conflict(
            f"storage {store.location} does not exist",
            "check --storage (or AGIJOBS_STORAGE); `agijobs run SCENARIO --storage PATH` "
            "creates one",
        )
    return Conflict(f"no run in {store.location}", fix)


def is_database_url(storage: str) -> bool:
    return storage.startswith(("postgresql://", "postgres://"))


def require_driver(option: str, url: str) -> None:
    """The PostgreSQL driver is an extra (`agijobs[postgresql]`): without it a postgresql://
    storage or witness is refused, naming what to install (exit 4, as for a database that
    cannot be reached: the command is right, this installation cannot reach it)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        from .postgres_url import redact

        raise Conflict(
            f"{option}: {redact(url)} needs the PostgreSQL driver (psycopg), which is not "
            "installed",
            "install it: pip install 'agijobs[postgresql]'",
        ) from None


def open_store(storage: str) -> Store:
    """The backend --storage names: a postgresql:// URL, else a directory path. The crash
    drills the environment asks for (`crashpoints`) are armed for the stores it opens."""
    from . import crashpoints

    crashpoints.arm_from_environment()
    if is_database_url(storage):
        require_driver("--storage", storage)
        from .postgres import PostgresStore  # psycopg loads only for a database

        return PostgresStore(storage)
    import os
    from pathlib import Path

    from ..errors import BadInput
    from .files import FileStore

    path = Path(storage)
    if path.is_symlink():
        # Writes must stay inside the directory the operator named, not where it points.
        raise BadInput(
            f"--storage: {storage} is a symbolic link (to {os.readlink(path)})",
            "pass the real directory",
        )
    if path.exists() and not path.is_dir():
        raise BadInput(f"--storage: {storage} is a file", "pass a directory")
    return FileStore(path)
