"""Reading a run's event log as `agijobs events` does: the whole log once, or following a
live run as it grows.

A follower is a reader like `status`: it never takes the run lock and never writes. It
reads only the bytes past what it has read (`Store.read_events_from`), hands on complete
lines only (a last line without its newline is being written: it is read again next time),
and polls modestly, backing off while nothing comes. It stops when no runner is live, after
reading what the runner wrote last. On PostgreSQL the runner commits events with each
checkpoint, so a follower there sees them checkpoint by checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import orjson

from ..errors import BadInput
from ..store import Store, no_run
from ..views.events import EventFilter, known_names

# `describe job` reads through here and starts in well under 300 ms on a 1M-job log: the
# run loading modules (the engine, the plan's models) are imported only where needed.

CHUNK = 1 << 22  # bytes read at a time from a log at rest
FIRST_POLL = 0.05  # seconds between reads while events come
LAST_POLL = 1.0  # and at most, after a quiet spell (doubling in between)

Event = tuple[bytes, dict[str, Any] | None]  # the stored line, and the event when parsed


def check_filter(store: Store, keep: EventFilter) -> None:
    """Refuse a --node or --shard the run has never had (exit 2, with a did-you-mean)."""
    if not store.has_run():
        raise no_run(store)
    if keep.node is None and keep.shard is None:
        return
    shards, nodes = run_names(store)
    for given, names, what, option in (
        (keep.shard, shards, "shard", "--shard"),
        (keep.node, nodes, "node", "--node"),
    ):
        if given is None:
            continue
        problem = known_names(names, given, what)
        if problem is not None:
            listed = ", ".join(sorted(names)[:8]) + (", …" if len(names) > 8 else "")
            raise BadInput(f"{option}: {problem}", f"name one of its {what}s: {listed}")


def run_names(store: Store) -> tuple[set[str], set[str]]:
    """The shards and nodes a run has had: the plan's, and those its checkpoint or live
    view holds (registered by owner commands since)."""
    from .loading import read_json

    shards: set[str] = set()
    nodes: set[str] = set()
    plan = read_json(store, "run-plan.json") or {}
    fabric = (plan.get("scenario") or plan).get("fabric") or {}
    shards.update(s["id"] for s in fabric.get("shards", []) if isinstance(s, dict) and "id" in s)
    nodes.update(n["id"] for n in fabric.get("nodes", []) if isinstance(n, dict) and "id" in n)
    checkpoint = store.read_checkpoint()
    views = [orjson.loads(checkpoint).get("state", {}) if checkpoint else {}]
    views.append(read_json(store, "live.json") or {})
    for view in views:
        shards.update(s["id"] for s in view.get("shards", []))
        nodes.update(n["id"] for n in view.get("nodes", []))
    return shards, nodes


def read_events(
    store: Store,
    keep: EventFilter,
    *,
    follow: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    idle: Callable[[], None] | None = None,
    on_no_runner: Callable[[], None] | None = None,
) -> Iterator[Event]:
    """The events `keep` keeps, in log order; with `follow`, then those a live runner
    appends, until it stops. `idle` is called before each wait (to flush what was printed);
    `on_no_runner` is told when there was no live run to follow."""
    for batch in read_event_batches(
        store, keep, follow=follow, sleep=sleep, idle=idle, on_no_runner=on_no_runner
    ):
        yield from batch


def read_event_batches(
    store: Store,
    keep: EventFilter,
    *,
    follow: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    idle: Callable[[], None] | None = None,
    on_no_runner: Callable[[], None] | None = None,
) -> Iterator[list[Event]]:
    """As `read_events`, a piece of the log at a time (for a printer that writes each
    piece at once: a follower of a large run keeps up)."""
    for block in read_blocks(store, follow, sleep, idle, on_no_runner):
        lines = block.split(b"\n")[:-1]
        if keep.everything:
            yield [(line, None) for line in lines]
            continue
        kept: list[Event] = [
            (line, event) for line in lines if (event := keep.keeps_line(line)) is not None
        ]
        if kept:
            yield kept


def read_lines(
    store: Store,
    keep: EventFilter,
    *,
    follow: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    idle: Callable[[], None] | None = None,
    on_no_runner: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """As `read_events`, the kept lines as stored, many at a time: newline-terminated
    pieces of the log (the whole of each piece read when nothing is filtered out), for a
    follower that passes them on and should cost the machine little more than the copy."""
    for block in read_blocks(store, follow, sleep, idle, on_no_runner):
        if keep.everything:
            yield block
            continue
        kept = [line for line in block.split(b"\n")[:-1] if keep.keeps_line(line) is not None]
        if kept:
            yield b"\n".join(kept) + b"\n"


def read_blocks(
    store: Store,
    follow: bool,
    sleep: Callable[[float], None] = time.sleep,
    idle: Callable[[], None] | None = None,
    on_no_runner: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """The log in newline-terminated pieces (complete lines only), then with `follow` what
    a live runner appends, until it stops."""
    from .sessions import runner_is_live

    live = follow and runner_is_live(store)
    if follow and not live and on_no_runner is not None:
        on_no_runner()
    offset = seq = 0
    with closing(store.read_event_chunks(CHUNK)) as chunks:  # complete lines only
        for chunk in chunks:
            offset += len(chunk)
            seq += chunk.count(b"\n")
            yield chunk
    if not live:
        return
    wait = FIRST_POLL
    while True:
        running = runner_is_live(store)  # before the read: what it wrote last is read after
        data = store.read_events_from(offset, seq)
        end = data.rfind(b"\n") + 1  # a torn last line is read again, whole, next time
        if end:
            offset += end
            seq += data.count(b"\n", 0, end)
            yield data[:end] if end < len(data) else data
            wait = FIRST_POLL
        if not running:
            return
        if not end:
            if idle is not None:
                idle()
            sleep(wait)
            wait = min(wait * 2, LAST_POLL)
