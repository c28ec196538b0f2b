"""report.html and report.md: one run told for an operator and for an incident ticket.

Both renderers are pure: the same dict gives the same bytes (no clock, no randomness, no
I/O). The HTML is one self-contained file (inline <style>, hand-built inline SVG, no
JavaScript, no network) and every value taken from the input passes through `html.escape`,
so a shard named `<script>` is shown as text. The Markdown carries the same facts with the
charts replaced by small tables, and escapes its own specials (`|`, `<`, ...) in every value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

MAX_POINTS = 600  # per series; max-per-bucket keeps a one-tick spike visible
NODE_ROWS = 48  # above this, the timeline shows only the nodes that went down
# Tableau 10 (red last: red means "down" in the node timeline); past ten shards, dashed.
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948",
    "#76b7b2", "#ff9da7", "#9c755f", "#bab0ac", "#e15759",
)  # fmt: skip
WIDTH, RIGHT, TOP, BOTTOM = 960, 16, 16, 34
QUEUE_HEADER = ("shard", "peak queued", "tick of peak", "peak in flight", "final queued")
GOVERNANCE_HEADER = ("tick", "command", "actor", "reason", "source", "outcome", "effect")
NO_TICKS = "no ticks yet"
NOT_FINISHED = "no expectations checked (the run has not finished)"
# Content-Security-Policy: even if a value slipped past escaping, no script runs, nothing loads.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2430;
 max-width:1000px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dee6;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #d8dee6;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.ok,.warn,.bad{font-weight:600}.ok{color:#1a7f37}.warn{color:#b54708}.bad{color:#b42318}
.muted{color:#667085}
.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 18px}
.legend svg{display:inline;vertical-align:middle;margin-right:4px}
svg{display:block;max-width:100%;height:auto;font:11px system-ui,sans-serif;fill:#475467}
svg .axis{stroke:#98a2b3}svg .max{stroke:#d0d5dd;stroke-dasharray:4 3}
svg .series{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg .bar{fill:#4e79a7}svg .pause{fill:#eaecf0}svg .up{fill:#e3f4e8}svg .down{fill:#d92d20}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.6g}"
    return str(value)


def _c(coord: float) -> str:
    return f"{coord:.1f}"


def _buckets(n: int, limit: int = MAX_POINTS) -> list[range]:
    """At most `limit` consecutive, equal-width index ranges covering range(n)."""
    size = max(1, -(-n // limit))
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def downsample_max(values: Sequence[float], limit: int = MAX_POINTS) -> list[int]:
    """Indices to draw: the first maximum of each of at most `limit` buckets, in order.

    Example: downsample_max([0, 5, 1, 0], limit=2) == [1, 2]
    """
    return [max(bucket, key=values.__getitem__) for bucket in _buckets(len(values), limit)]


@dataclass(frozen=True, slots=True)
class _Series:
    """The per-tick series, cut to one length, shards in display order."""

    ticks: list[int]
    paused: list[int]
    queued: dict[str, list[float]]
    in_flight: dict[str, list[float]]
    completed: list[float]
    nodes_up: list[float]

    @staticmethod
    def of(data: dict[str, Any]) -> _Series:
        raw = data.get("series") or {}
        ticks = list(raw.get("tick") or [])
        n = len(ticks)

        def cut(values: Any) -> list[Any]:
            return list(values or [])[:n]

        queued_raw, in_flight_raw = raw.get("queued") or {}, raw.get("in_flight") or {}
        order = list(data.get("shards") or [])
        order += sorted(set(queued_raw) - set(order))
        queued = {s: cut(queued_raw[s]) for s in order if s in queued_raw and n}
        in_flight = {s: cut(in_flight_raw.get(s)) for s in queued}
        completed, nodes_up = cut(raw.get("completed")), cut(raw.get("nodes_up"))
        return _Series(ticks, cut(raw.get("paused")), queued, in_flight, completed, nodes_up)


def _peak(ticks: list[int], values: Sequence[float]) -> tuple[float, int] | None:
    """The highest value and the first tick it was reached at."""
    if not values:
        return None
    at = max(range(len(values)), key=values.__getitem__)
    return values[at], ticks[at]


def _queue_rows(s: _Series) -> list[tuple[str, str, str, str, str]]:
    """Per shard: peak queued, tick of peak, peak in flight, final queued."""
    rows = []
    for shard, values in s.queued.items():
        peak = _peak(s.ticks, values)
        flight = _peak(s.ticks, s.in_flight[shard])
        if peak is None:
            continue
        in_flight = _num(flight[0]) if flight else "—"
        rows.append((shard, _num(peak[0]), str(peak[1]), in_flight, _num(values[-1])))
    return rows


def _flows(data: dict[str, Any]) -> list[dict[str, Any]]:
    flows = data.get("spill_flows") or []
    return sorted(flows, key=lambda f: (-f["jobs"], str(f["from"]), str(f["to"])))


def _timeline(data: dict[str, Any], s: _Series) -> tuple[list[str], dict[str, list[Any]], int, int]:
    """Rows (nodes in order), each node's outages by start, and the tick span to draw."""
    outages = data.get("outages") or []
    nodes = list(data.get("nodes") or [])
    nodes += sorted({str(o["node"]) for o in outages} - set(nodes))
    by_node: dict[str, list[Any]] = {}
    for outage in sorted(outages, key=lambda o: (str(o["node"]), o["from"])):
        by_node.setdefault(str(outage["node"]), []).append(outage)
    end = max(
        [int(data["tick"]), *s.ticks[-1:], *(o["to"] for o in outages if o["to"] is not None)]
    )
    start = min([*s.ticks[:1], *(o["from"] for o in outages)], default=0)
    return nodes, by_node, min(start, end), end


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps (tick, value) to SVG coordinates inside one chart."""

    t0: float
    t1: float
    vmax: float
    height: int
    left: int = 64

    def x(self, tick: float) -> float:
        span = (self.t1 - self.t0) or 1
        return self.left + (tick - self.t0) / span * (WIDTH - self.left - RIGHT)

    def y(self, value: float) -> float:
        return self.height - BOTTOM - value / (self.vmax or 1) * (self.height - TOP - BOTTOM)

    def open(self, label: str) -> str:
        return (
            f'<svg viewBox="0 0 {WIDTH} {self.height}" width="{WIDTH}" height="{self.height}"'
            f' role="img" aria-label="{_e(label)}">'
        )

    def axes(self, with_values: bool = True) -> list[str]:
        base, right = _c(self.height - BOTTOM), WIDTH - RIGHT
        parts = [
            f'<line class="axis" x1="{self.left}" y1="{base}" x2="{right}" y2="{base}"/>',
            f'<text x="{self.left}" y="{self.height - 18}">{_e(_num(self.t0))}</text>',
            f'<text x="{right}" y="{self.height - 18}" text-anchor="end">'
            f"{_e(_num(self.t1))}</text>",
            f'<text x="{(self.left + right) // 2}" y="{self.height - 4}"'
            ' text-anchor="middle">tick</text>',
        ]
        if with_values:
            top = _c(self.y(self.vmax))
            parts += [
                f'<line class="axis" x1="{self.left}" y1="{TOP}" x2="{self.left}" y2="{base}"/>',
                f'<line class="max" x1="{self.left}" y1="{top}" x2="{right}" y2="{top}"/>',
                f'<text class="max-label" x="{self.left - 6}" y="{top}" text-anchor="end"'
                f' dominant-baseline="middle">{_e(_num(self.vmax))}</text>',
                f'<text x="{self.left - 6}" y="{base}" text-anchor="end">0</text>',
            ]
        return parts


def _swatch(index: int) -> str:
    colour = PALETTE[index % len(PALETTE)]
    dash = ' stroke-dasharray="6 3"' if index >= len(PALETTE) else ""
    return f'stroke="{colour}"{dash}'


def _queue_svg(s: _Series) -> str:
    ticks = s.ticks
    vmax = max((max(values) for values in s.queued.values() if values), default=0)
    frame = _Frame(ticks[0], ticks[-1], vmax, 300)
    parts = [frame.open("queue depth per shard over ticks")]
    half = max((frame.x(ticks[-1]) - frame.x(ticks[0])) / max(len(ticks) - 1, 1) / 2, 0.5)
    bands: list[list[float]] = []  # paused ticks, merged at pixel resolution
    for i, flag in enumerate(s.paused):
        if not flag:
            continue
        x0, x1 = frame.x(ticks[i]) - half, frame.x(ticks[i]) + half
        if bands and x0 <= bands[-1][1] + 1:
            bands[-1][1] = max(bands[-1][1], x1)
        else:
            bands.append([x0, x1])
    height = _c(frame.height - BOTTOM - TOP)
    parts += [
        f'<rect class="pause" x="{_c(a)}" y="{TOP}" width="{_c(b - a)}" height="{height}"/>'
        for a, b in bands
    ]
    parts += frame.axes()
    for index, (shard, values) in enumerate(s.queued.items()):
        points = " ".join(
            f"{_c(frame.x(ticks[i]))},{_c(frame.y(values[i]))}" for i in downsample_max(values)
        )
        parts.append(
            f'<polyline class="series" {_swatch(index)} points="{points}">'
            f"<title>{_e(shard)}</title></polyline>"
        )
    legend = "".join(
        f'<li><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" stroke-width="3"'
        f" {_swatch(index)}/></svg>{_e(shard)}</li>"
        for index, shard in enumerate(s.queued)
    )
    return "".join(parts) + f'</svg><ul class="legend">{legend}</ul>'


def _completions_svg(s: _Series) -> str:
    buckets = _buckets(len(s.completed))
    heights = [max(s.completed[i] for i in bucket) for bucket in buckets]
    frame = _Frame(s.ticks[0], s.ticks[-1], max(heights, default=0), 200)
    parts = [frame.open("completions per tick"), *frame.axes()]
    step = (WIDTH - frame.left - RIGHT) / max(len(buckets), 1)
    for i, (bucket, value) in enumerate(zip(buckets, heights, strict=True)):
        if not value:
            continue
        y = frame.y(value)
        first, last = s.ticks[bucket[0]], s.ticks[bucket[-1]]
        span = f"tick {first}" if first == last else f"ticks {first}–{last}"
        parts.append(
            f'<rect class="bar" x="{_c(frame.left + i * step)}" y="{_c(y)}"'
            f' width="{_c(max(step - (1 if step > 3 else 0), 0.5))}"'
            f' height="{_c(frame.y(0) - y)}"><title>{_e(span)}: {_e(_num(value))}</title></rect>'
        )
    return "".join(parts) + "</svg>"


def _outages_svg(data: dict[str, Any], s: _Series) -> str:
    nodes, by_node, t0, t1 = _timeline(data, s)
    note = ""
    if len(nodes) > NODE_ROWS:
        note = f'<p class="muted">{len(nodes) - len(by_node)} nodes without outages not drawn</p>'
        nodes = [node for node in nodes if node in by_node]
    row = 16
    frame = _Frame(t0, t1, 0, TOP + row * len(nodes) + BOTTOM, left=220)
    parts = [frame.open("node availability over ticks")]
    for r, node in enumerate(nodes):
        y = TOP + r * row
        label = node if len(node) <= 34 else node[:33] + "…"
        parts += [
            f'<text x="{frame.left - 8}" y="{y + 12}" text-anchor="end">{_e(label)}'
            f"<title>{_e(node)}</title></text>",
            f'<rect class="up" x="{frame.left}" y="{y + 2}"'
            f' width="{WIDTH - frame.left - RIGHT}" height="{row - 4}"/>',
        ]
        for outage in by_node.get(node, []):
            end = t1 if outage["to"] is None else outage["to"]
            x0 = frame.x(outage["from"])
            width = _c(max(frame.x(end) - x0, 2))
            what = f"down ticks {outage['from']}–{end}"
            if outage["to"] is None:
                what = f"down from tick {outage['from']}, still down at the end"
            parts.append(
                f'<rect class="down" x="{_c(x0)}" y="{y + 2}" width="{width}"'
                f' height="{row - 4}"><title>{_e(node)}: {_e(what)}</title></rect>'
            )
    return "".join(parts + frame.axes(with_values=False)) + "</svg>" + note


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _authority(data: dict[str, Any]) -> str:
    return "signed commands" if data["authenticated"] else "UNAUTHENTICATED (open mode)"


def _outcome(data: dict[str, Any]) -> list[tuple[str, str]]:
    jobs, digest = data["jobs"], data["events_digest"]
    names = ("planned", "submitted", "completed", "failed", "cancelled", "pending")
    return [
        *((f"jobs {name}", _num(jobs[name])) for name in names),
        ("spillovers", _num(data["spillovers"])),
        ("cost", f"{float(data['cost']):.6f} USDC"),
        ("events", _num(data["events"])),
        ("chain head", str(data["head"])),
        ("events digest", "not recorded" if digest is None else str(digest)),
    ]


def _governance_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows = data.get("governance") or []
    return [[row.get(key, "") for key in GOVERNANCE_HEADER] for row in rows]


def _outage_rows(data: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    outages = sorted(data.get("outages") or [], key=lambda o: (o["from"], str(o["node"])))
    return [(o["node"], o["from"], "still down" if o["to"] is None else o["to"]) for o in outages]


def _facts(s: _Series) -> dict[str, list[str]]:
    """Sentences beside the charts, by section; the same in both formats."""
    if not s.ticks:
        return {"queue": [], "completions": [], "nodes": []}
    paused = sum(1 for flag in s.paused if flag)
    queue = [f"ticks {s.ticks[0]}–{s.ticks[-1]} ({len(s.ticks)} ticks)"]
    queue.append(f"paused for {paused} ticks" if paused else "never paused")
    peak, low = _peak(s.ticks, s.completed), _peak(s.ticks, [-v for v in s.nodes_up])
    total = f"{_num(sum(s.completed))} completions"
    done = [f"{total}; peak {_num(peak[0])} in one tick at tick {peak[1]}" if peak else total]
    nodes = [f"fewest nodes up: {_num(-low[0])} at tick {low[1]}"] if low else []
    return {"queue": queue, "completions": done, "nodes": nodes}


def _html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>" if items else ""


def render_html(data: dict[str, Any]) -> str:
    """The run as one self-contained HTML page (no script, no network)."""
    s = _Series.of(data)
    facts = _facts(s)
    status_class = "ok" if data["status"] == "finished" else "warn"
    auth_class = "ok" if data["authenticated"] else "bad"
    out = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>agijobs report — {_e(data['name'])}</title><style>{CSS}</style></head><body>",
        f"<header><h1>agijobs run report — {_e(data['name'])}</h1>",
        f'<p><span class="{status_class}">{_e(data["status"])}</span> — {_e(data["reason"])}'
        f" · tick {_e(data['tick'])} · storage <code>{_e(data['storage'])}</code></p>",
        f'<p>authority: <span class="{auth_class}">{_e(_authority(data))}</span></p></header>',
        "<section><h2>Outcome</h2>",
        _table(("metric", "value"), _outcome(data), {1}),
        "</section><section><h2>Queue depth per shard</h2>",
    ]
    if s.ticks:
        out += [
            _html_list(facts["queue"]),
            _queue_svg(s) if s.queued else '<p class="muted">no shard series</p>',
            '<p class="muted">grey bands: fabric paused</p>',
            _table(QUEUE_HEADER, _queue_rows(s), {1, 2, 3, 4}),
            "</section><section><h2>Completions per tick</h2>",
            _html_list(facts["completions"]),
            _completions_svg(s) if s.completed else '<p class="muted">no completions series</p>',
        ]
    else:
        out += [f'<p class="muted">{NO_TICKS}</p>', "</section>"]
        out += ["<section><h2>Completions per tick</h2>", f'<p class="muted">{NO_TICKS}</p>']
    flows = [(f["from"], f["to"], f["jobs"]) for f in _flows(data)]
    out += ["</section><section><h2>Spillover flows</h2>"]
    out.append(_table(("from", "to", "jobs"), flows, {2}) if flows else "<p>no spillovers</p>")
    out += ["</section><section><h2>Node availability</h2>", _html_list(facts["nodes"])]
    outages = _outage_rows(data)
    if outages:
        out += [_outages_svg(data, s), _table(("node", "down from", "to"), outages, {1, 2})]
    else:
        out.append("<p>no outages</p>")
    out += ["</section><section><h2>Governance</h2>"]
    rows = _governance_rows(data)
    out.append(_table(GOVERNANCE_HEADER, rows, {0}) if rows else "<p>no governance commands</p>")
    out += ["</section><section><h2>Expectations</h2>"]
    expect = data["expect"]
    if expect is None:
        out.append(f'<p class="muted">{NOT_FINISHED}</p>')
    else:
        verdict = ("ok", "expectations held") if expect["held"] else ("bad", "expectations failed")
        out.append(f'<p class="{verdict[0]}">{verdict[1]}</p>')
        for title, items in (("failed", expect["failures"]), ("skipped", expect["skipped"])):
            if items:
                lis = "".join(f"<li>{_e(item)}</li>" for item in items)
                out.append(f"<p>{title}:</p><ul>{lis}</ul>")
    out += [
        f'</section><footer><p class="muted">chain head <code>{_e(data["head"])}</code>'
        " · generated by agijobs</p></footer></body></html>\n"
    ]
    return "".join(out)


_MD_SPECIAL = frozenset("\\|<>`*[]&")


def _m(value: Any) -> str:
    """A value as inert Markdown text: one line, specials backslash-escaped (CommonMark)."""
    text = " ".join(str(value).splitlines())
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_m(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(data: dict[str, Any]) -> str:
    """The run as Markdown for an incident ticket: headings and tables, no HTML."""
    s = _Series.of(data)
    facts = {section: [f"- {_m(fact)}" for fact in lines] for section, lines in _facts(s).items()}
    out = [
        f"# agijobs run report — {_m(data['name'])}",
        "",
        f"- status: **{_m(data['status'])}** — {_m(data['reason'])}",
        f"- tick: {_m(data['tick'])}",
        f"- storage: {_m(data['storage'])}",
        f"- authority: {_authority(data)}",
        "",
        "## Outcome",
        "",
        *_md_table(("metric", "value"), _outcome(data)),
        "## Queue depth per shard",
        "",
    ]
    if s.ticks:
        n = len(s.ticks)
        picks = sorted({i * (n - 1) // 9 for i in range(10)})  # ten evenly spaced ticks
        rows = [[s.ticks[i], *(_num(s.queued[shard][i]) for shard in s.queued)] for i in picks]
        out += [*facts["queue"], "", *_md_table(("tick", *map(_m, s.queued)), rows)]
        out += _md_table(QUEUE_HEADER, _queue_rows(s))
        out += ["## Completions per tick", "", *facts["completions"], ""]
    else:
        out += [NO_TICKS, "", "## Completions per tick", "", NO_TICKS, ""]
    out += ["## Spillover flows", ""]
    flows = [(f["from"], f["to"], f["jobs"]) for f in _flows(data)]
    out += _md_table(("from", "to", "jobs"), flows) if flows else ["no spillovers", ""]
    out += ["## Node availability", "", *facts["nodes"], *([""] if facts["nodes"] else [])]
    outages = _outage_rows(data)
    out += _md_table(("node", "down from", "to"), outages) if outages else ["no outages", ""]
    out += ["## Governance", ""]
    rows = _governance_rows(data)
    out += _md_table(GOVERNANCE_HEADER, rows) if rows else ["no governance commands", ""]
    out += ["## Expectations", ""]
    expect = data["expect"]
    if expect is None:
        out += [NOT_FINISHED, ""]
    else:
        out += ["expectations held" if expect["held"] else "**expectations failed**", ""]
        for title, items in (("failed", expect["failures"]), ("skipped", expect["skipped"])):
            if items:
                out += [f"{title}:", "", *(f"- {_m(item)}" for item in items), ""]
    out += ["---", "", f"chain head: {_m(data['head'])} · generated by agijobs", ""]
    return "\n".join(out)
