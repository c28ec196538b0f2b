"""`agijobs report`: a stored run's report pages and Prometheus textfile, from a directory
or a PostgreSQL storage, written where the operator says."""

from __future__ import annotations

from pathlib import Path

import orjson

from ..helpers import agijobs, cli, file_hashes, samples

ROOT = Path(__file__).parent.parent.parent
INCIDENT = ROOT / "scenarios" / "incident-pause.yaml"


def held_at_tick_10(storage: str) -> None:
    """The incident drill stopped at tick 10, then paused at rest: the summary the run
    wrote describes tick 10 before the pause, so the report is made from the checkpoint.
    (In child processes: a database's connections close with them.)"""
    ran = agijobs("run", str(INCIDENT), "--storage", storage, "--stop-after-ticks", "10")
    assert ran.returncode == 0, ran.stderr
    paused = agijobs("pause-all", "--reason", "hold", "--actor", "alice", "--storage", storage)
    assert paused.returncode == 0, paused.stderr


def test_report_writes_into_a_directory_storage_by_default(tmp_path: Path) -> None:
    storage = tmp_path / "s"
    held_at_tick_10(str(storage))
    for name in ("report.html", "report.md", "metrics.prom"):
        (storage / name).unlink()
    before = file_hashes(storage)
    result = cli("report", "--storage", str(storage))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"report: {storage}/report.html (open it in a browser; report.md beside it), "
        "incident-pause at tick 10 (paused)\n"
        f"metrics: {storage}/metrics.prom (Prometheus textfile)\n"
    )
    after = file_hashes(storage)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing else changed
    assert sorted(set(after) - set(before)) == ["metrics.prom", "report.html", "report.md"]
    markdown = (storage / "report.md").read_text()
    assert "- status: **paused** — as of the checkpoint at tick 10\n" in markdown
    assert "| 10 | pause-all | alice | hold |" in markdown
    found = samples((storage / "metrics.prom").read_text())
    fabric = frozenset({("fabric", "incident-pause")})
    assert found[("agijobs_paused", fabric)] == 1
    assert found[("agijobs_last_tick", fabric)] == 10
    assert found[("agijobs_owner_interventions_total", fabric)] == 1


def test_report_json_says_what_it_wrote_and_out_leaves_the_storage_alone(tmp_path: Path) -> None:
    storage, out = tmp_path / "s", tmp_path / "reports" / "inc"
    held_at_tick_10(str(storage))
    before = file_hashes(storage)
    result = cli("report", "--storage", str(storage), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {
        "api_version": "agijobs/v1",
        "kind": "Report",
        "storage": str(storage),
        "name": "incident-pause",
        "status": "paused",
        "tick": 10,
        "seq": 213,
        "out": str(out),
        "written": [f"{out}/report.html", f"{out}/report.md", f"{out}/metrics.prom"],
    }
    assert file_hashes(storage) == before
    assert (out / "metrics.prom").read_bytes() == (storage / "metrics.prom").read_bytes()


def test_a_finished_run_is_reported_with_the_summary_it_wrote(tmp_path: Path) -> None:
    storage, out = tmp_path / "s", tmp_path / "r"
    ran = cli("run", str(INCIDENT), "--storage", str(storage))
    assert ran.exit_code == 0, ran.output
    result = cli("report", "--storage", str(storage), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "incident-pause at tick" in result.stdout and "(finished)" in result.stdout
    # The same facts as the report the run wrote when it finished, but for where it is.
    written = (storage / "report.md").read_text().replace(f"storage: {storage}", "")
    assert (out / "report.md").read_text().replace(f"storage: {storage}", "") == written
    assert (out / "metrics.prom").read_bytes() == (storage / "metrics.prom").read_bytes()


def test_report_refusals(tmp_path: Path) -> None:
    missing = cli("report", "--storage", str(tmp_path / "nowhere"))
    assert missing.exit_code == 4, missing.output
    assert missing.stderr == (
        f"Error: storage {tmp_path / 'nowhere'} does not exist — check --storage (or "
        "AGIJOBS_STORAGE); `agijobs run SCENARIO --storage PATH` creates one\n"
    )
    storage = tmp_path / "s"
    held_at_tick_10(str(storage))
    afile = tmp_path / "afile"
    afile.write_text("")
    onto_a_file = cli("report", "--storage", str(storage), "--out", str(afile))
    assert onto_a_file.exit_code == 2, onto_a_file.output
    assert onto_a_file.stderr == (
        f"Error: --out: {afile} is a file — name a directory to write the report into\n"
    )
    database = cli("report", "--storage", "postgresql://ops@db.invalid/agijobs?fabric=prod")
    assert database.exit_code == 2, database.output
    assert database.stderr == (
        "Error: --out: needed when --storage is a database (a report is files you open) — "
        "add --out DIR, e.g. --out ./report\n"
    )


def test_report_of_a_postgresql_run_is_the_directory_run_s(pg_url: str, tmp_path: Path) -> None:
    """The same drill stored in PostgreSQL gives the same textfile and the same report but
    for the storage it names: the backend changes where the bytes live, not what they say."""
    directory = tmp_path / "s"
    held_at_tick_10(str(directory))
    held_at_tick_10(pg_url)
    out, beside = tmp_path / "pg-report", tmp_path / "dir-report"
    result = agijobs("report", "--storage", pg_url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"report: {out}/report.html (open it in a browser; report.md beside it), "
        "incident-pause at tick 10 (paused)\n"
        f"metrics: {out}/metrics.prom (Prometheus textfile)\n"
    )
    assert cli("report", "--storage", str(directory), "--out", str(beside)).exit_code == 0
    assert (out / "metrics.prom").read_bytes() == (beside / "metrics.prom").read_bytes()
    pg_lines = (out / "report.md").read_text().splitlines()
    dir_lines = (beside / "report.md").read_text().splitlines()
    [location] = [line for line in pg_lines if line.startswith("- storage: ")]
    assert location.startswith("- storage: postgresql://") and "fabric=" in location
    # Line for line the same, but where it is stored and the chain head (the pause at rest
    # records when it was issued, so the two heads differ).
    differ = [a for a, b in zip(pg_lines, dir_lines, strict=True) if a != b]
    assert differ[0] == location and len(differ) == 3
    assert differ[1].startswith("| chain head | ") and differ[2].startswith("chain head: ")
