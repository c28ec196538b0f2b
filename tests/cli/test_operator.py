"""Operator experience: progress lines, status --watch, reports and metrics in the storage,
the scenario JSON Schema and shell completion."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import orjson
import yaml

from ..helpers import agijobs, cli, start, wait_for

ROOT = Path(__file__).parent.parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
INCIDENT = ROOT / "scenarios" / "incident-pause.yaml"


def test_the_schema_validates_every_shipped_scenario_and_catches_a_typo() -> None:
    result = cli("schema")
    assert result.exit_code == 0, result.output
    validator = jsonschema.Draft202012Validator(orjson.loads(result.stdout))
    for path in SCENARIOS:
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path.name
    typo = yaml.safe_load(INCIDENT.read_text())
    typo["schedule"][0]["tik"] = typo["schedule"][0].pop("tick")
    assert list(validator.iter_errors(typo)), "a misspelt key must not validate"
    typo = yaml.safe_load(INCIDENT.read_text())
    typo["fabric"]["shards"][0]["max_queue"] = -5
    assert list(validator.iter_errors(typo))


def test_shell_completion_is_available() -> None:
    result = agijobs("--show-completion", "bash")
    assert result.returncode == 0, result.stderr
    assert "_agijobs_completion" in result.stdout


def test_off_a_terminal_progress_is_plain_lines_without_control_characters(
    tmp_path: Path,
) -> None:
    result = agijobs("run", str(INCIDENT), "--storage", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "tick 20 · governance: pause-all by Incident Commander @20 — INC-4711: suspected "
        "poisoned job batch"
    )
    assert lines[1].startswith("tick 60 · governance: resume by Incident Commander @60")
    assert lines[2] == (
        "tick 100 · live · queued 201 · in-flight 14 · completed 365 · failed 0 · nodes 3/3 "
        "up · 1327 events"
    )
    assert "\x1b" not in result.stderr and "\r" not in result.stderr


def test_every_stop_writes_reports_and_prometheus_metrics(tmp_path: Path) -> None:
    storage = tmp_path / "s"
    result = cli("run", str(INCIDENT), "--storage", str(storage), "--stop-after-ticks", "30")
    assert result.exit_code == 0, result.output
    assert f"report: {storage}/report.html (open it in a browser; report.md beside it)" in (
        result.stdout
    )
    html = (storage / "report.html").read_text()
    assert "<svg" in html and "<script" not in html
    assert "incident-pause" in (storage / "report.md").read_text()
    prom = (storage / "metrics.prom").read_text().splitlines()
    assert "# TYPE agijobs_queue_depth gauge" in prom
    assert 'agijobs_paused{fabric="incident-pause"} 1' in prom
    assert 'agijobs_last_tick{fabric="incident-pause"} 30' in prom
    rows = [orjson.loads(r) for r in (storage / "metrics.ndjson").read_bytes().splitlines()]
    assert [r["t"] for r in rows if "q" in r] == list(range(1, 31))
    # The events a report lists are noted as they are written: no log scan at report time.
    assert [(r["t"], r["g"]["command"]) for r in rows if "g" in r] == [(20, "pause-all")]


def test_values_are_escaped_in_the_report(tmp_path: Path) -> None:
    storage = tmp_path / "s"
    assert cli("run", str(INCIDENT), "--storage", str(storage), "--stop-after-ticks", "5")
    hostile = "<script>alert(1)</script>"
    applied = cli("pause-all", "--reason", hostile, "--actor", '"><img src=x onerror=alert(1)>',
                  "--storage", str(storage))  # fmt: skip
    assert applied.exit_code == 0, applied.output
    resumed = cli("runner", "start", "--storage", str(storage), "--stop-after-ticks", "3")
    assert resumed.exit_code == 0, resumed.output
    html = (storage / "report.html").read_text()
    assert hostile not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_crash_leaves_no_duplicate_metrics_rows_after_resume(tmp_path: Path) -> None:
    storage = tmp_path / "s"
    scenario = ROOT / "scenarios" / "crash-resume.yaml"
    crashed = subprocess.run(
        [sys.executable, "-m", "agijobs", "run", str(scenario), "--storage", str(storage)],
        env={**os.environ, "AGIJOBS_CRASH_AT_TICK": "45"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == -9, (crashed.stdout + crashed.stderr).decode()
    resumed = agijobs("runner", "start", "--storage", str(storage))
    assert resumed.returncode == 0, resumed.stderr
    rows = [orjson.loads(r) for r in (storage / "metrics.ndjson").read_bytes().splitlines()]
    ticks = [row["t"] for row in rows if "q" in row]
    summary = orjson.loads((storage / "summary.json").read_bytes())
    assert ticks == list(range(1, summary["tick"] + 1))


def test_status_watch_follows_a_live_run_then_shows_its_final_status(tmp_path: Path) -> None:
    storage = tmp_path / "s"
    runner = start("run", str(INCIDENT), "--storage", str(storage), "--tick-ms", "15")
    try:
        wait_for(storage / "live.json")
        watched = agijobs("status", "--watch", "--storage", str(storage))
    finally:
        runner.wait(timeout=60)
    assert watched.returncode == 0, watched.stderr
    lines = watched.stdout.splitlines()
    follow = [line for line in lines if line.startswith("tick ")]
    assert len(follow) >= 2, watched.stdout
    assert " · queued: earth " in follow[0]
    assert "incident-pause: finished at tick 155" in lines


def test_status_watch_without_a_live_run_shows_the_status(tmp_path: Path) -> None:
    storage = tmp_path / "s"
    ran = cli("run", str(INCIDENT), "--storage", str(storage))
    assert ran.exit_code == 0, ran.output
    started = time.monotonic()
    watched = agijobs("status", "--watch", "--storage", str(storage))
    assert watched.returncode == 0, watched.stderr
    assert watched.stderr == f"no live run in {storage} to follow; its status:\n"
    assert "incident-pause: finished at tick 155" in watched.stdout
    assert time.monotonic() - started < 30


def test_status_watch_json_streams_one_document_a_line(tmp_path: Path) -> None:
    # No live run to follow: the stream is the one status document (tests/cli/test_events.py
    # follows a live one).
    result = cli("status", "--watch", "--json", "--storage", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {
        "api_version": "agijobs/v1",
        "kind": "Status",
        "storage": str(tmp_path),
        "state": "no run",
    }
    assert result.stdout.count("\n") == 1


def test_on_a_terminal_the_run_shows_a_live_view(tmp_path: Path) -> None:
    """The run's stderr on a pseudo-terminal: Rich's live table, then the outcome."""
    import pty

    primary, secondary = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "agijobs", "run", str(INCIDENT), "--storage",
         str(tmp_path / "s"), "--tick-ms", "3"],
        stdin=secondary, stdout=subprocess.DEVNULL, stderr=secondary, env=env,
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=60) == 0, seen.decode(errors="replace")
    os.close(primary)
    text = seen.decode("utf-8", "replace")
    assert "\x1b[" in text, "a terminal gets a live (redrawn) view"
    assert "earth" in text and "healthy" in text and "budget ms" in text
    assert "last governance: resume by Incident Commander @60" in text
