"""The Grafana dashboard in docs/grafana: every metric its queries name is one a live
runner's /metrics serves, and it shows what an operator looks for first."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .helpers import scenario_dict, scrape, serving_metrics, write_scenario

DASHBOARD = Path(__file__).parent.parent / "docs" / "grafana" / "agijobs-dashboard.json"
# PromQL's words that are not metric names: functions, aggregations, operators, modifiers.
PROMQL_WORDS = frozenset(
    [
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "rate",
        "irate",
        "increase",
        "delta",
        "idelta",
        "deriv",
        "abs",
        "ceil",
        "floor",
        "round",
        "clamp",
        "clamp_min",
        "clamp_max",
        "changes",
        "resets",
        "time",
        "vector",
        "scalar",
        "histogram_quantile",
        "label_replace",
        "label_join",
        "avg_over_time",
        "max_over_time",
        "min_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ]
)
# Parts of a query that never hold a metric name: strings, label matchers, ranges, and the
# label lists of by/without/on/ignoring/group_left/group_right.
NOT_NAMES = re.compile(
    r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]'
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
)
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    return set(IDENTIFIER.findall(NOT_NAMES.sub(" ", expr))) - PROMQL_WORDS


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every variable's query."""
    found = [
        (f"panel {panel['title']!r} {target['refId']}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            [selector] = re.findall(r"^label_values\((.*), *\w+\)$", variable["definition"])
            found.append((f"variable {variable['name']}", selector))
    return found


def test_metric_names_are_read_from_promql() -> None:
    assert metric_names(
        'sum by (shard, direction) (rate(agijobs_spillovers_total{fabric="$fabric", '
        'shard=~"a|b"}[$__rate_interval]))'
    ) == {"agijobs_spillovers_total"}
    assert metric_names(
        "max by (shard) (agijobs_node_latency_ms * on (node) group_left agijobs_node_up)"
    ) == {"agijobs_node_latency_ms", "agijobs_node_up"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The metric families a live runner's /metrics serves."""
    root = tmp_path_factory.mktemp("dashboard")
    scenario = write_scenario(root / "fabric.yaml", scenario_dict())
    with serving_metrics(scenario, root / "s", "--wait", "--tick-ms", "20") as url:
        text = scrape(url)
    return set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))


def test_every_metric_the_dashboard_queries_is_served_by_a_live_runner(served: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried: set[str] = set()
    for where, expr in expressions(dashboard):
        names = metric_names(expr)
        assert names, f"{where}: {expr!r} selects no metric"
        assert names <= served, f"{where}: {sorted(names - served)} not in /metrics"
        queried |= names
    # What an operator looks for first is there.
    assert {
        "agijobs_queue_depth",
        "agijobs_in_flight",
        "agijobs_jobs_completed_total",
        "agijobs_jobs_failed_total",
        "agijobs_latency_budget_ms",
        "agijobs_node_up",
        "agijobs_nodes_up",
        "agijobs_paused",
    } <= queried


def test_the_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "fabric", "shard"}
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            # Every series is per fabric: a query must not mix fabrics.
            assert 'fabric="$fabric"' in target["expr"], (panel["title"], target["expr"])
