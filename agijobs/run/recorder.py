"""The run's record as it is made: every event numbered, hash-chained and appended to the
log; checkpoints written with the digest of the log they describe; the metrics series and
the Prometheus textfile kept beside them (not part of the chain: derived views)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..fabric.engine import Engine
from ..ledger import jobtable
from ..ledger.canonical import GENESIS_HASH, encode_event
from ..ledger.checkpoint import encode_checkpoint
from ..scenario.plan import Plan
from ..store import Store
from ..store.files import PROMETHEUS
from ..views.metrics import REPORTED, Observer, Sample, prometheus_text, sample
from .loading import LoadedRun

if TYPE_CHECKING:
    from .keys import HeadSigner


class Recorder:
    """Appends a run's events to its store and checkpoints its engine's state."""

    def __init__(
        self, store: Store, plan: Plan, engine: Engine, loaded: LoadedRun | None = None
    ) -> None:
        """Start a fresh log, or continue `loaded`'s log from its checkpoint seq."""
        self.store = store
        self.plan = plan
        self.engine = engine
        if loaded is None:
            self.seq, self.head, keep = 0, GENESIS_HASH, 0
            self.digest = hashlib.sha256()
        else:
            self.seq, self.head = loaded.seq, loaded.scan.mark_head
            keep = loaded.scan.mark_bytes
            hashed = loaded.scan.prefix_hash
            self.digest = (
                hashed.copy()
                if hashed is not None
                else hashlib.sha256(memoryview(loaded.events)[:keep])
            )
        self.log_bytes = keep  # the log's length; with `digest`, recorded in checkpoints
        self.sink = store.open_events(keep, self.seq)
        # The per-tick metrics series (agijobs.views.metrics), flushed with each checkpoint.
        self.observer = Observer(engine) if store.observed else None
        if self.observer is not None and loaded is not None:
            store.trim_metrics(loaded.engine_tick)
        self.counts: dict[str, int] | None = None  # events by type, kept only by derivations
        self.signer: HeadSigner | None = None  # signs each checkpoint on a keyed fabric
        # A derivation of the state alone (`runner start`'s check): events are counted, not
        # encoded, and no checkpoint is written; the caller reads the engine it ends in.
        self.state_only = False
        # Told each checkpoint's sealed bytes once they are durable (the runner's witness).
        self.witness: Callable[[bytes], None] | None = None
        # Told the metrics sample of each checkpoint (a live runner's /metrics).
        self.metrics: Callable[[Sample], None] | None = None

    def write(self, tick: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        if self.state_only:
            self.seq += len(events)
            return
        lines: list[bytes] = []
        head, seq = self.head, self.seq
        observer, counts, add = self.observer, self.counts, lines.append
        for kind, data in events:  # once per event: the run's hottest loop
            seq += 1
            line, head = encode_event(head, seq, tick, kind, data)
            add(line)
            if counts is not None:
                counts[kind] = counts.get(kind, 0) + 1
            if observer is not None and kind in REPORTED:
                observer.note(tick, kind, data)
        if lines:
            chunk = b"\n".join(lines) + b"\n"
            self.digest.update(chunk)
            self.log_bytes += len(chunk)
            self.sink.append(lines, chunk)
        self.head, self.seq = head, seq

    def checkpoint(self) -> None:
        self.engine.state.checkpoint_requested = False
        if self.state_only:
            return
        self.sink.sync()
        observer = self.observer
        if observer is not None and observer.rows:
            self.store.append_metrics(observer.rows)  # never ahead of a checkpoint for long:
            observer.rows = []  # runner start trims what a crash left past the checkpoint
        state, table = self.engine.split_snapshot()
        signer = self.signer
        checkpoint = encode_checkpoint(
            inputs_id=self.plan.inputs_id,
            seq=self.seq,
            head=self.head,
            state=state,
            events=(self.log_bytes, self.digest.hexdigest()),
            sign=None if signer is None else signer.signer(self.seq, self.head),
        )
        self.store.write_checkpoint(checkpoint, jobtable.digest(state), table)
        if self.witness is not None:  # only once durable: a witness never holds a lost head
            self.witness(checkpoint)
        if observer is not None or self.metrics is not None:
            now = sample(self.plan.name, self.engine, self.seq)
            if observer is not None:
                self.store.write_document(PROMETHEUS, prometheus_text(now))
            if self.metrics is not None:
                self.metrics(now)

    def close(self) -> None:
        self.sink.close()
