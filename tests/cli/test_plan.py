from __future__ import annotations

from pathlib import Path

import orjson

from agijobs.ledger.canonical import dumps, sha256_hex

from ..helpers import cli, sha


def test_plan_writes_a_canonical_plan_whose_id_is_its_content_hash(
    scenario_file: Path, storage: Path
) -> None:
    result = cli("plan", str(scenario_file), "--storage", str(storage))
    assert result.exit_code == 0, result.output
    path = storage / "plan.json"
    document = orjson.loads(path.read_bytes())
    # Provenance (the source files' digests) sits beside the id, not under it.
    body = {k: v for k, v in document.items() if k not in ("plan_id", "sources")}
    assert document["plan_id"] == sha256_hex(dumps(body))
    assert document["sources"] == [
        {"path": str(scenario_file), "sha256": sha256_hex(scenario_file.read_bytes())}
    ]
    assert path.read_bytes() == dumps(document) + b"\n"
    assert f"plan {document['plan_id']} written to {path}" in result.stdout
    assert "expectations will hold" in result.stdout


def test_plan_predicts_the_run_exactly(scenario_file: Path, tmp_path: Path) -> None:
    planned = cli("plan", str(scenario_file), "--out", str(tmp_path / "p.json"), "--json")
    predicted = orjson.loads(planned.stdout)["predicted"]
    ran = cli("run", str(scenario_file), "--storage", str(tmp_path / "s"))
    assert ran.exit_code == 0, ran.output
    summary = orjson.loads((tmp_path / "s" / "summary.json").read_bytes())
    assert predicted["events_digest"] == sha(tmp_path / "s" / "events.ndjson")
    assert (predicted["tick"], predicted["head"]) == (summary["tick"], summary["head"])


def test_plan_is_the_same_bytes_every_time(scenario_file: Path, tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        planned = cli("plan", str(scenario_file), "--out", str(tmp_path / name))
        assert planned.exit_code == 0, planned.output
    assert sha(tmp_path / "a.json") == sha(tmp_path / "b.json")


def test_edited_plan_is_refused(scenario_file: Path, tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    cli("plan", str(scenario_file), "--out", str(plan_path))
    plan_path.write_bytes(plan_path.read_bytes().replace(b'"count":30', b'"count":31'))
    result = cli("run", str(plan_path), "--storage", str(tmp_path / "s"))
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {plan_path}: plan_id does not match the plan's content (edited after "
        "`agijobs plan`?) — run `agijobs plan SCENARIO` again to write a fresh plan\n"
    )
    assert not (tmp_path / "s").exists()
