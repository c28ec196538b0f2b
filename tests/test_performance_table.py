"""docs/performance.md's tables are the published benchmark results, rendered
(scripts/performance_table.py); `make bench` writes where a clone stays clean."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import ModuleType

import orjson
import pytest

from .helpers import load_script

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tables() -> ModuleType:
    return load_script("performance_table")


def test_the_committed_tables_are_the_published_results(tables: ModuleType) -> None:
    page = tables.PAGE.read_text(encoding="utf-8")
    wanted = tables.fill(page, orjson.loads(tables.RESULTS.read_bytes()))
    assert page == wanted, f"docs/performance.md is stale; regenerate: {tables.REGENERATE}"
    for name in tables.RENDERERS:  # every section is on the page, and holds a table or line
        assert f"<!-- bench:{name} -->\n" in page
        assert f"<!-- bench:{name} -->\n<!-- /bench:{name} -->" not in page


def test_a_section_renders_the_results_it_is_given(tables: ModuleType) -> None:
    page = "intro\n<!-- bench:targets -->\nold\n<!-- /bench:targets -->\nend\n"
    results = {
        "targets": [
            {"figure": "1M jobs: wall s", "value": 16.18, "target": "<= 20", "met": True},
            {"figure": "audit events/s", "value": 130654.2, "target": ">= 400,000", "met": False},
        ]
    }
    assert tables.fill(page, results) == (
        "intro\n<!-- bench:targets -->\n"
        "| figure | target | measured | met |\n"
        "| --- | --- | --- | --- |\n"
        "| 1M jobs: wall s | ≤ 20 | 16.18 | yes |\n"
        "| audit events/s | ≥ 400,000 | 130,654 | no |\n"
        "<!-- /bench:targets -->\nend\n"
    )
    # Results without the figures leave the section empty, not stale.
    assert tables.fill(page, {}) == "intro\n<!-- bench:targets -->\n<!-- /bench:targets -->\nend\n"


def test_a_column_shows_only_when_every_case_has_it(tables: ModuleType) -> None:
    rows = [{"case": "a", "jobs": 1, "bounces": 0}, {"case": "b", "jobs": 2}]
    assert tables.cases({"rows": rows}).splitlines()[0] == "| case | jobs |"


def test_check_names_the_stale_page_and_writes_nothing(
    tables: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "performance.md"
    page.write_text("<!-- bench:cli -->\nold\n<!-- /bench:cli -->\n", encoding="utf-8")
    results = tmp_path / "latest.json"
    results.write_bytes(orjson.dumps({"cli_median_s": {"help": 0.1575}}))
    argv = ["--page", str(page), "--results", str(results)]
    assert tables.main(["--check", *argv]) == 1
    assert "-old\n" in capsys.readouterr().out
    assert "old" in page.read_text(encoding="utf-8")
    assert tables.main(argv) == 0
    assert tables.main(["--check", *argv]) == 0
    assert "| `agijobs --help` | 158 ms |" in page.read_text(encoding="utf-8")


def test_bench_writes_its_results_where_git_ignores_them() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "benchmarks/latest.json"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "benchmarks/published.json"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    assert tracked.returncode == 0
