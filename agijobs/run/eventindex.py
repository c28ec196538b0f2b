"""An index of a directory storage's event log, for `agijobs describe`: which lines name a
job, and which of the rarer events (owner commands, faults, nodes going down or up) name a
node or a shard.

It lives in `events-index/` beside the log, outside everything `audit` compares, and is
only ever a shortcut: `describe` re-reads each line it points at. It is built on first use,
extended by a segment for what the log gained since, merged when segments pile up, and
rebuilt when the log no longer holds what it indexed (the line at a segment's end must
carry the chain hash it recorded: the hash chains the whole log before it).

A segment file: one JSON header line, then (buckets + 1) little-endian uint64 offsets into
the data, then the data: `key<TAB>offset<LF>` lines in log order, grouped by bucket (crc32
of the key; about one bucket per 64 KiB of log). A key is `j/<job>`, `n/<node>` or
`s/<shard>`. Finding a key reads the header, 16 bytes of offsets and one bucket (about
10 KiB). Building one appends to the buckets as it reads: no table of every job is held.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import zlib
from array import array
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

import orjson

from ..views.events import subjects

DIRECTORY = "events-index"
FORMAT = 2
MAX_SEGMENTS = 8
_READ = 1 << 24
_JOB = re.compile(rb'"job":"([^"\\]*)"')
# The line of an event that is not a job's (its type, the last member, starts otherwise).
_OTHER = re.compile(rb'"type":"(?!job\.)[^"]*"}\n')
_HASH = re.compile(rb'"hash":"([0-9a-f]{64})"')


class EventIndex:
    """The index of `log` (events.ndjson), kept in `root` (events-index/)."""

    def __init__(self, log: Path, root: Path) -> None:
        self.log = log
        self.root = root
        self.segments: list[tuple[Path | None, dict[str, Any], Any]] = []

    # ----------------------------------------------------------------- lookup

    def lines(self, key: str) -> Generator[bytes, None, None]:
        """The log's lines the index lists under `key`, in log order."""
        offsets: list[int] = []
        for path, header, memory in self.segments:
            offsets.extend(_find(path, header, memory, key))
        if not offsets:
            return
        with open(self.log, "rb") as handle:
            for offset in offsets:
                handle.seek(offset)
                yield handle.readline().rstrip(b"\n")

    # ----------------------------------------------------------------- upkeep

    def open(self) -> EventIndex:
        """Load the segments on disk, drop them if stale, and index what the log gained."""
        self.segments = []
        try:
            size = self.log.stat().st_size
        except FileNotFoundError:
            return self
        found = sorted(self.root.glob("*.idx"), key=lambda p: int(p.stem)) if self._dir() else []
        start = 0
        for path in found:
            header = _header(path)
            if header is None or header["start"] != start or header["end"] > size:
                break
            self.segments.append((path, header, None))
            start = header["end"]
        if self.segments and not _ends_with(self.log, start, self.segments[-1][1]["last_hash"]):
            self.segments, start = [], 0
        stale = [p for p in found if p not in {s[0] for s in self.segments}]
        for path in stale:
            with contextlib.suppress(OSError):
                path.unlink()
        if size > start:
            self._extend(start)
        if len(self.segments) > MAX_SEGMENTS:
            self._merge()
        return self

    def _dir(self) -> bool:
        return self.root.is_dir()

    def _extend(self, start: int) -> None:
        buckets, end, last_hash = _scan(self.log, start)
        if end == start:
            return
        header = {"format": FORMAT, "start": start, "end": end, "last_hash": last_hash}
        self._add(header, buckets)

    def _merge(self) -> None:
        last = self.segments[-1][1]
        buckets = Buckets(_bucket_count(last["end"]))
        for path, header, memory in self.segments:  # in log order: each bucket stays so
            data = memory if memory is not None else Path(path).read_bytes()  # type: ignore[arg-type]
            for line in data[header["data_at"] :].split(b"\n"):
                if line:
                    buckets.add_line(line.partition(b"\t")[0], line + b"\n")
        header = {"format": FORMAT, "start": 0, "end": last["end"], "last_hash": last["last_hash"]}
        old = [path for path, _, _ in self.segments if path is not None]
        self.segments = []
        self._add(header, buckets)
        for path in old:
            if path != self.segments[0][0]:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _add(self, header: dict[str, Any], buckets: Buckets) -> None:
        pieces = encode(header, buckets)
        path = self.root / f"{len(self.segments)}.idx"
        try:  # a storage on read-only media is still described, from memory
            self.root.mkdir(exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as handle:  # piece by piece: never the whole index at once
                handle.writelines(pieces)
            os.replace(tmp, path)
        except OSError:
            data = b"".join(pieces)
            self.segments.append((None, _header_of(data), data))
            return
        self.segments.append((path, _header_of(bytes(pieces[0]) + bytes(pieces[1])), None))


# --------------------------------------------------------------------- scanning


class Buckets:
    """Index lines, `key<TAB>offset<LF>`, appended to the bucket of their key."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.parts = [bytearray() for _ in range(count)]

    def add(self, key: bytes, offset: int) -> None:
        self.parts[zlib.crc32(key) % self.count] += b"%s\t%d\n" % (key, offset)

    def add_line(self, key: bytes, line: bytes) -> None:
        self.parts[zlib.crc32(key) % self.count] += line


def _bucket_count(log_bytes: int) -> int:
    return max(16, log_bytes >> 16)


def _scan(log: Path, start: int) -> tuple[Buckets, int, str]:
    """The index lines of the complete lines from byte `start` on, where they end, and the
    hash of the last one."""
    buckets = Buckets(_bucket_count(log.stat().st_size - start))
    position = start
    last = b""
    with open(log, "rb") as handle:
        handle.seek(start)
        rest = b""
        while block := handle.read(_READ):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if not cut:
                continue
            block = block[:cut]
            _index_block(block, position, buckets)
            position += cut
            last = block[block.rfind(b"\n", 0, cut - 1) + 1 : cut]
    found = _HASH.search(last) if last else None
    return buckets, position, found.group(1).decode() if found else ""


def _index_block(block: bytes, base: int, buckets: Buckets) -> None:
    rfind = block.rfind
    add = buckets.add
    line_start = -1
    seen_at = -2
    for found in _JOB.finditer(block):
        at = found.start()
        if at > seen_at:  # one lookup of the line start per line
            line_start = rfind(b"\n", 0, at) + 1
            seen_at = block.find(b"\n", at)
        add(b"j/" + found.group(1), base + line_start)
    for found in _OTHER.finditer(block):
        start = rfind(b"\n", 0, found.start()) + 1
        event = orjson.loads(block[start : found.end()])
        jobs, nodes, shards = subjects(event["data"])
        if not (jobs or nodes or shards) and event["type"].startswith("owner."):
            shards = {"*"}  # the whole fabric's (pause-all, resume): every shard's history
        for node in nodes:
            add(b"n/" + node.encode(), base + start)
        for shard in shards:
            add(b"s/" + shard.encode(), base + start)


def _ends_with(log: Path, end: int, last_hash: str) -> bool:
    """Whether the line of `log` that ends at byte `end` carries `last_hash`."""
    if end <= 0 or not last_hash:
        return False
    with open(log, "rb") as handle:
        back = 4096
        while True:
            begin = max(0, end - back)
            handle.seek(begin)
            data = handle.read(end - begin)
            if not data.endswith(b"\n"):
                return False
            cut = data.rfind(b"\n", 0, len(data) - 1)
            if cut >= 0 or begin == 0:
                return f'"hash":"{last_hash}"'.encode() in data[cut + 1 :]
            back *= 4


# --------------------------------------------------------------------- the file


def encode(header: dict[str, Any], buckets: Buckets) -> list[bytes | bytearray]:
    """The segment file: its header line, its bucket bounds, then each bucket."""
    bounds = array("Q", [0])
    total = 0
    for part in buckets.parts:
        total += len(part)
        bounds.append(total)
    if bounds.itemsize != 8:  # pragma: no cover - every platform agijobs runs on
        raise RuntimeError("array('Q') is not 64-bit here")
    if sys.byteorder != "little":  # pragma: no cover
        bounds.byteswap()
    head = orjson.dumps({**header, "buckets": buckets.count}, option=orjson.OPT_SORT_KEYS) + b"\n"
    return [head, bounds.tobytes(), *buckets.parts]


def _header_of(data: bytes) -> dict[str, Any]:
    cut = data.index(b"\n") + 1
    header: dict[str, Any] = orjson.loads(data[:cut])
    header["data_at"] = cut + 8 * (header["buckets"] + 1)
    header["bounds_at"] = cut
    return header


def _header(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            line = handle.readline(4096)
        header: dict[str, Any] = orjson.loads(line)
        if header.get("format") != FORMAT:
            return None
        header["bounds_at"] = len(line)
        header["data_at"] = len(line) + 8 * (int(header["buckets"]) + 1)
        return header
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _bucket(path: Path | None, header: dict[str, Any], memory: Any, key: bytes) -> bytes:
    index = zlib.crc32(key) % header["buckets"]
    where = header["bounds_at"] + 8 * index
    if memory is not None:
        bounds = memory[where : where + 16]
    else:
        assert path is not None
        handle: IO[bytes]
        with open(path, "rb") as handle:
            handle.seek(where)
            bounds = handle.read(16)
            first, last = int.from_bytes(bounds[:8], "little"), int.from_bytes(bounds[8:], "little")
            handle.seek(header["data_at"] + first)
            return handle.read(last - first)
    first, last = int.from_bytes(bounds[:8], "little"), int.from_bytes(bounds[8:], "little")
    data: bytes = memory[header["data_at"] + first : header["data_at"] + last]
    return data


def _find(path: Path | None, header: dict[str, Any], memory: Any, key: str) -> list[int]:
    raw = key.encode()
    prefix = raw + b"\t"
    return [
        int(line[len(prefix) :])
        for line in _bucket(path, header, memory, raw).split(b"\n")
        if line.startswith(prefix)
    ]
