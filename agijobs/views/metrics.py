"""What operators watch: the per-tick metrics series and the Prometheus textfile.

`metrics.ndjson` holds one compact row per tick, written with each checkpoint (and trimmed
back to the checkpoint by `runner start`, like the event log): the charts of `report.html` read
it. The few events a report lists are noted as they are written, so a report never
rescans a log of millions of lines: spillovers as per-tick counts per (from, to) pair in the
tick's row, node outages and governance events as rows of their own ({t, n} and {t, g}).
`metrics.prom` is rewritten atomically at each checkpoint in the Prometheus text format
that node_exporter's textfile collector reads; a live runner serves the same text at
`/metrics` (`--metrics-addr`). Neither is part of the hash chain: they are
derived views, rebuilt by the run that writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

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


# ------------------------------------------------------------------ Prometheus series
#
# The one home of the series' names, kinds and help: the textfile written at each checkpoint
# (`metrics.prom`), a live runner's `/metrics` (agijobs.run.exporter) and `agijobs report`
# all render a `Sample` with `prometheus_text`, so the three say the same thing in the same
# words. Every series is labelled with `fabric` (the scenario's name), per-shard ones with
# `shard`, per-node ones with `shard` and `node`.


class Metric(NamedTuple):
    name: str
    kind: str  # gauge | counter (a counter's name ends in _total)
    help: str
    scope: str  # fabric | shard | node | direction (per shard, out and in)
    field: str  # the attribute of the `Sample`, `ShardSample` or `NodeSample` it reports


class ShardSample(NamedTuple):
    id: str
    queued: int
    in_flight: int
    budget_ms: int
    up: int  # registered, with a node up
    nodes_up: int
    completed: int
    failed: int
    spilled_in: int
    spilled_out: int


class NodeSample(NamedTuple):
    id: str
    shard: str
    up: int
    in_flight: int
    slots: int
    latency_ms: int
    over_budget: int
    completed: int
    failed: int


class Sample(NamedTuple):
    """The fabric at one moment, as plain values: what a runner publishes to its `/metrics`
    (read by the server's thread while the loop goes on) and what the textfile is made of."""

    fabric: str
    tick: int
    paused: int
    events: int
    owner_actions: int
    outside_commands: int
    shards: tuple[ShardSample, ...]
    nodes: tuple[NodeSample, ...]


METRICS = (
    Metric("agijobs_last_tick", "gauge", "The fabric's tick.", "fabric", "tick"),
    Metric("agijobs_paused", "gauge", "1 when the fabric is paused.", "fabric", "paused"),
    Metric("agijobs_events_total", "counter", "Events in the run's log.", "fabric", "events"),
    Metric(
        "agijobs_owner_actions_total",
        "counter",
        "Owner commands applied, scheduled or not (rejections excluded).",
        "fabric",
        "owner_actions",
    ),
    Metric(
        "agijobs_owner_interventions_total",
        "counter",
        "Owner commands applied from outside the schedule (live or at rest).",
        "fabric",
        "outside_commands",
    ),
    Metric("agijobs_queue_depth", "gauge", "Jobs queued per shard.", "shard", "queued"),
    Metric("agijobs_in_flight", "gauge", "Jobs running per shard.", "shard", "in_flight"),
    Metric(
        "agijobs_latency_budget_ms",
        "gauge",
        "The shard's latency budget: routers assign only to nodes within it.",
        "shard",
        "budget_ms",
    ),
    Metric(
        "agijobs_shard_up",
        "gauge",
        "1 when the shard is registered and has a node up.",
        "shard",
        "up",
    ),
    Metric("agijobs_nodes_up", "gauge", "Nodes up per shard.", "shard", "nodes_up"),
    Metric(
        "agijobs_jobs_completed_total", "counter", "Jobs completed per shard.", "shard", "completed"
    ),
    Metric("agijobs_jobs_failed_total", "counter", "Jobs failed per shard.", "shard", "failed"),
    Metric(
        "agijobs_spillovers_total",
        "counter",
        "Jobs spilled per shard and direction.",
        "direction",
        "spilled",  # per shard, direction="out" (spilled_out) then "in" (spilled_in)
    ),
    Metric("agijobs_node_up", "gauge", "1 when the node is up (0: marked down).", "node", "up"),
    Metric("agijobs_node_in_flight", "gauge", "Jobs running on the node.", "node", "in_flight"),
    Metric("agijobs_node_slots", "gauge", "Jobs the node can run at once.", "node", "slots"),
    Metric("agijobs_node_latency_ms", "gauge", "The node's latency.", "node", "latency_ms"),
    Metric(
        "agijobs_node_over_budget",
        "gauge",
        "1 when the node's latency is over its shard's budget (routers skip it).",
        "node",
        "over_budget",
    ),
    Metric(
        "agijobs_node_jobs_completed_total",
        "counter",
        "Jobs the node completed.",
        "node",
        "completed",
    ),
    Metric(
        "agijobs_node_jobs_failed_total",
        "counter",
        "Jobs that failed on the node (an external executor's last rejection).",
        "node",
        "failed",
    ),
)


def sample(fabric: str, engine: Engine, events: int) -> Sample:
    """The engine's state now, `events` being the log's length: O(shards + nodes)."""
    state = engine.state
    shards = []
    for s in state.shards.values():
        up = sum(1 for node in s.nodes if node.up)
        shards.append(
            ShardSample(
                s.id,
                s.queued.count,
                s.in_flight.count,
                s.budget_ms,
                1 if up and not s.retired else 0,
                up,
                s.completed.count,
                s.failed.count,
                s.spilled_in.count,
                s.spilled_out.count,
            )
        )
    budgets = {s.id: s.budget_ms for s in state.shards.values()}
    nodes = tuple(
        NodeSample(
            n.id,
            n.shard,
            1 if n.up else 0,
            len(n.running),
            n.slots,
            n.latency_ms,
            1 if n.latency_ms > budgets[n.shard] else 0,
            n.completed,
            n.failed,
        )
        for n in state.nodes.values()
    )
    return Sample(
        fabric,
        state.tick,
        1 if state.paused else 0,
        events,
        state.owner_actions,
        state.outside_commands,
        tuple(shards),
        nodes,
    )


def _label(value: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(snapshot: Sample) -> bytes:
    """`snapshot` in the Prometheus text exposition format (version 0.0.4)."""
    base = f'fabric="{_label(snapshot.fabric)}"'
    shard_labels = [f'{base},shard="{_label(s.id)}"' for s in snapshot.shards]
    node_labels = [
        f'{base},shard="{_label(n.shard)}",node="{_label(n.id)}"' for n in snapshot.nodes
    ]
    lines: list[str] = []
    add = lines.append
    for metric in METRICS:
        name = metric.name
        add(f"# HELP {name} {metric.help}")
        add(f"# TYPE {name} {metric.kind}")
        if metric.scope == "fabric":
            add(f"{name}{{{base}}} {getattr(snapshot, metric.field)}")
        elif metric.scope == "direction":
            for labels, s in zip(shard_labels, snapshot.shards, strict=True):
                add(f'{name}{{{labels},direction="out"}} {s.spilled_out}')
            for labels, s in zip(shard_labels, snapshot.shards, strict=True):
                add(f'{name}{{{labels},direction="in"}} {s.spilled_in}')
        else:
            rows: Sequence[Any] = snapshot.shards if metric.scope == "shard" else snapshot.nodes
            labelled = shard_labels if metric.scope == "shard" else node_labels
            at = rows[0]._fields.index(metric.field) if rows else 0
            for labels, row in zip(labelled, rows, strict=True):
                add(f"{name}{{{labels}}} {row[at]}")
    return ("\n".join(lines) + "\n").encode("utf-8")
