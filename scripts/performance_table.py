"""Render docs/performance.md's tables from the published benchmark results, so that the page
says what the results file says and nothing else.

Usage:
    .venv/bin/python scripts/performance_table.py            # rewrite the tables
    .venv/bin/python scripts/performance_table.py --check    # exit 1 with a diff when stale

`make bench` writes benchmarks/latest.json (git-ignored); `make bench-publish` copies it to
benchmarks/published.json (tracked: the reference a reader's figures come from) and runs this.
Each table sits between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in the page; a
section whose figures the results do not hold (an older results file) is left empty.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from generated import keep_current

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "published.json"
PAGE = ROOT / "docs" / "performance.md"
REGENERATE = ".venv/bin/python scripts/performance_table.py"
SECTION = re.compile(r"(<!-- bench:(\w+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.DOTALL)

# The case table's columns, in order, with their headings; a column shows when every row has it.
CASE_COLUMNS = [
    ("case", "case"),
    ("jobs", "jobs"),
    ("ticks", "ticks"),
    ("events", "events"),
    ("wall_s", "wall s"),
    ("jobs_per_s", "jobs/s"),
    ("events_per_s", "events/s"),
    ("raw_s", "raw s"),
    ("ratio", "ratio"),
    ("peak_rss_mb", "peak RSS MB"),
    ("events_mb", "events MB"),
    ("checkpoint_mb", "ckpt MB"),
    ("resume_s", "resume s"),
    ("audit_s", "audit s"),
    ("audit_events_per_s", "audit ev/s"),
    ("audit_ratio", "audit/run"),
    ("audit_rss_mb", "audit RSS MB"),
    ("quick_s", "quick s"),
    ("quick_events_per_s", "quick ev/s"),
    ("bounces", "bounces"),
]
CLI_COMMANDS = [
    ("help", "`agijobs --help`"),
    ("status", "`agijobs status`"),
    ("pause_all_at_rest", "`agijobs pause-all`, at rest"),
    ("cordon_at_rest", "`agijobs cordon`, at rest"),
    ("set_latency_at_rest", "`agijobs set-latency`, at rest"),
    ("submit_at_rest", "`agijobs submit` (ten jobs), at rest"),
    ("resume_all_active", "`agijobs runner start`, to the first tick with the jobs active"),
]
BACKLOG_COLUMNS = [
    ("jobs", "jobs"),
    ("tick", "stopped at tick"),
    ("events", "events"),
    ("queued", "queued"),
    ("in_flight", "in flight"),
    ("checkpoint_bytes", "checkpoint bytes"),
]


def cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(headings: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headings) + " |", "|" + " --- |" * len(headings)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine(results: dict[str, Any]) -> str:
    found = results.get("machine") or {}
    if not found:
        return ""
    text = f"Measured on {found['cores']} cores, Python {found['python']} ({found['platform']})."
    if "speed_before_s" in found and "speed_after_s" in found:
        text += (
            f" A fixed pure-Python loop took {found['speed_before_s']:.2f} s before the bench "
            f"and {found['speed_after_s']:.2f} s after it."
        )
    return text + "\n"


def targets(results: dict[str, Any]) -> str:
    rows = [
        [
            figure["figure"],
            figure["target"].replace("<=", "≤").replace(">=", "≥"),
            cell(figure["value"]),
            cell(figure["met"]),
        ]
        for figure in results.get("targets") or []
    ]
    return _table(["figure", "target", "measured", "met"], rows) if rows else ""


def cases(results: dict[str, Any]) -> str:
    rows = results.get("rows") or []
    if not rows:
        return ""
    shown = [(key, heading) for key, heading in CASE_COLUMNS if all(key in row for row in rows)]
    body = [[cell(row[key]) for key, _ in shown] for row in rows]
    return _table([heading for _, heading in shown], body)


def cli(results: dict[str, Any]) -> str:
    medians = results.get("cli_median_s") or {}
    rows = [
        [label, f"{medians[key] * 1000:,.0f} ms"] for key, label in CLI_COMMANDS if key in medians
    ]
    if not rows:
        return ""
    queued = results.get("cli_queued_jobs")
    intro = f"On a storage holding {queued:,} queued jobs:\n\n" if queued else ""
    return intro + _table(["command", "median"], rows)


def backlog(results: dict[str, Any]) -> str:
    found = results.get("checkpoint_bounded_backlog")
    if not found:
        return ""
    body = [[cell(row[key]) for key, _ in BACKLOG_COLUMNS] for row in found["rows"]]
    low, high = found["target"]
    return (
        _table([heading for _, heading in BACKLOG_COLUMNS], body)
        + f"\nlargest / smallest checkpoint: {found['checkpoint_ratio']:.2f} "
        f"(target {low}–{high})\n"
    )


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "machine": machine,
    "targets": targets,
    "cases": cases,
    "cli": cli,
    "backlog": backlog,
}


def fill(page: str, results: dict[str, Any]) -> str:
    """`page` with each `bench:NAME` section rendered from `results`."""

    def section(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in RENDERERS:
            raise ValueError(f"unknown bench section {name!r}")
        return match.group(1) + RENDERERS[name](results) + match.group(4)

    return SECTION.sub(section, page)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page differs")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--page", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    current = args.page.read_text(encoding="utf-8")
    wanted = fill(current, orjson.loads(args.results.read_bytes()))
    source = f"the results in {args.results.name}"
    if not keep_current(
        args.page, current, wanted, check=args.check, source=source, regenerate=REGENERATE
    ):
        return 1
    if not args.check:
        print(f"{args.page}: tables from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
