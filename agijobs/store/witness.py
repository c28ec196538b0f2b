"""Heads kept outside the storage: the witness a runner publishes each checkpoint's
(seq, head) to, and that `audit --witness` holds the log against.

Whoever can write the storage can rewrite the log and re-seal every hash in it; a record
they cannot reach stays as it was published. `--witness` names one:

    FILE               an append-only NDJSON file, one record per line, fsynced (never a
                       path inside the storage directory: the same hands would hold both)
    -                  standard output as a run publishes (standard input as audit reads)
    postgresql://…     the table `agijobs_witness` of a database other than the storage's

A record is one canonical JSON object:

    {"ended": false, "format": 1, "head": "<64 hex>", "integrity": "<64 hex>",
     "published_at": "…Z", "run_id": "…", "seq": 212, "storage": "…", "tick": 10}

`head` is the chain head after line `seq`, `integrity` the checkpoint's seal, and `ended`
whether the run had ended there (finished, or at max_ticks): no line may follow it then.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from ..errors import BadInput, IntegrityError, WitnessUnavailable
from ..ledger.canonical import dumps
from . import is_database_url, require_driver

RECORD_FORMAT = 1
STDIO = "-"
_INTEGRITY_MARK = b',"integrity":"'
_HEX = frozenset("0123456789abcdef")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS agijobs_witness (
    run_id text, seq bigint NOT NULL, n bigint GENERATED ALWAYS AS IDENTITY,
    storage text NOT NULL, tick bigint NOT NULL, head text NOT NULL, integrity text NOT NULL,
    ended boolean NOT NULL, published_at text NOT NULL,
    PRIMARY KEY (n));
CREATE INDEX IF NOT EXISTS agijobs_witness_run ON agijobs_witness (run_id, seq);
"""
_COLUMNS = ("storage", "run_id", "seq", "tick", "head", "integrity", "ended", "published_at")
# Two first runs on a new witness database must not race on CREATE TABLE IF NOT EXISTS.
_SCHEMA_LOCK = 0x61676A77


class Witness(Protocol):
    """Where heads are published, and read back. `name` is how messages call it."""

    name: str
    # The storage this process witnesses, as records name it: an absolute directory path,
    # or the database URL without its password.
    storage: str

    def publish(self, record: dict[str, Any]) -> None: ...
    # (where, record) of every record held, in the order published: "line 7", "row 7".
    def records(self) -> Iterator[tuple[str, dict[str, Any]]]: ...
    def close(self) -> None: ...


def open_witness(spec: str, storage: str, *, reading: bool = False) -> Witness:
    """The witness `spec` names for the storage `storage` (its --storage value): to publish
    to, or with `reading`, to read (a file must exist then, and `-` is standard input).
    A witness the storage's own hands would hold is refused (BadInput); one that cannot be
    opened is `WitnessUnavailable`."""
    identity = _storage_identity(storage)
    if spec == STDIO:
        if reading:
            if sys.stdin.isatty():
                raise BadInput(
                    "--witness -: standard input is a terminal",
                    "pipe the witness records in: agijobs audit --witness - < witness.ndjson",
                )
            return StreamWitness("<stdin>", identity, sys.stdin.buffer)
        return StreamWitness("<stdout>", identity, sys.stdout)
    if is_database_url(spec):
        require_driver("--witness", spec)
        return DatabaseWitness(spec, storage, identity, reading=reading)
    return FileWitness(Path(spec), storage, identity, reading=reading)


def head_record(
    storage: str,
    run_id: str | None,
    seq: int,
    head: str,
    tick: int,
    checkpoint: bytes,
    ended: bool,
) -> dict[str, Any]:
    """The record of the checkpoint `checkpoint` (its sealed bytes), made at `seq`."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {
        "ended": ended,
        "format": RECORD_FORMAT,
        "head": head,
        "integrity": integrity_of(checkpoint),
        "published_at": now.replace("+00:00", "Z"),
        "run_id": run_id,
        "seq": seq,
        "storage": storage,
        "tick": tick,
    }


def integrity_of(checkpoint: bytes) -> str:
    """A sealed checkpoint's integrity hash, read where its sorted keys put it: the first
    top-level field after "inputs_id", before "seq" and "state" (ledger.checkpoint)."""
    cut = checkpoint.index(_INTEGRITY_MARK) + len(_INTEGRITY_MARK)
    return checkpoint[cut : cut + 64].decode()


def _storage_identity(storage: str) -> str:
    if is_database_url(storage):
        from .postgres_url import parse_url

        return parse_url(storage)[2]
    return os.path.abspath(storage)


def checked_record(record: Any, where: str) -> dict[str, Any]:
    """`record` if it has a witness record's shape (the fields the audit relies on), else an
    IntegrityError naming `where`."""
    problem = None
    if not isinstance(record, dict):
        problem = "not a JSON object"
    elif not (record.get("run_id") is None or isinstance(record.get("run_id"), str)):
        problem = "run_id is not a string"
    elif not (_is_int(record.get("seq")) and record["seq"] >= 1):
        problem = "seq is not a whole number from 1"
    elif not _is_int(record.get("tick")):
        problem = "tick is not a whole number"
    elif not (isinstance(record.get("head"), str) and _is_hash(record["head"])):
        problem = "head is not 64 lowercase hex digits"
    elif not isinstance(record.get("ended"), bool):
        problem = "ended is not true or false"
    if problem is not None:
        raise IntegrityError(
            f"{where}: not a witness record ({problem})",
            "the witness was damaged or is not one: compare it with its own copies",
        )
    return dict(record)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_hash(value: str) -> bool:
    return len(value) == 64 and set(value) <= _HEX


def _parsed_lines(lines: Iterator[bytes], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """NDJSON records; a last line without its newline is one a writer died writing, and
    is left out (its head was not witnessed)."""
    for number, line in enumerate(lines, start=1):
        if not line.endswith(b"\n"):
            return
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            parsed = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise IntegrityError(
                f"{where}: not a witness record (not JSON)",
                "the witness was damaged or is not one: compare it with its own copies",
            ) from None
        yield f"line {number}", checked_record(parsed, where)


class FileWitness:
    """An append-only NDJSON file: each record is one write of one line, then fsync."""

    def __init__(self, path: Path, storage: str, identity: str, *, reading: bool) -> None:
        self.name = str(path)
        self.storage = identity
        self.path = path
        self._fd: int | None = None
        if not is_database_url(storage):
            home = Path(storage).resolve()
            if path.resolve() == home or path.resolve().is_relative_to(home):
                raise BadInput(
                    f"--witness: {path} is inside the storage directory {storage}",
                    "name a file the storage's writers cannot reach (another disk, host or "
                    "account): a witness held by the same hands proves nothing",
                )
        if reading:
            if not path.is_file():
                raise BadInput(
                    f"--witness: {path} does not exist"
                    if not path.exists()
                    else f"--witness: {path} is not a file",
                    "name the file the run published its heads to",
                )
            return
        created = not path.exists()
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if created:  # the file's name is durable before any head is said to be
                _fsync_directory(path.parent)
        except OSError as error:
            raise WitnessUnavailable(
                f"witness {path}: cannot open it to append ({error.strerror or error})",
                "check the path, its permissions and free space; nothing was written",
            ) from None

    def publish(self, record: dict[str, Any]) -> None:
        assert self._fd is not None, "opened for reading"
        line = memoryview(dumps(record) + b"\n")
        try:
            while line:
                line = line[os.write(self._fd, line) :]
            os.fsync(self._fd)
        except OSError as error:
            raise WitnessUnavailable(
                f"witness {self.name}: cannot append ({error.strerror or error})",
                "check the path, its permissions and free space",
            ) from None

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        with open(self.path, "rb") as handle:
            yield from _parsed_lines(iter(handle), self.name)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StreamWitness:
    """Standard output (a run's records, for CI to keep) or standard input (an audit's)."""

    def __init__(self, name: str, identity: str, stream: IO[Any]) -> None:
        self.name = name
        self.storage = identity
        self.stream = stream

    def publish(self, record: dict[str, Any]) -> None:
        try:
            self.stream.write(dumps(record).decode() + "\n")
            self.stream.flush()  # a pipe cannot be fsynced: its reader keeps the record
        except OSError as error:
            raise WitnessUnavailable(
                f"witness {self.name}: cannot write ({error.strerror or error})",
                "keep the reader of standard output running for the whole run",
            ) from None

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from _parsed_lines(iter(self.stream), self.name)

    def close(self) -> None:
        pass


class DatabaseWitness:
    """The table `agijobs_witness` of another PostgreSQL database: a row per record,
    committed as it is inserted. Grant the runner INSERT and SELECT on it, not UPDATE or
    DELETE, and not even its own credentials can take a head back."""

    def __init__(self, url: str, storage: str, identity: str, *, reading: bool) -> None:
        import psycopg

        from .postgres_url import redact

        self.name = redact(url)
        self.storage = identity
        _check_other_database(url, storage, self.name)
        conninfo = psycopg.conninfo.make_conninfo(url, connect_timeout=10, keepalives=1)
        try:
            self._conn = psycopg.connect(
                conninfo, autocommit=True, application_name="agijobs-witness"
            )
            exists = self._conn.execute("SELECT to_regclass('agijobs_witness')").fetchone()
            missing = exists is None or exists[0] is None
            if missing and not reading:  # an INSERT-only role needs no CREATE
                with self._conn.transaction():
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    self._conn.execute(_SCHEMA)
        except psycopg.Error as error:
            raise WitnessUnavailable(
                f"witness {self.name}: cannot use it ({_first_line(error)})",
                "check the URL, that the server is up and that the user may read and insert "
                "into agijobs_witness",
            ) from None
        if missing and reading:
            self._conn.close()
            raise BadInput(
                f"--witness: {self.name} has no table agijobs_witness",
                "name the database the run published its heads to",
            )

    def publish(self, record: dict[str, Any]) -> None:
        import psycopg

        try:
            self._conn.execute(
                f"INSERT INTO agijobs_witness ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})",
                tuple(record[column] for column in _COLUMNS),
            )
        except psycopg.Error as error:
            raise WitnessUnavailable(
                f"witness {self.name}: cannot insert ({_first_line(error)})",
                "check that the server is up and that the user may insert into agijobs_witness",
            ) from None

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rows = self._conn.execute(
            f"SELECT n, {', '.join(_COLUMNS)} FROM agijobs_witness ORDER BY n"
        ).fetchall()
        for n, *values in rows:
            record = dict(zip(_COLUMNS, values, strict=True))
            yield f"row {n}", checked_record(record, f"{self.name} row {n}")

    def close(self) -> None:
        self._conn.close()


def _check_other_database(url: str, storage: str, name: str) -> None:
    """Refuse a witness database that is the storage's own, as the URLs name them (host,
    port, database): whoever may rewrite the storage's rows may rewrite its witness."""
    from urllib.parse import parse_qsl, urlsplit

    if any(key == "fabric" for key, _ in parse_qsl(urlsplit(url).query)):
        raise BadInput(
            f"--witness: {name} names a fabric",
            "a witness database takes none (its rows name the storage and run): drop ?fabric=",
        )
    if not is_database_url(storage):
        return
    from .postgres_url import parse_url

    if _database_of(url) == _database_of(parse_url(storage)[0]):
        raise BadInput(
            f"--witness: {name} is the storage's own database",
            "name another database (best: another server, under other credentials): a "
            "witness held by the same hands proves nothing",
        )


def _database_of(conninfo: str) -> tuple[str, str, str]:
    import psycopg

    given = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = str(given.get("user") or "")
    return (
        str(given.get("host") or ""),
        str(given.get("port") or "5432"),
        str(given.get("dbname") or user),
    )


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
