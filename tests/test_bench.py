"""A small-size smoke of `make bench`: it runs and produces every column (no timing asserts)."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench  # noqa: E402

from .helpers import load_script  # noqa: E402

TABLES = load_script("performance_table")


def test_bench_runs_small_and_reports_every_column(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert (
        bench.main(
            [
                "--sizes",
                "2000",
                "--burst",
                "1000",
                "--cli-runs",
                "1",
                "--repeat",
                "2",
                "--cli-queued",
                "500",
                "--backlog-jobs",
                "200",
                "--signed-jobs",
                "2000",
                "--follow-jobs",
                "2000",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    results = orjson.loads(out.read_bytes())
    assert results["signed_heads"]["jobs"] == 2000 and results["signed_heads"]["ratio"] > 0
    assert [row["case"] for row in results["rows"]] == ["planetary x2,000", "burst 1,000 at tick 1"]
    for row in results["rows"]:
        assert set(bench.COLUMNS) <= set(row)
        assert row["completed"] == row["jobs"]
        assert row["events"] > row["jobs"] and row["ratio"] > 0
    assert set(results["cli_median_s"]) == {
        "help",
        "status",
        "pause_all_at_rest",
        "cordon_at_rest",
        "set_latency_at_rest",
        "submit_at_rest",
        "resume_all_active",
    }
    assert results["rows"][1]["bounces"] == 0
    figures = {target["figure"]: target for target in results["targets"]}
    assert {"burst 1,000 at tick 1: bounces", "resume, 500 jobs active: s"} <= set(figures)
    assert figures["burst 1,000 at tick 1: bounces"]["met"] is True
    for target in results["targets"]:
        assert set(target) == {"figure", "value", "target", "met"}
    follow = results["follow_and_describe"]
    assert follow["jobs"] == 2000 and 0 <= follow["followed_live"] <= 4
    for form in ("json", "text"):  # a script's follower and an owner's
        assert follow[f"followed_{form}"]["ratio"] > 0 and follow[f"followed_{form}"]["s"] > 0
        assert f"2,000 jobs: run followed ({form}) / run alone" in figures
    assert follow["describe_first_s"] > 0 and follow["describe_job_s"] > 0
    assert "2,000 jobs: describe job ms" in figures
    assert results["machine"]["cores"] >= 1
    assert results["machine"]["speed_before_s"] > 0 and results["machine"]["speed_after_s"] > 0
    backlog = results["checkpoint_bounded_backlog"]
    assert [row["jobs"] for row in backlog["rows"]] == [200, 2000]
    for row in backlog["rows"]:
        assert set(bench.BACKLOG_COLUMNS) <= set(row)
        assert 1 <= row["tick"] < row["jobs"] // 50  # stopped inside the arrival window
        assert row["events"] > 0 and row["checkpoint_bytes"] > 0
    assert backlog["checkpoint_ratio"] > 0 and backlog["target"] == [0.8, 1.2]
    # docs/performance.md's tables render from results of this shape, every one filled.
    for name, render in TABLES.RENDERERS.items():
        assert render(results).strip(), name


def test_scaling_keeps_the_planetary_shape() -> None:
    scenario = bench.scaled(30_000)
    assert len(scenario["fabric"]["shards"]) == 12 and len(scenario["fabric"]["nodes"]) == 18
    assert sum(group["count"] for group in scenario["workload"]) == 30_000


def test_steady_keeps_the_rate_and_stops_both_sizes_at_the_same_phase() -> None:
    small, large = bench.steady(100_000), bench.steady(1_000_000)
    assert sum(group["count"] for group in small["workload"]) == 100_000
    assert sum(group["count"] for group in large["workload"]) == 1_000_000
    for scenario in (small, large):
        assert [n["slots"] for n in scenario["fabric"]["nodes"]] == [30, 14, 20, 60, 54, 49]
        assert sum(group["arrive"]["per_tick"] for group in scenario["workload"]) == 50
    assert bench.settled_tick(small) == 1680 and bench.settled_tick(large) == 17640
