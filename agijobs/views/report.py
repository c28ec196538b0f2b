"""Reports a run leaves in its storage: report.html and report.md, at every stop and finish.

The facts come from what the storage already holds: the summary and `metrics.ndjson`, where
the runner keeps a row per tick and notes the few events a report lists (spillovers, node
outages, governance) as it writes them — so a report costs the same after a million jobs as
after a thousand, and never rescans the log. Rendering is `agijobs.report`'s.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from ..fabric.engine import Engine
from ..store import Store
from .describe import describe_effect, outcome_of

REPORT_HTML = "report.html"
REPORT_MD = "report.md"


def write_reports(store: Store, summary: dict[str, Any], engine: Engine) -> None:
    from .report_pages import render_html, render_markdown

    data = report_data(store, summary, engine)
    store.write_document(REPORT_HTML, render_html(data).encode("utf-8"))
    store.write_document(REPORT_MD, render_markdown(data).encode("utf-8"))


def report_data(store: Store, summary: dict[str, Any], engine: Engine) -> dict[str, Any]:
    state = engine.state
    shards = list(state.shards)
    series, flows, outages, governance = _read_metrics(store.read_metrics(), shards)
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
        "series": series,
        "spill_flows": flows,
        "nodes": list(state.nodes),
        "outages": outages,
        "governance": governance,
    }


def _read_metrics(
    data: bytes, shards: list[str]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The series, spillover flows, outages and governance rows of `metrics.ndjson`."""
    series: dict[str, Any] = {
        "tick": [],
        "paused": [],
        "queued": {s: [] for s in shards},
        "in_flight": {s: [] for s in shards},
        "completed": [],
        "nodes_up": [],
    }
    flows: Counter[str] = Counter()
    down_since: dict[str, int] = {}
    outages: list[dict[str, Any]] = []
    governance: list[dict[str, Any]] = []
    for line in data.splitlines():
        row = orjson.loads(line)
        tick = row["t"]
        if "g" in row:
            governance.append(row["g"])
        elif "n" in row:
            kind, node = row["n"]
            if kind == "node.down":
                down_since.setdefault(node, tick)
            elif node in down_since:
                outages.append({"node": node, "from": down_since.pop(node), "to": tick})
        else:
            series["tick"].append(tick)
            series["paused"].append(row["p"])
            series["completed"].append(row["c"])
            series["nodes_up"].append(row["u"])
            for shard in shards:  # a shard registered later was empty before
                series["queued"][shard].append(row["q"].get(shard, 0))
                series["in_flight"][shard].append(row["f"].get(shard, 0))
            flows.update(row.get("s", {}))
    outages.extend({"node": n, "from": t, "to": None} for n, t in sorted(down_since.items()))
    outages.sort(key=lambda o: (o["from"], o["node"]))
    ordered = sorted(flows.items(), key=lambda item: (-item[1], item[0]))
    spill_flows = []
    for pair, jobs in ordered:
        source, _, target = pair.partition(">")
        spill_flows.append({"from": source, "to": target, "jobs": jobs})
    return series, spill_flows, outages, governance


def governance_row(tick: int, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """One governance event as a report lists it (who, verb, object, outcome, effect)."""
    command = data["input"]
    outcome = outcome_of(kind)
    if outcome in ("rejected", "refused"):
        effect = str(data.get("error", ""))
    elif outcome in ("proposed", "approved"):
        effect = f"proposal {data['effect']['proposal']}: {data['effect']['approvals']} of " + str(
            data["effect"]["needed"]
        )
    else:
        effect = describe_effect(kind.removeprefix("owner."), data["effect"])
    return {
        "tick": tick,
        "command": command["command"],
        "actor": command["actor"],
        "reason": command["reason"],
        "source": command["source"],
        "outcome": outcome,
        "effect": effect,
    }
