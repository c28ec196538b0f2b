"""A store that keeps nothing: dry runs (`agijobs plan`) and replays (`audit --replay`).

The runner computes the chain head and the events digest itself, so a dry run produces
exactly the bytes' identities a real run would, without writing them anywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from . import Chunks


class NullSink:
    def append(self, lines: list[bytes], chunk: bytes | None = None) -> None:
        pass

    def flush(self) -> None:
        pass

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass


class MemoryStore:
    location = "(memory)"
    observed = False
    shared = False

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}

    def ensure(self) -> None:
        pass

    def close(self) -> None:
        pass

    def exists(self) -> bool:
        return True

    def has_run(self) -> bool:
        return False

    def read_events(self) -> bytes:
        return b""

    def read_event_chunks(self, size: int) -> Chunks:
        yield from ()

    def read_events_from(self, offset: int, seq: int) -> bytes:
        return b""

    def open_events(self, keep_bytes: int, keep_seq: int = 0) -> NullSink:
        return NullSink()

    def read_checkpoint(self) -> bytes | None:
        return None

    def read_job_table(self, digest: str) -> bytes | None:
        return None

    def write_checkpoint(self, data: bytes, jobs: str, table: bytes | None) -> None:
        pass

    def read_document(self, name: str) -> bytes | None:
        return self.documents.get(name)

    def write_document(self, name: str, data: bytes) -> None:
        self.documents[name] = data

    def document_names(self) -> list[str]:
        return sorted(self.documents)

    def append_session(self, record: dict[str, Any]) -> None:
        pass

    def append_metrics(self, rows: list[bytes]) -> None:
        pass

    def read_metrics(self) -> bytes:
        return b""

    def trim_metrics(self, last_tick: int) -> None:
        pass

    def read_sessions(self) -> list[dict[str, Any]]:
        return []

    @contextlib.contextmanager
    def run_lock(self, *, wait: float = 0.0) -> Iterator[None]:
        yield

    def lock_session(self) -> str | None:
        return None  # local: the run.json pid identifies the holder

    def lock_holder(self) -> str | None:
        return None

    def lock_is_held(self) -> bool:
        return False

    def submit_command(self, command: dict[str, Any]) -> str:
        raise RuntimeError("a memory store has no inbox: dry runs take no live commands")

    def pending_commands(self) -> list[tuple[str, dict[str, Any]]]:
        return []

    def wait_for_commands(self, timeout: float) -> None:
        pass

    def drop_pending(self, command_id: str) -> None:
        pass

    def reject_pending(self, command_id: str, ack: dict[str, Any]) -> None:
        pass

    def journal(self, entries: list[dict[str, Any]]) -> None:
        pass

    def read_journal(self) -> list[dict[str, Any]]:
        return []

    def acknowledge(self, command_id: str, ack: dict[str, Any]) -> None:
        pass

    def read_ack(self, command_id: str) -> dict[str, Any] | None:
        return None

    def wait_ack(self, command_id: str, timeout: float) -> dict[str, Any] | None:
        return None

    def discard(self) -> None:
        self.documents.clear()

    def archive(self, run_id: str) -> str:
        return ""
