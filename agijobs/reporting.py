"""Reports a run leaves in its storage: report.html and report.md, at every stop and finish.

The facts come from what the storage already holds: the summary, the per-tick metrics series
(`metrics.ndjson`) and the event log, of which only the few event types a report shows are
parsed (spillovers, node outages, governance) — each line is recognised by its ending, since
canonical encoding puts `type` last. Rendering is `agijobs.report`'s.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson

from .describe import describe_effect
from .fabric.engine import Engine
from .store import Store

REPORT_HTML = "report.html"
REPORT_MD = "report.md"
_SHOWN = re.compile(
    rb'"type":"(?:job\.spilled|node\.down|node\.up|owner\.[a-z.\-]+|governance\.refused)"\}\n'
)
_OUTCOMES = {
    "owner.rejected": "rejected",
    "owner.proposal": "proposed",
    "owner.approval": "approved",
    "governance.refused": "refused",
}


def write_reports(store: Store, summary: dict[str, Any], engine: Engine) -> None:
    from .report import render_html, render_markdown

    data = report_data(store, summary, engine)
    store.write_document(REPORT_HTML, render_html(data).encode("utf-8"))
    store.write_document(REPORT_MD, render_markdown(data).encode("utf-8"))


def report_data(store: Store, summary: dict[str, Any], engine: Engine) -> dict[str, Any]:
    state = engine.state
    shards = list(state.shards)
    flows, outages, governance = _from_log(store.read_event_chunks(1 << 20))
    return {
        "name": summary["name"],
        "storage": store.location,
        "status": summary["status"],
        "reason": summary["reason"],
        "tick": summary["tick"],
        "authenticated": state.governance is not None,
        "jobs": summary["jobs"],
        "spillovers": summary["spillovers"],
        "cost": summary["cost"],
        "events": summary["seq"],
        "head": summary["head"],
        "events_digest": summary.get("events_digest"),
        "expect": summary.get("expect"),
        "shards": shards,
        "series": _series(store.read_metrics(), shards),
        "spill_flows": flows,
        "nodes": list(state.nodes),
        "outages": outages,
        "governance": governance,
    }


def _series(data: bytes, shards: list[str]) -> dict[str, Any]:
    series: dict[str, Any] = {
        "tick": [],
        "paused": [],
        "queued": {s: [] for s in shards},
        "in_flight": {s: [] for s in shards},
        "completed": [],
        "nodes_up": [],
    }
    for line in data.splitlines():
        row = orjson.loads(line)
        series["tick"].append(row["t"])
        series["paused"].append(row["p"])
        series["completed"].append(row["c"])
        series["nodes_up"].append(row["u"])
        for shard in shards:  # a shard registered later was empty before
            series["queued"][shard].append(row["q"].get(shard, 0))
            series["in_flight"][shard].append(row["f"].get(shard, 0))
    return series


def _from_log(
    chunks: Iterator[bytes],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    flows: Counter[tuple[str, str]] = Counter()
    down_since: dict[str, int] = {}
    outages: list[dict[str, Any]] = []
    governance: list[dict[str, Any]] = []
    for chunk in chunks:
        # Canonical lines end with their type: a C-speed search finds the few a report
        # shows, and only those are parsed (a million-job log is mostly other events).
        for match in _SHOWN.finditer(chunk):
            start = chunk.rfind(b"\n", 0, match.start()) + 1
            event = orjson.loads(chunk[start : match.end() - 1])
            kind = event["type"]
            if kind == "job.spilled":
                data = event["data"]
                flows[(data["from"], data["to"])] += 1
            elif kind in ("node.down", "node.up"):
                node = event["data"]["node"]
                if kind == "node.down":
                    down_since.setdefault(node, event["tick"])
                elif node in down_since:
                    start_tick = down_since.pop(node)
                    outages.append({"node": node, "from": start_tick, "to": event["tick"]})
            else:
                governance.append(_governance_row(event))
    outages.extend({"node": n, "from": t, "to": None} for n, t in sorted(down_since.items()))
    outages.sort(key=lambda o: (o["from"], o["node"]))
    ordered = sorted(flows.items(), key=lambda item: (-item[1], item[0]))
    return (
        [{"from": a, "to": b, "jobs": n} for (a, b), n in ordered],
        outages,
        governance,
    )


def _governance_row(event: dict[str, Any]) -> dict[str, Any]:
    kind, data = event["type"], event["data"]
    command = data["input"]
    outcome = _OUTCOMES.get(kind, "applied")
    if outcome in ("rejected", "refused"):
        effect = str(data.get("error", ""))
    elif outcome in ("proposed", "approved"):
        effect = f"proposal {data['effect']['proposal']}: {data['effect']['approvals']} of " + str(
            data["effect"]["needed"]
        )
    else:
        effect = describe_effect(kind.removeprefix("owner."), data["effect"])
    return {
        "tick": event["tick"],
        "command": command["command"],
        "actor": command["actor"],
        "reason": command["reason"],
        "source": command["source"],
        "outcome": outcome,
        "effect": effect,
    }
