from __future__ import annotations

import copy
import math
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agijobs.views.report_pages import (
    MAX_POINTS,
    PALETTE,
    downsample_max,
    render_html,
    render_markdown,
)

SHARDS = ["earth", "helios", "luna", "mars"]
HEAD = "ab" * 32
DIGEST = "cd" * 32
HOSTILE_SHARD = "<script>alert(1)</script>"
HOSTILE_NODE = 'x"onmouseover="alert(1)'
HOSTILE_REASON = "</td><b>bold</b>"


def series(ticks: int, shards: list[str], paused: range = range(0)) -> dict[str, Any]:
    """Synthetic curves: each shard's queue swells and drains; a pause stops completions."""
    tick = list(range(1, ticks + 1))
    queued = {
        shard: [max(0, int(60 + 50 * math.sin(t / (18 + 5 * k) + k))) for t in tick]
        for k, shard in enumerate(shards)
    }
    for values in queued.values():  # nothing drains while paused
        for i, t in enumerate(tick):
            if t in paused:
                values[i] += 3 * (t - paused.start)
    return {
        "tick": tick,
        "paused": [int(t in paused) for t in tick],
        "queued": queued,
        "in_flight": {s: [min(24, v) for v in values] for s, values in queued.items()},
        "completed": [0 if t in paused else 20 + (t * 7) % 13 for t in tick],
        "nodes_up": [8 if 45 <= t <= 140 else 9 for t in tick],
    }


@pytest.fixture
def data() -> dict[str, Any]:
    return {
        "name": "planetary",
        "storage": "/srv/agijobs/storage",
        "status": "finished",
        "reason": "all jobs done",
        "tick": 300,
        "authenticated": False,
        "jobs": {
            "planned": 6400,
            "submitted": 6400,
            "completed": 6371,
            "failed": 29,
            "cancelled": 0,
            "pending": 0,
        },
        "spillovers": 1210,
        "cost": 6.9197,
        "events": 32504,
        "head": HEAD,
        "events_digest": DIGEST,
        "expect": {
            "held": False,
            "failures": ["jobs.failed <= 10 (got 29)"],
            "skipped": ["cost: no budget declared"],
        },
        "shards": SHARDS,
        "series": series(300, SHARDS, paused=range(120, 140)),
        "spill_flows": [
            {"from": "earth", "to": "mars", "jobs": 570},
            {"from": "earth", "to": "luna", "jobs": 570},
            {"from": "helios", "to": "luna", "jobs": 70},
            {"from": "mars", "to": "earth", "jobs": 900},
        ],
        "nodes": [f"{shard}.core-{i}" for shard in SHARDS for i in (1, 2)] + ["mars.gpu-helion"],
        "outages": [
            {"node": "mars.gpu-helion", "from": 45, "to": 140},
            {"node": "earth.core-2", "from": 260, "to": None},
        ],
        "governance": [
            {
                "tick": 120,
                "command": "pause-all",
                "actor": "alice",
                "reason": "incident 42 | solar flare",
                "source": "schedule",
                "outcome": "applied",
                "effect": "fabric paused",
            },
            {
                "tick": 140,
                "command": "resume-all",
                "actor": "bob",
                "reason": "flare over",
                "source": "inbox",
                "outcome": "applied",
                "effect": "fabric resumed",
            },
        ],
    }


class Dom(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def points(polyline: dict[str, str | None]) -> list[tuple[float, float]]:
    pairs = (pair.split(",") for pair in (polyline["points"] or "").split())
    return [(float(x), float(y)) for x, y in pairs]


def hostile(data: dict[str, Any]) -> dict[str, Any]:
    """The fixture with attacker-chosen strings in every kind of field."""
    data = copy.deepcopy(data)
    s = data["series"]
    s["queued"][HOSTILE_SHARD] = s["queued"].pop("mars")
    s["in_flight"][HOSTILE_SHARD] = s["in_flight"].pop("mars")
    data["shards"] = [HOSTILE_SHARD if x == "mars" else x for x in data["shards"]]
    data["spill_flows"][0]["to"] = HOSTILE_SHARD
    data["nodes"].append(HOSTILE_NODE)
    data["outages"].append({"node": HOSTILE_NODE, "from": 10, "to": 20})
    data["governance"][0].update(reason=HOSTILE_REASON, actor=HOSTILE_NODE)
    data["expect"]["failures"].append(HOSTILE_REASON)
    data.update(name=HOSTILE_SHARD, reason=HOSTILE_REASON, storage=HOSTILE_NODE)
    return data


def test_html_is_deterministic_self_contained_and_has_the_charts(data: dict[str, Any]) -> None:
    page = render_html(data)
    assert page == render_html(copy.deepcopy(data))
    lowered = page.lower()
    for banned in ("<script", "http://", "https://", "<link", "@import", "url(", "<img"):
        assert banned not in lowered, banned
    dom = Dom(page)
    assert len(dom.all("polyline")) == len(SHARDS)
    assert len(dom.all("svg")) >= 3
    assert [p["stroke"] for p in dom.all("polyline")] == list(PALETTE[:4])
    assert any(a.get("class") == "pause" for a in dom.all("rect"))
    assert sum(a.get("class") == "down" for a in dom.all("rect")) == 2
    assert "UNAUTHENTICATED (open mode)" in page
    assert "expectations failed" in page
    assert "jobs.failed &lt;= 10 (got 29)" in page
    assert "cost: no budget declared" in page
    assert "6.919700 USDC" in page
    assert page.count(HEAD) == 2  # outcome table and footer
    assert "generated by agijobs" in page


def test_spill_flows_are_sorted_by_jobs_then_names(data: dict[str, Any]) -> None:
    order = [("mars", "earth", 900), ("earth", "luna", 570), ("earth", "mars", 570)]
    order.append(("helios", "luna", 70))
    page, markdown = render_html(data), render_markdown(data)
    html_rows = [page.index(f'<td>{a}</td><td>{b}</td><td class="n">{n}</td>') for a, b, n in order]
    md_rows = [markdown.index(f"| {a} | {b} | {n} |") for a, b, n in order]
    assert html_rows == sorted(html_rows) and md_rows == sorted(md_rows)


def test_every_value_from_the_data_is_escaped(data: dict[str, Any]) -> None:
    page = render_html(hostile(data))
    for raw in (HOSTILE_SHARD, HOSTILE_NODE, HOSTILE_REASON):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "x&quot;onmouseover=&quot;alert(1)" in page
    assert "&lt;/td&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    dom = Dom(page)
    assert not dom.all("script") and not dom.all("b")
    assert not [attrs for _, attrs in dom.tags if any(k.startswith("on") for k in attrs)]
    titles = "".join(dom.text)
    assert HOSTILE_SHARD in titles and HOSTILE_NODE in titles  # shown as text


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=20), st.text(max_size=20))
def test_no_name_can_add_markup(shard: str, node: str) -> None:
    data = {
        "name": shard,
        "storage": node,
        "status": shard,
        "reason": node,
        "tick": 3,
        "authenticated": True,
        "jobs": dict.fromkeys(("planned", "submitted", "completed", "failed"), 1)
        | {"cancelled": 0, "pending": 0},
        "spillovers": 0,
        "cost": 0.0,
        "events": 9,
        "head": node,
        "events_digest": None,
        "expect": {"held": True, "failures": [], "skipped": [shard]},
        "shards": [shard],
        "series": series(3, [shard]),
        "spill_flows": [{"from": shard, "to": node, "jobs": 1}],
        "nodes": [node],
        "outages": [{"node": node, "from": 1, "to": None}],
        "governance": [dict.fromkeys(("command", "actor", "reason"), shard) | {"tick": 2}],
    }
    dom = Dom(render_html(data))
    allowed = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p"}
    allowed |= {"span", "code", "section", "table", "thead", "tbody", "tr", "th", "td", "ul"}
    allowed |= {"li", "svg", "line", "text", "rect", "polyline", "footer"}
    assert {tag for tag, _ in dom.tags} <= allowed
    assert len(dom.all("polyline")) == 1
    assert not [attrs for _, attrs in dom.tags if any(k.startswith("on") for k in attrs)]
    markdown = render_markdown(data)
    assert "<" not in markdown.replace("\\<", "")


@given(st.lists(st.integers(0, 1000), max_size=3000), st.integers(1, 700))
def test_downsample_max_is_bounded_ordered_and_keeps_the_peak(
    values: list[int], limit: int
) -> None:
    picks = downsample_max(values, limit)
    assert len(picks) <= limit
    assert picks == sorted(set(picks))
    if values:
        assert max(values) in [values[i] for i in picks]
        # Short series are drawn whole; long ones still use at least half the budget.
        assert len(picks) == len(values) or len(picks) >= limit // 2


def test_ten_thousand_ticks_are_down_sampled_and_a_spike_reaches_the_max_label(
    data: dict[str, Any],
) -> None:
    spike_at, height = 4321, 977
    data["series"] = series(10_000, SHARDS)
    data["series"]["queued"]["luna"][spike_at] = height
    data["tick"] = 10_000
    page = render_html(data)
    dom = Dom(page)
    lines = dom.all("polyline")
    assert len(lines) == len(SHARDS)
    assert all(len(points(line)) <= MAX_POINTS for line in lines)
    labels = [a for a in dom.all("text") if a.get("class") == "max-label"]
    assert len(labels) == 2  # queue chart and completions chart
    assert [label.get("class") for label in labels] == ["max-label"] * 2
    assert f">{height}</text>" in page
    (max_line,) = [a for a in dom.all("line") if a.get("class") == "max"][:1]
    top = float(max_line["y1"] or "nan")
    luna = points(lines[SHARDS.index("luna")])
    assert [y for _, y in luna].count(top) == 1
    assert all(y > top for line in lines if line is not lines[2] for _, y in points(line))
    xs = [x for x, _ in luna]
    assert xs == sorted(xs)
    spike_x = next(x for x, y in luna if y == top)
    left, right = xs[0], xs[-1]
    assert abs((spike_x - left) / (right - left) - spike_at / 9_999) < 0.01


@pytest.mark.parametrize("shape", ["empty lists", "no series", "all zero"])
def test_a_run_with_no_ticks_or_only_zeros_renders(data: dict[str, Any], shape: str) -> None:
    if shape == "empty lists":
        data["series"] = {
            "tick": [],
            "paused": [],
            "queued": {shard: [] for shard in SHARDS},
            "in_flight": {shard: [] for shard in SHARDS},
            "completed": [],
            "nodes_up": [],
        }
    elif shape == "no series":
        data["series"] = {}
    else:
        s = data["series"]
        for key in ("queued", "in_flight"):
            s[key] = {shard: [0] * len(s["tick"]) for shard in SHARDS}
        s["completed"] = [0] * len(s["tick"])
    data.update(tick=0, expect=None, events_digest=None, outages=[], spill_flows=[], governance=[])
    data["jobs"] = dict.fromkeys(data["jobs"], 0)
    page, markdown = render_html(data), render_markdown(data)
    assert not re.search(r"\b(nan|inf)\b", page, re.IGNORECASE)
    for text in (page, markdown):
        assert "no expectations checked (the run has not finished)" in text
        assert "no outages" in text and "no spillovers" in text
        assert "not recorded" in text
        assert ("no ticks yet" in text) == (shape != "all zero")
    polylines = Dom(page).all("polyline")
    assert len(polylines) == (4 if shape == "all zero" else 0)


def test_markdown_carries_the_same_facts_without_html(data: dict[str, Any]) -> None:
    markdown = render_markdown(data)
    assert markdown == render_markdown(copy.deepcopy(data))
    assert "<" not in markdown.replace("\\<", "")
    for fact in ("| jobs completed | 6371 |", "| jobs failed | 29 |", "6.919700 USDC", HEAD):
        assert fact in markdown, fact
    page = render_html(data)
    for fact in ("6371", "6.919700 USDC", HEAD, "peak 32 in one tick at tick", "paused for 20"):
        assert fact in page and fact in markdown, fact
    assert "| 120 | pause-all | alice | incident 42 \\| solar flare | schedule | applied |" in (
        markdown
    )
    assert "| 140 | resume-all | bob | flare over | inbox | applied | fabric resumed |" in markdown
    assert "| mars.gpu-helion | 45 | 140 |" in markdown
    assert "| earth.core-2 | 260 | still down |" in markdown
    assert "- jobs.failed \\<= 10 (got 29)" in markdown
    # Every row of a table has its header's number of (unescaped) cell separators.
    tables: list[list[str]] = [[]]
    for line in markdown.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    for table in filter(None, tables):
        counts = {line.replace("\\|", "").count("|") for line in table}
        assert len(counts) == 1, table
    sampled = next(t for t in tables if t and t[0].startswith("| tick | earth"))
    assert len(sampled) == 2 + 10


def test_markdown_escapes_hostile_values(data: dict[str, Any]) -> None:
    markdown = render_markdown(hostile(data))
    for raw in (HOSTILE_SHARD, HOSTILE_REASON):
        assert raw not in markdown
    assert "\\<script\\>alert(1)\\</script\\>" in markdown
    assert "<" not in markdown.replace("\\<", "")


def png_colours(path: Path) -> set[bytes]:
    """Distinct pixel colours of an 8-bit, non-interlaced RGB(A) PNG (stdlib only)."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, []
    while pos < len(blob):
        length, kind = struct.unpack(">I4s", blob[pos : pos + 8])
        body = blob[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    assert depth == 8 and colour_type in (2, 6) and interlace == 0
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    prev, colours = bytearray(stride), set()
    for y in range(height):
        start = y * (stride + 1)
        filt, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if filt == 2:  # Up, the common case: one pass without the per-byte branches below
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif filt:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
                if filt == 1:
                    line[i] = (line[i] + left) & 255
                elif filt == 3:
                    line[i] = (line[i] + (left + up) // 2) & 255
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                    line[i] = (line[i] + pred) & 255
        colours.update(bytes(line[i : i + 3]) for i in range(0, stride, bpp))
        prev = line
    return colours


def test_chromium_renders_the_page_without_script_or_console_errors(
    data: dict[str, Any], tmp_path: Path
) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    page = tmp_path / "report.html"
    page.write_text(render_html(hostile(data)), encoding="utf-8")
    flags = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--force-color-profile=srgb",
        "--hide-scrollbars",
        "--window-size=1200,2000",
        "--enable-logging=stderr",
        "--v=0",
    ]
    shot = tmp_path / "shot.png"
    r = subprocess.run(
        [
            *flags,
            f"--user-data-dir={tmp_path / 'profile-shot'}",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    dump = subprocess.run(
        [*flags, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dump.returncode == 0, dump.stderr
    # The page runs no script, so any console line is a fault: an error, or a blocked load
    # ("... violates the following Content Security Policy directive", logged as INFO:CONSOLE).
    for log in (r.stderr, dump.stderr):
        for bad in ("Uncaught", ":CONSOLE", "Content Security Policy"):
            assert bad not in log, log
    dom = Dom(dump.stdout)
    assert len(dom.all("polyline")) == len(SHARDS)
    assert len(dom.all("svg")) >= 3
    assert not dom.all("script") and not dom.all("b")
    assert not [attrs for _, attrs in dom.tags if any(k.startswith("on") for k in attrs)]
    text = "".join(dom.text)
    assert HOSTILE_SHARD in text and HOSTILE_NODE in text and HOSTILE_REASON in text
    assert shot.stat().st_size > 10_000
    colours = png_colours(shot)
    assert len(colours) > 1
    assert bytes.fromhex(PALETTE[0][1:]) in colours  # the first shard's legend swatch
