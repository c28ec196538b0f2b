"""A PostgreSQL database as the store: one shared source of truth for a team's fabrics.

`--storage postgresql://user@host/db?fabric=NAME` selects it. Several fabrics share a
database; every row carries its fabric's name. The tables hold what the storage directory
holds, as the same bytes:

    agijobs_events       (fabric, seq) → the canonical event line and its hash
    agijobs_checkpoints  (fabric, seq) → checkpoint bytes and their sha256; the latest only
    agijobs_job_tables   (fabric, sha256) → the job table that checkpoint names
    agijobs_documents    (fabric, name) → run-plan.json, run.json, summary.json, live.json, …
    agijobs_sessions     process lifecycle records, in insertion order
    agijobs_metrics      per-tick metrics rows
    agijobs_inbox        live commands: submitted by any machine, claimed by the runner
                         (FOR UPDATE SKIP LOCKED), journaled with their tick, acknowledged

Promises, and how they are kept:

- Events and the checkpoint that covers them commit in one transaction on the runner's
  connection: a checkpoint never exists without its events, and events past the latest
  checkpoint are never committed. A crash loses only uncommitted ticks, which `runner start`
  regenerates byte for byte from the checkpoint and the journal.
- The run lock is a session-level advisory lock held by that connection: PostgreSQL
  releases it when the runner's session ends, however it ends. No stale locks.
- A live command is a committed inbox row before the CLI waits; `NOTIFY` wakes the runner
  (LISTEN on its inbox connection) and the acknowledgement wakes the CLI. The journal entry
  (its tick and order) is committed before the acknowledgement is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import psycopg

from ..errors import Conflict, IntegrityError, did_you_mean
from ..ledger.canonical import dumps
from ..ledger.journal import encode_entry, verify_journal
from . import Chunks, crashpoints
from .postgres_url import database_location
from .postgres_url import parse_url as parse_url  # re-exported: its home before
from .postgres_url import redact as redact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agijobs_events (
    fabric text NOT NULL, seq bigint NOT NULL, line bytea NOT NULL, hash text NOT NULL,
    PRIMARY KEY (fabric, seq));
CREATE TABLE IF NOT EXISTS agijobs_checkpoints (
    fabric text NOT NULL, seq bigint NOT NULL, data bytea NOT NULL, integrity text NOT NULL,
    PRIMARY KEY (fabric, seq));
CREATE TABLE IF NOT EXISTS agijobs_job_tables (
    fabric text NOT NULL, sha256 text NOT NULL, data bytea NOT NULL,
    PRIMARY KEY (fabric, sha256));
CREATE TABLE IF NOT EXISTS agijobs_documents (
    fabric text NOT NULL, name text NOT NULL, data bytea NOT NULL,
    PRIMARY KEY (fabric, name));
CREATE TABLE IF NOT EXISTS agijobs_sessions (
    fabric text NOT NULL, n bigint GENERATED ALWAYS AS IDENTITY, record bytea NOT NULL,
    PRIMARY KEY (fabric, n));
CREATE TABLE IF NOT EXISTS agijobs_metrics (
    fabric text NOT NULL, n bigint GENERATED ALWAYS AS IDENTITY, tick bigint NOT NULL,
    row bytea NOT NULL, PRIMARY KEY (fabric, n));
CREATE TABLE IF NOT EXISTS agijobs_inbox (
    fabric text NOT NULL, id text NOT NULL, command bytea NOT NULL,
    journal_index bigint, entry bytea, ack bytea,
    PRIMARY KEY (fabric, id));
"""
_TABLES = (
    "agijobs_events",
    "agijobs_checkpoints",
    "agijobs_job_tables",
    "agijobs_documents",
    "agijobs_sessions",
    "agijobs_metrics",
    "agijobs_inbox",
)
# Creating the schema takes this transaction-level lock, so that two first commands on a
# new database do not race on CREATE TABLE IF NOT EXISTS (which is not concurrency-safe).
_SCHEMA_LOCK = 0x61676A6F
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "connect_timeout": 10,
}
INBOX_CHANNEL = "agijobs_inbox"
ACK_CHANNEL = "agijobs_ack"
_HASH_MARK = b',"hash":"'
_counter = itertools.count()


# Who holds a fabric's advisory lock: a bigint key shows in pg_locks as two 32-bit halves.
_HOLDER_QUERY = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND objsubid = 1 AND classid = %s::bigint::oid AND objid = %s::bigint::oid"
)


def _lock_halves(fabric: str) -> tuple[int, int]:
    key = lock_key(fabric) & ((1 << 64) - 1)
    return key >> 32, key & 0xFFFFFFFF


def lock_key(fabric: str) -> int:
    """The fabric's advisory lock key: 64 bits of a hash of its name (signed, as bigint)."""
    raw = int.from_bytes(hashlib.sha256(f"agijobs:{fabric}".encode()).digest()[:8], "big")
    return raw - (1 << 64) if raw >= 1 << 63 else raw


class PostgresEventSink:
    """Event lines go to the server with COPY inside the runner's open transaction; they
    commit with the checkpoint that covers them (`PostgresStore.write_checkpoint`)."""

    def __init__(self, store: PostgresStore, keep_seq: int) -> None:
        self._store = store
        self._conn = store.writer()
        self._conn.execute(
            "DELETE FROM agijobs_events WHERE fabric = %s AND seq > %s", (store.fabric, keep_seq)
        )
        self._next_seq = keep_seq + 1
        self._buffer: list[bytes] = []

    def append(self, lines: list[bytes], chunk: bytes | None = None) -> None:
        if crashpoints.reached("append"):
            self._buffer.extend(lines[: len(lines) // 2])
            self.flush()  # sent, never committed: the server discards it with the session
            crashpoints.kill()
        self._buffer.extend(lines)

    def flush(self) -> None:
        if not self._buffer:
            return
        fabric, seq = self._store.fabric, self._next_seq
        with (
            self._conn.cursor() as cursor,
            cursor.copy("COPY agijobs_events (fabric, seq, line, hash) FROM STDIN") as copy,
        ):
            for line in self._buffer:
                cut = line.rfind(_HASH_MARK) + len(_HASH_MARK)
                copy.write_row((fabric, seq, line, line[cut : cut + 64].decode()))
                seq += 1
        self._next_seq = seq
        self._buffer = []

    def sync(self) -> None:
        # Durable with the next checkpoint's commit; until then a crash loses these ticks
        # and `runner start` regenerates them (acknowledged commands are in the committed journal).
        self.flush()

    def close(self) -> None:
        self._buffer = []
        self._store.end_writes()


class PostgresStore:
    observed = True
    # Holders of the run lock may be on other machines: a pid proves nothing here.
    shared = True

    def __init__(self, url: str) -> None:
        self.conninfo, self.fabric, self.location = parse_url(url)
        self._aux: psycopg.Connection[Any] | None = None
        self._writer: psycopg.Connection[Any] | None = None
        self._inbox: psycopg.Connection[Any] | None = None
        self._locked = False
        self._listening: set[str] = set()
        self._claim_open = False
        self._maybe_pending = True

    # ------------------------------------------------------------- connections

    def _connect(self, *, autocommit: bool) -> psycopg.Connection[Any]:
        given = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        # A runner whose host vanishes must lose its lock in seconds, not at TCP's timeout
        # (hours): keepalives, unless the URL says otherwise.
        options = {key: value for key, value in _KEEPALIVES.items() if key not in given}
        conninfo = psycopg.conninfo.make_conninfo(self.conninfo, **options)
        try:
            return psycopg.connect(conninfo, autocommit=autocommit, application_name="agijobs")
        except psycopg.OperationalError as error:
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else "refused"
            raise Conflict(
                f"storage {self.location}: cannot connect ({reason})",
                "check the URL, that the server is up and that the user may connect",
            ) from None

    def aux(self) -> psycopg.Connection[Any]:
        """The autocommit connection for everything but the event log and checkpoints."""
        if self._aux is None:
            self._aux = self._connect(autocommit=True)
            self._ensure_schema(self._aux)
        return self._aux

    def writer(self) -> psycopg.Connection[Any]:
        """The runner's connection: holds the run lock; events and checkpoints commit on it."""
        if self._writer is None:
            self.aux()  # the schema exists before any write
            self._writer = self._connect(autocommit=False)
        return self._writer

    def _ensure_schema(self, conn: psycopg.Connection[Any]) -> None:
        exists = conn.execute(  # on this connection's search path, not in any schema
            "SELECT count(*) FROM unnest(%s::text[]) AS t(name) "
            "WHERE to_regclass(name) IS NOT NULL",
            (list(_TABLES),),
        ).fetchone()
        if exists is not None and exists[0] == len(_TABLES):
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(_SCHEMA)

    def end_writes(self) -> None:
        """Drop what the runner wrote past its last checkpoint (never committed)."""
        if self._writer is not None and not self._writer.closed:
            self._writer.rollback()

    def close(self) -> None:
        for conn in (self._writer, self._inbox, self._aux):
            if conn is not None and not conn.closed:
                conn.close()
        self._writer = self._inbox = self._aux = None
        self._claim_open = False
        self._locked = False
        self._listening = set()

    def ensure(self) -> None:
        self.aux()

    # ------------------------------------------------------------- the run

    def _one(self, query: str, params: tuple[Any, ...]) -> Any:
        row = self.aux().execute(query, params).fetchone()
        return None if row is None else row[0]

    def exists(self) -> bool:
        """Whether this fabric was ever used: it holds rows, or runs set aside under
        NAME@RUN_ID. A fabric is rows in shared tables, so a mistyped ?fabric= name is one
        that holds none (`missing` lists those there are)."""
        prefix = f"{self.fabric}@"
        return bool(
            self._one(
                "SELECT EXISTS (SELECT 1 FROM agijobs_documents WHERE fabric = %s OR "
                "left(fabric, %s) = %s) OR EXISTS (SELECT 1 FROM agijobs_sessions WHERE "
                "fabric = %s) OR EXISTS (SELECT 1 FROM agijobs_events WHERE fabric = %s)",
                (self.fabric, len(prefix), prefix, self.fabric, self.fabric),
            )
        )

    def fabric_names(self) -> list[str]:
        """Every fabric of this database (runs set aside as NAME@RUN_ID included), sorted."""
        rows = (
            self.aux()
            .execute(
                "SELECT fabric FROM agijobs_documents UNION SELECT fabric FROM agijobs_sessions "
                "UNION SELECT fabric FROM agijobs_events ORDER BY 1"
            )
            .fetchall()
        )
        return [str(row[0]) for row in rows]

    def missing(self) -> Conflict:
        """The error for a fabric this database does not hold: the ones it holds, the
        closest first when one is close."""
        names = [name for name in self.fabric_names() if "@" not in name]
        database = database_location(self.location)
        if not names:
            return Conflict(
                f"fabric `{self.fabric}` does not exist in {database}: it holds no fabric yet",
                "`agijobs run SCENARIO --storage URL?fabric=NAME` creates one",
            )
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        return Conflict(
            f"fabric `{self.fabric}` does not exist in {database}; it holds {shown}"
            f"{did_you_mean(self.fabric, names)}",
            f"check ?fabric= (`agijobs fabrics --storage {database}` lists them)",
        )

    def has_run(self) -> bool:
        return bool(
            self._one(
                "SELECT EXISTS (SELECT 1 FROM agijobs_events WHERE fabric = %s) OR "
                "EXISTS (SELECT 1 FROM agijobs_checkpoints WHERE fabric = %s)",
                (self.fabric, self.fabric),
            )
        )

    def read_events(self) -> bytes:
        return b"".join(self.read_event_chunks(1 << 22))

    def read_event_chunks(self, size: int) -> Chunks:
        """The log as newline-terminated pieces of about `size` bytes, read in seq order
        with a server-side cursor, so a large log is never held at once."""
        with (
            self._connect(autocommit=False) as conn,
            conn.cursor(name="agijobs_events_scan") as cursor,
        ):
            cursor.itersize = 10_000
            cursor.execute(
                "SELECT line FROM agijobs_events WHERE fabric = %s ORDER BY seq", (self.fabric,)
            )
            piece: list[bytes] = []
            held = 0
            for (line,) in cursor:
                piece.append(bytes(line))
                held += len(line) + 1
                if held >= size:
                    yield b"\n".join(piece) + b"\n"
                    piece, held = [], 0
            if piece:
                yield b"\n".join(piece) + b"\n"

    def read_events_from(self, offset: int, seq: int) -> bytes:
        lines = (
            self.aux()
            .execute(
                "SELECT line FROM agijobs_events WHERE fabric = %s AND seq > %s ORDER BY seq",
                (self.fabric, seq),
            )
            .fetchall()
        )
        return b"".join(bytes(line) + b"\n" for (line,) in lines)

    def open_events(self, keep_bytes: int, keep_seq: int) -> PostgresEventSink:
        return PostgresEventSink(self, keep_seq)

    def read_checkpoint(self) -> bytes | None:
        row = (
            self.aux()
            .execute(
                "SELECT data, integrity, seq FROM agijobs_checkpoints WHERE fabric = %s "
                "ORDER BY seq DESC LIMIT 1",
                (self.fabric,),
            )
            .fetchone()
        )
        if row is None:
            return None
        data = bytes(row[0])
        if hashlib.sha256(data).hexdigest() != row[1]:
            raise IntegrityError(
                f"{self.location}: checkpoint at seq {row[2]} does not match its stored sha256",
                "the row was altered; restore it from a backup or re-run",
            )
        return data

    def read_job_table(self, digest: str) -> bytes | None:
        value = self._one(
            "SELECT data FROM agijobs_job_tables WHERE fabric = %s AND sha256 = %s",
            (self.fabric, digest),
        )
        return None if value is None else bytes(value)

    def write_checkpoint(self, data: bytes, jobs: str, table: bytes | None) -> None:
        """Commit the checkpoint together with the events it covers and its job table
        (one transaction)."""
        seq = int(orjson.loads(data)["seq"])
        conn = self.writer()
        if table is not None:
            conn.execute(
                "INSERT INTO agijobs_job_tables (fabric, sha256, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (fabric, sha256) DO NOTHING",
                (self.fabric, jobs, table),
            )
        conn.execute(
            "DELETE FROM agijobs_job_tables WHERE fabric = %s AND sha256 <> %s", (self.fabric, jobs)
        )
        conn.execute(
            "INSERT INTO agijobs_checkpoints (fabric, seq, data, integrity) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (fabric, seq) DO UPDATE SET data = EXCLUDED.data,"
            " integrity = EXCLUDED.integrity",
            (self.fabric, seq, data, hashlib.sha256(data).hexdigest()),
        )
        conn.execute(
            "DELETE FROM agijobs_checkpoints WHERE fabric = %s AND seq <> %s", (self.fabric, seq)
        )
        if crashpoints.reached("checkpoint"):
            crashpoints.kill()  # before the commit: neither these events nor this checkpoint
        conn.commit()
        if crashpoints.reached("checkpoint-renamed"):
            crashpoints.kill()  # right after it: both

    def read_document(self, name: str) -> bytes | None:
        value = self._one(
            "SELECT data FROM agijobs_documents WHERE fabric = %s AND name = %s",
            (self.fabric, name),
        )
        return None if value is None else bytes(value)

    def write_document(self, name: str, data: bytes) -> None:
        self.aux().execute(
            "INSERT INTO agijobs_documents (fabric, name, data) VALUES (%s, %s, %s)"
            " ON CONFLICT (fabric, name) DO UPDATE SET data = EXCLUDED.data",
            (self.fabric, name, data),
        )

    def document_names(self) -> list[str]:
        rows = (
            self.aux()
            .execute(
                "SELECT name FROM agijobs_documents WHERE fabric = %s ORDER BY name",
                (self.fabric,),
            )
            .fetchall()
        )
        return [str(row[0]) for row in rows]

    def append_session(self, record: dict[str, Any]) -> None:
        self.aux().execute(
            "INSERT INTO agijobs_sessions (fabric, record) VALUES (%s, %s)",
            (self.fabric, dumps(record)),
        )

    def read_sessions(self) -> list[dict[str, Any]]:
        rows = (
            self.aux()
            .execute(
                "SELECT record FROM agijobs_sessions WHERE fabric = %s ORDER BY n", (self.fabric,)
            )
            .fetchall()
        )
        return [orjson.loads(bytes(row[0])) for row in rows]

    # ------------------------------------------------------------- metrics

    def append_metrics(self, rows: list[bytes]) -> None:
        with self.aux().cursor() as cursor:
            cursor.executemany(
                "INSERT INTO agijobs_metrics (fabric, tick, row) VALUES (%s, %s, %s)",
                [(self.fabric, int(orjson.loads(row)["t"]), row) for row in rows],
            )

    def read_metrics(self) -> bytes:
        rows = (
            self.aux()
            .execute("SELECT row FROM agijobs_metrics WHERE fabric = %s ORDER BY n", (self.fabric,))
            .fetchall()
        )
        return b"".join(bytes(row[0]) + b"\n" for row in rows)

    def trim_metrics(self, last_tick: int) -> None:
        self.aux().execute(
            "DELETE FROM agijobs_metrics WHERE fabric = %s AND tick > %s", (self.fabric, last_tick)
        )

    # ------------------------------------------------------------- the lock

    @contextlib.contextmanager
    def run_lock(self, *, wait: float = 0.0) -> Iterator[None]:
        conn = self.writer()
        key = lock_key(self.fabric)
        deadline = time.monotonic() + wait
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            conn.commit()
            if row is not None and row[0]:
                break
            if time.monotonic() >= deadline:
                raise Conflict(
                    f"storage {self.location} is in use by another agijobs process (a live run, "
                    "or an owner command being applied)",
                    "see `agijobs status`; a live run takes owner commands (pause-all, reroute, …)",
                )
            time.sleep(0.05)
        self._locked = True
        try:
            yield
        finally:
            self._locked = False
            if not conn.closed:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                    conn.commit()

    def lock_is_held(self) -> bool:
        return self._locked or self.lock_holder() is not None

    def lock_session(self) -> str | None:
        """This process's lock-holding session: its backend pid, which pg_locks shows."""
        return (
            None if not self._locked or self._writer is None else str(self._writer.info.backend_pid)
        )

    def lock_holder(self) -> str | None:
        """The backend pid of the session holding this fabric's run lock, if any."""
        holder = self._one(_HOLDER_QUERY, _lock_halves(self.fabric))
        return None if holder is None else str(holder)

    # ------------------------------------------------------------- the inbox

    def _listen(self, channel: str) -> psycopg.Connection[Any]:
        conn = self.aux()
        if channel not in self._listening:
            conn.execute(f"LISTEN {channel}")
            self._listening.add(channel)
        return conn

    def submit_command(self, command: dict[str, Any]) -> str:
        conn = self._listen(ACK_CHANNEL)  # listening before the runner can acknowledge
        tag = hashlib.sha256(f"{os.uname().nodename}:{os.getpid()}".encode()).hexdigest()[:8]
        command_id = f"{command['issued_ns']:020d}-{tag}-{next(_counter)}"
        with conn.transaction():
            conn.execute(
                "INSERT INTO agijobs_inbox (fabric, id, command) VALUES (%s, %s, %s)",
                (self.fabric, command_id, orjson.dumps({**command, "id": command_id})),
            )
            conn.execute("SELECT pg_notify(%s, %s)", (INBOX_CHANNEL, self.fabric))
        return command_id

    def _claimer(self) -> psycopg.Connection[Any]:
        """The runner's inbox connection: it LISTENs for submissions, and claims run in
        its transactions (a connection of their own, so nothing else joins them)."""
        if self._inbox is None:
            self.aux()
            self._inbox = self._connect(autocommit=True)
            self._inbox.execute(f"LISTEN {INBOX_CHANNEL}")
        return self._inbox

    def pending_commands(self) -> list[tuple[str, dict[str, Any]]]:
        """Commands neither journaled nor refused, in id order, claimed (row-locked, SKIP
        LOCKED) until `journal` commits them. Queries only when a NOTIFY or an earlier find
        says so."""
        conn = self._claimer()
        if self._claim_open:
            conn.execute("ROLLBACK")
            self._claim_open = False
        if any(n.payload == self.fabric for n in conn.notifies(timeout=0)):
            self._maybe_pending = True
        if not self._maybe_pending:
            return []
        conn.execute("BEGIN")
        self._claim_open = True
        rows = conn.execute(
            "SELECT id, command FROM agijobs_inbox WHERE fabric = %s AND journal_index IS NULL "
            "AND ack IS NULL ORDER BY id FOR UPDATE SKIP LOCKED",
            (self.fabric,),
        ).fetchall()
        self._maybe_pending = bool(rows)
        if not rows:
            conn.execute("ROLLBACK")
            self._claim_open = False
        return [(str(row[0]), orjson.loads(bytes(row[1]))) for row in rows]

    def wait_for_commands(self, timeout: float) -> None:
        """Block until a NOTIFY for this fabric's inbox (or `timeout`)."""
        conn = self._claimer()
        if self._claim_open:
            conn.execute("ROLLBACK")
            self._claim_open = False
        for notice in conn.notifies(timeout=timeout, stop_after=1):
            if notice.payload == self.fabric:
                self._maybe_pending = True

    def journal(self, entries: list[dict[str, Any]]) -> None:
        """Record the taken commands with their tick and order, in the claim's transaction
        (or as new rows: `import` copies a journal into an empty fabric)."""
        conn = self._claimer()
        if not self._claim_open:
            conn.execute("BEGIN")
        session = self.lock_session()
        if session is not None:
            # The lock lives on the writer's session, the journal commits on this one: a
            # runner whose session was ended (and its lock taken over) must not journal.
            row = conn.execute(_HOLDER_QUERY, _lock_halves(self.fabric)).fetchone()
            if row is None or str(row[0]) != session:
                conn.execute("ROLLBACK")
                self._claim_open = False
                raise Conflict(
                    f"storage {self.location}: this runner lost the run lock (its database "
                    "session ended)",
                    "see `agijobs status`; `agijobs runner start` continues the run",
                )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO agijobs_inbox (fabric, id, command, journal_index, entry) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (fabric, id) DO UPDATE "
                "SET journal_index = EXCLUDED.journal_index, entry = EXCLUDED.entry",
                [
                    (
                        self.fabric,
                        entry["id"],
                        orjson.dumps(entry["command"]),
                        entry["index"],
                        encode_entry(entry),
                    )
                    for entry in entries
                ],
            )
        conn.execute("COMMIT")
        self._claim_open = False
        self._maybe_pending = True  # look again: more may have come meanwhile

    def drop_pending(self, command_id: str) -> None:
        # Journaling updates the same row in one transaction: a journaled command is never
        # also pending here, so there is nothing to drop.
        return

    def reject_pending(self, command_id: str, ack: dict[str, Any]) -> None:
        """Acknowledge a claimed command the runner refuses; acknowledged and never
        journaled, it is no longer pending. The claim ends first: its row lock would keep
        the acknowledgement waiting (the runner journals what it takes before it refuses)."""
        if self._claim_open:
            self._claimer().execute("ROLLBACK")
            self._claim_open = False
        self.acknowledge(command_id, ack)

    def read_journal(self) -> list[dict[str, Any]]:
        rows = (
            self.aux()
            .execute(
                "SELECT entry FROM agijobs_inbox WHERE fabric = %s AND entry IS NOT NULL "
                "ORDER BY journal_index, id",
                (self.fabric,),
            )
            .fetchall()
        )
        # Named as the directory's journal, which an export writes with these very entries:
        # line N is the Nth entry in journal order.
        return verify_journal(
            (bytes(row[0]) for row in rows), f"{self.location}/inbox/journal.ndjson"
        )

    def acknowledge(self, command_id: str, ack: dict[str, Any]) -> None:
        conn = self.aux()
        with conn.transaction():
            conn.execute(
                "UPDATE agijobs_inbox SET ack = %s WHERE fabric = %s AND id = %s",
                (orjson.dumps(ack), self.fabric, command_id),
            )
            conn.execute("SELECT pg_notify(%s, %s)", (ACK_CHANNEL, command_id))

    def read_ack(self, command_id: str) -> dict[str, Any] | None:
        value = self._one(
            "SELECT ack FROM agijobs_inbox WHERE fabric = %s AND id = %s",
            (self.fabric, command_id),
        )
        return None if value is None else orjson.loads(bytes(value))

    def wait_ack(self, command_id: str, timeout: float) -> dict[str, Any] | None:
        conn = self._listen(ACK_CHANNEL)
        deadline = time.monotonic() + timeout
        while True:
            ack = self.read_ack(command_id)
            left = deadline - time.monotonic()
            if ack is not None or left <= 0:
                return ack
            for _ in conn.notifies(timeout=min(left, 1.0), stop_after=1):
                pass

    # ------------------------------------------------------------- archive

    def archive(self, run_id: str) -> str:
        """Move the current run aside under the fabric name `NAME@RUN_ID` (same tables)."""
        conn = self.aux()
        target = f"{self.fabric}@{run_id}"
        suffix = 1
        while self._fabric_used(target):
            suffix += 1
            target = f"{self.fabric}@{run_id}.{suffix}"
        with conn.transaction():
            for table in _TABLES:
                conn.execute(
                    f"UPDATE {table} SET fabric = %s WHERE fabric = %s",
                    (target, self.fabric),
                )
        parts = urlsplit(self.location)
        query = [(k, target if k == "fabric" else v) for k, v in parse_qsl(parts.query)]
        return urlunsplit(parts._replace(query=urlencode(query, safe="*@")))

    def discard(self) -> None:
        conn = self.aux()
        with conn.transaction():
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table} WHERE fabric = %s", (self.fabric,))

    def _fabric_used(self, fabric: str) -> bool:
        return bool(
            self._one(
                "SELECT EXISTS (SELECT 1 FROM agijobs_documents WHERE fabric = %s) OR "
                "EXISTS (SELECT 1 FROM agijobs_events WHERE fabric = %s)",
                (fabric, fabric),
            )
        )
