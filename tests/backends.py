"""What a test needs to see inside each storage backend, beyond the `Store` interface:
the stored bytes, a way to tamper with them, and a snapshot of everything stored."""

from __future__ import annotations

import abc
import hashlib
from pathlib import Path
from typing import Any

import orjson

from agijobs.store import Store, open_store

from .helpers import file_hashes


class Backend(abc.ABC):
    kind = ""
    storage = ""  # the --storage value

    def store(self) -> Store:
        return open_store(self.storage)

    def events(self) -> bytes:
        store = self.store()
        try:
            return store.read_events()
        finally:
            store.close()

    def checkpoint(self) -> bytes | None:
        store = self.store()
        try:
            return store.read_checkpoint()
        finally:
            store.close()

    def event_list(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.events().splitlines()]

    @abc.abstractmethod
    def committed_events(self) -> int:
        """About how many events are stored now (a live run's progress)."""

    @abc.abstractmethod
    def tamper_event(self, seq: int, old: bytes, new: bytes) -> None:
        """Replace `old` by `new` in the line of event `seq`, leaving its hash as it was."""

    @abc.abstractmethod
    def snapshot(self) -> dict[str, str]:
        """A digest of everything stored, to show a command changed nothing."""

    @abc.abstractmethod
    def journal_lines(self) -> list[bytes]:
        """The journal's entries as stored, in journal order (a torn last line left out)."""

    @abc.abstractmethod
    def write_journal(self, lines: list[bytes]) -> None:
        """Replace the journal's entries by `lines`, as they are, whatever they hold."""


class DirectoryBackend(Backend):
    kind = "directory"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.storage = str(root)

    def committed_events(self) -> int:
        log = self.root / "events.ndjson"
        return log.stat().st_size // 150 if log.exists() else 0

    def tamper_event(self, seq: int, old: bytes, new: bytes) -> None:
        log = self.root / "events.ndjson"
        lines = log.read_bytes().split(b"\n")
        assert old in lines[seq - 1]
        lines[seq - 1] = lines[seq - 1].replace(old, new, 1)
        log.write_bytes(b"\n".join(lines))

    def snapshot(self) -> dict[str, str]:
        return file_hashes(self.root)

    def journal_lines(self) -> list[bytes]:
        return (self.root / "inbox" / "journal.ndjson").read_bytes().split(b"\n")[:-1]

    def write_journal(self, lines: list[bytes]) -> None:
        (self.root / "inbox" / "journal.ndjson").write_bytes(b"".join(x + b"\n" for x in lines))


class PostgresBackend(Backend):
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.storage = url
        self.conninfo, _, query = url.partition("?")
        self.fabric = query.removeprefix("fabric=")

    def _sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            cursor = conn.execute(query, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def committed_events(self) -> int:
        store = self.store()
        store.ensure()  # the runner may not have created the tables yet
        store.close()
        rows = self._sql("SELECT count(*) FROM agijobs_events WHERE fabric = %s", self.fabric)
        return int(rows[0][0])

    def tamper_event(self, seq: int, old: bytes, new: bytes) -> None:
        ((line,),) = self._sql(
            "SELECT line FROM agijobs_events WHERE fabric = %s AND seq = %s", self.fabric, seq
        )
        assert old in bytes(line)
        self._sql(
            "UPDATE agijobs_events SET line = %s WHERE fabric = %s AND seq = %s",
            bytes(line).replace(old, new, 1),
            self.fabric,
            seq,
        )

    def tamper_checkpoint(self, old: bytes, new: bytes) -> None:
        ((data,),) = self._sql(
            "SELECT data FROM agijobs_checkpoints WHERE fabric = %s", self.fabric
        )
        assert old in bytes(data)
        self._sql(
            "UPDATE agijobs_checkpoints SET data = %s WHERE fabric = %s",
            bytes(data).replace(old, new, 1),
            self.fabric,
        )

    def snapshot(self) -> dict[str, str]:
        tables = {
            "agijobs_events": "seq",
            "agijobs_checkpoints": "seq",
            "agijobs_job_tables": "sha256",
            "agijobs_documents": "name",
            "agijobs_sessions": "n",
            "agijobs_metrics": "n",
            "agijobs_inbox": "id",
        }
        digests = {}
        for table, order in tables.items():
            rows = self._sql(
                f"SELECT * FROM {table} WHERE fabric = %s ORDER BY {order}", self.fabric
            )
            digest = hashlib.sha256(repr([tuple(map(_plain, row)) for row in rows]).encode())
            digests[table] = digest.hexdigest()
        return digests

    def journal_lines(self) -> list[bytes]:
        rows = self._sql(
            "SELECT entry FROM agijobs_inbox WHERE fabric = %s AND entry IS NOT NULL "
            "ORDER BY journal_index, id",
            self.fabric,
        )
        return [bytes(row[0]) for row in rows]

    def write_journal(self, lines: list[bytes]) -> None:
        """Journaled rows out, one row per line in: each keyed by the id its line names (a
        line naming none, or one already used, by its number; the inbox keys rows by id)."""
        self._sql("DELETE FROM agijobs_inbox WHERE fabric = %s AND entry IS NOT NULL", self.fabric)
        ids: set[str] = set()
        for n, line in enumerate(lines):
            try:
                named = orjson.loads(line).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                named = None
            key = named if isinstance(named, str) and named not in ids else f"line-{n + 1}"
            ids.add(key)
            self._sql(
                "INSERT INTO agijobs_inbox (fabric, id, command, journal_index, entry) "
                "VALUES (%s, %s, %s, %s, %s)",
                self.fabric,
                key,
                b"{}",
                n,
                line,
            )


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value
