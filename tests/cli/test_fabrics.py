"""`agijobs fabrics`: what a storage holds; an unknown PostgreSQL fabric names those there are."""

from __future__ import annotations

from pathlib import Path

import orjson

from ..helpers import agijobs, cli, scenario_dict, write_scenario


def _run(scenario: Path, storage: str, *more: str) -> None:
    ran = agijobs("run", str(scenario), "--storage", storage, *more)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_a_database_lists_its_fabrics_and_their_runs(pg_server: str, tmp_path: Path) -> None:
    database = pg_server.rsplit("/", 1)[0] + "/fabrics_list"
    from agijobs.store.postgres import PostgresStore

    store = PostgresStore(f"{pg_server}?fabric=admin")
    store.aux().execute("DROP DATABASE IF EXISTS fabrics_list")
    store.aux().execute("CREATE DATABASE fabrics_list")
    store.close()

    empty = agijobs("fabrics", "--storage", database)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == f"no fabric in {database} yet\n"

    scenario = write_scenario(tmp_path / "s.yaml", scenario_dict())
    _run(scenario, f"{database}?fabric=earth", "--stop-after-ticks", "3")
    _run(scenario, f"{database}?fabric=planetary")
    _run(scenario, f"{database}?fabric=planetary", "--fresh", "--stop-after-ticks", "2")

    listed = agijobs("fabrics", "--storage", f"{database}?fabric=earth", "--json")
    assert listed.returncode == 0, listed.stderr
    document = orjson.loads(listed.stdout)
    assert (document["api_version"], document["kind"]) == ("agijobs/v1", "FabricList")
    assert (document["storage"], document["backend"]) == (database, "postgresql")
    rows = {f["name"]: f for f in document["fabrics"]}
    archived = next(name for name in rows if name.startswith("planetary@"))
    assert list(rows) == ["earth", "planetary", archived]
    assert {k: rows["earth"][k] for k in ("tick", "finished", "live", "archived")} == {
        "tick": 3,
        "finished": False,
        "live": False,
        "archived": False,
    }
    assert rows["planetary"]["tick"] == 2 and not rows["planetary"]["finished"]
    assert rows[archived]["finished"] and rows[archived]["archived"]
    assert archived == f"planetary@{rows[archived]['run_id']}"
    assert rows["earth"]["storage"] == f"{database}?fabric=earth"

    text = agijobs("fabrics", "--storage", database)
    assert text.returncode == 0, text.stderr
    assert f"fabrics in {database}" in text.stdout
    assert f"{archived} (archived)" in text.stdout

    # A mistyped fabric: exit 4, naming the fabrics there are and the closest.
    for command in (["status"], ["audit"], ["pause-all", "--reason", "x"]):
        typo = agijobs(*command, "--storage", f"{database}?fabric=planetry")
        assert typo.returncode == 4, typo.stdout + typo.stderr
        assert typo.stderr == (
            f"Error: fabric `planetry` does not exist in {database}; it holds earth, "
            "planetary; did you mean `planetary`? — check ?fabric= "
            f"(`agijobs fabrics --storage {database}` lists them)\n"
        )
    # A fabric whose run was set aside is known: no run in it, as for a directory.
    other = agijobs("run", str(scenario), "--storage", f"{database}?fabric=earth", "--fresh")
    assert other.returncode == 0, other.stderr


def test_a_database_without_fabrics_says_how_to_make_one(pg_server: str) -> None:
    from agijobs.store.postgres import PostgresStore

    store = PostgresStore(f"{pg_server}?fabric=admin")
    store.aux().execute("DROP DATABASE IF EXISTS fabrics_none")
    store.aux().execute("CREATE DATABASE fabrics_none")
    store.close()
    database = pg_server.rsplit("/", 1)[0] + "/fabrics_none"
    result = agijobs("status", "--storage", f"{database}?fabric=earth")
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr == (
        f"Error: fabric `earth` does not exist in {database}: it holds no fabric yet — "
        "`agijobs run SCENARIO --storage URL?fabric=NAME` creates one\n"
    )


def test_a_directory_lists_its_run_and_the_runs_archived_beside_it(
    tmp_path: Path, scenario_file: Path
) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    empty = cli("fabrics", "--storage", str(storage))
    assert empty.exit_code == 0, empty.output
    assert empty.stdout == f"no run in {storage}\n"
    for more in ((), ("--fresh", "--stop-after-ticks", "2")):
        result = cli("run", str(scenario_file), "--storage", str(storage), *more)
        assert result.exit_code == 0, result.output
    listed = cli("fabrics", "--storage", str(storage), "--json")
    assert listed.exit_code == 0, listed.output
    document = orjson.loads(listed.stdout)
    assert document["backend"] == "directory"
    current, archived = document["fabrics"]
    assert (current["name"], current["tick"], current["finished"]) == (str(storage), 2, False)
    assert archived["name"] == str(storage / "archive" / archived["run_id"])
    assert archived["finished"] and archived["archived"] and not archived["live"]


def test_a_directory_that_does_not_exist_is_named(tmp_path: Path) -> None:
    result = cli("fabrics", "--storage", str(tmp_path / "typo"))
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith(f"Error: storage {tmp_path / 'typo'} does not exist — ")
