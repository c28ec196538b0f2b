"""What operators watch: the per-tick metrics series and the Prometheus textfile.

`metrics.ndjson` holds one compact row per tick, written with each checkpoint (and trimmed
back to the checkpoint by `runner start`, like the event log): the charts of `report.html` read
it. The few events a report lists are noted as they are written, so a report never
rescans a log of millions of lines: spillovers as per-tick counts per (from, to) pair in the
tick's row, node outages and governance events as rows of their own ({t, n} and {t, g}).
`metrics.prom` is rewritten atomically at each checkpoint in the Prometheus text format
that node_exporter's textfile collector reads. Neither is part of the hash chain: they are
derived views, rebuilt by the run that writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..fabric.commands import HANDLERS

if TYPE_CHECKING:
    from ..fabric.engine import Engine


# Event types a report shows; the runner hands each to `Observer.note` as it writes it.
REPORTED = frozenset(
    {
        "job.spilled",
        "node.down",
        "node.up",
        "governance.refused",
        *(f"owner.{name}" for name in ("rejected", "proposal", "approval", *HANDLERS)),
        "owner.batch",
    }
)


class Observer:
    """Collects one row per tick: {t, p, q: {shard: queued}, f: {shard: in flight},
    c: completions this tick, u: nodes up, s: {"from>to": spills this tick}}, and rows for
    outages and governance events. O(shards + nodes) per tick."""

    __slots__ = ("completed", "engine", "rows", "spills")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rows: list[bytes] = []
        self.completed = self._completed()
        self.spills: dict[str, int] = {}

    def note(self, tick: int, kind: str, data: dict[str, Any]) -> None:
        if kind == "job.spilled":
            pair = f"{data['from']}>{data['to']}"
            self.spills[pair] = self.spills.get(pair, 0) + 1
        elif kind in ("node.down", "node.up"):
            self.rows.append(orjson.dumps({"t": tick, "n": [kind, data["node"]]}))
        else:
            from .report import governance_row

            row = governance_row(tick, kind, data)
            self.rows.append(orjson.dumps({"t": tick, "g": row}))

    def _completed(self) -> int:
        return sum(shard.completed.count for shard in self.engine.state.shards.values())

    def observe(self) -> None:
        state = self.engine.state
        shards = state.shards.values()
        completed = self._completed()
        row = {
            "t": state.tick,
            "p": 1 if state.paused else 0,
            "q": {s.id: s.queued.count for s in shards},
            "f": {s.id: s.in_flight.count for s in shards},
            "c": completed - self.completed,
            "u": sum(1 for node in state.nodes.values() if node.up),
        }
        if self.spills:
            row["s"] = self.spills
            self.spills = {}
        self.completed = completed
        self.rows.append(orjson.dumps(row))


def _label(value: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(fabric: str, engine: Engine) -> bytes:
    """The fabric's state at this checkpoint as Prometheus text exposition format."""
    state = engine.state
    base = f'fabric="{_label(fabric)}"'
    lines: list[str] = []

    def metric(name: str, kind: str, text: str, samples: Sequence[tuple[str, float]]) -> None:
        lines.append(f"# HELP agijobs_{name} {text}")
        lines.append(f"# TYPE agijobs_{name} {kind}")
        for labels, value in samples:
            lines.append(f"agijobs_{name}{{{base}{labels}}} {value:g}")

    shards = list(state.shards.values())

    def per_shard(attr: str) -> list[tuple[str, float]]:
        return [(f',shard="{_label(s.id)}"', getattr(s, attr).count) for s in shards]

    metric("queue_depth", "gauge", "Jobs queued per shard.", per_shard("queued"))
    metric("in_flight", "gauge", "Jobs running per shard.", per_shard("in_flight"))
    metric("jobs_completed_total", "counter", "Jobs completed per shard.", per_shard("completed"))
    metric("jobs_failed_total", "counter", "Jobs failed per shard.", per_shard("failed"))
    metric(
        "spillovers_total",
        "counter",
        "Jobs spilled per shard and direction.",
        [(f',shard="{_label(s.id)}",direction="out"', s.spilled_out.count) for s in shards]
        + [(f',shard="{_label(s.id)}",direction="in"', s.spilled_in.count) for s in shards],
    )
    metric(
        "nodes_up",
        "gauge",
        "Nodes up per shard.",
        [
            (f',shard="{_label(s.id)}"', sum(1 for n in s.nodes if n.up))
            for s in shards
            if not s.retired
        ],
    )
    metric("paused", "gauge", "1 when the fabric is paused.", [("", 1 if state.paused else 0)])
    metric("last_tick", "gauge", "The tick of this checkpoint.", [("", state.tick)])
    metric(
        "owner_interventions_total",
        "counter",
        "Owner commands applied from outside the schedule (live or at rest).",
        [("", state.outside_commands)],
    )
    return ("\n".join(lines) + "\n").encode("utf-8")
