"""The Prometheus series' one table of definitions, and its text: every name, label and
value reads back as written, whatever the ids hold."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from agijobs.views.metrics import METRICS, NodeSample, Sample, ShardSample, prometheus_text

# One sample line: name, labels (each value a quoted string with \\, \" and \n escaped), value.
LINE = re.compile(r'^([a-z_]+)\{((?:[a-z]+="(?:[^"\\\n]|\\[\\"n])*",?)*)\} (-?\d+)$', re.DOTALL)
LABEL = re.compile(r'([a-z]+)="((?:[^"\\\n]|\\[\\"n])*)"')


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def test_the_table_names_each_series_once_counters_in_total() -> None:
    names = [metric.name for metric in METRICS]
    assert len(names) == len(set(names))
    for metric in METRICS:
        assert metric.name.startswith("agijobs_")
        assert metric.kind == ("counter" if metric.name.endswith("_total") else "gauge")
        assert metric.help.endswith(".") and "\n" not in metric.help


ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@given(fabric=ids, shard=ids, node=ids, counts=st.lists(st.integers(0, 10**9), min_size=9))
def test_every_sample_reads_back_as_written(
    fabric: str, shard: str, node: str, counts: list[int]
) -> None:
    sample = Sample(
        fabric,
        counts[0],
        1,
        counts[1],
        counts[2],
        counts[3],
        (ShardSample(shard, *counts[:9]),),
        (NodeSample(node, shard, 1, *counts[:6]),),
    )
    text = prometheus_text(sample).decode("utf-8")
    assert text.endswith("\n")
    seen = set()
    for line in text[:-1].split("\n"):  # lines end at \n alone, as Prometheus reads them
        if line.startswith("#"):
            continue
        match = LINE.match(line)
        assert match, line
        name, labels, _ = match.groups()
        seen.add(name)
        pairs = {key: unescape(value) for key, value in LABEL.findall(labels)}
        assert pairs["fabric"] == fabric
        if "node" in pairs:
            assert (pairs["shard"], pairs["node"]) == (shard, node)
        elif "shard" in pairs:
            assert pairs["shard"] == shard
    assert seen == {metric.name for metric in METRICS}
