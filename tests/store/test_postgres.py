"""What only the PostgreSQL backend has: URLs, fabrics sharing a database, the advisory
lock's key, the schema created by whoever comes first, NOTIFY waking the runner."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from agijobs.errors import BadInput, Conflict
from agijobs.store.postgres import PostgresStore, lock_key, parse_url

from ..helpers import agijobs, scenario_dict, write_scenario


def test_a_url_names_one_fabric_and_its_password_never_shows() -> None:
    conninfo, fabric, location = parse_url(
        "postgresql://ops:s3cret@db.example:5433/fabrics?sslmode=require&fabric=earth-1"
    )
    assert fabric == "earth-1"
    assert conninfo == "postgresql://ops:s3cret@db.example:5433/fabrics?sslmode=require"
    assert location == "postgresql://ops:***@db.example:5433/fabrics?sslmode=require&fabric=earth-1"
    _, _, location = parse_url("postgresql://ops@db/f?password=s3cret&fabric=earth")
    assert location == "postgresql://ops@db/f?password=***&fabric=earth"
    with pytest.raises(BadInput, match="names 2 fabrics"):
        parse_url("postgresql://h/db?fabric=a&fabric=b")
    with pytest.raises(BadInput, match=r"fabric name 'a b'"):
        parse_url("postgresql://h/db?fabric=a b")


@pytest.mark.parametrize("fabric", ["a", "b", "planetary", "t15", "x", "mars-7"])
def test_the_lock_is_seen_whatever_the_sign_of_its_key(pg_server: str, fabric: str) -> None:
    url = f"{pg_server}?fabric={fabric}"
    holder, observer = PostgresStore(url), PostgresStore(url)
    with holder.run_lock():
        assert observer.lock_is_held()
    assert not observer.lock_is_held()
    assert {lock_key(fabric) < 0 for fabric in ("a", "b")} == {True, False}  # both signs here
    holder.close()
    observer.close()


def test_fabrics_share_a_database_without_seeing_each_other(pg_url: str, tmp_path: Path) -> None:
    other = pg_url + "x"
    scenario = write_scenario(tmp_path / "s.yaml", scenario_dict())
    ran = agijobs("run", str(scenario), "--storage", pg_url)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    status = agijobs("status", "--storage", other, "--json")
    assert status.returncode == 4, status.stdout + status.stderr  # not the other's run
    fabric = other.rsplit("=", 1)[1]
    assert f"fabric `{fabric}` does not exist" in orjson.loads(status.stdout)["error"]["message"]
    first, second = PostgresStore(pg_url), PostgresStore(other)
    with first.run_lock():
        with second.run_lock():  # different fabrics: different locks
            pass
        assert not second.lock_is_held()
    first.close()
    second.close()


def test_the_first_commands_on_a_new_database_create_the_schema_once(pg_server: str) -> None:
    database = "fresh_schema"
    admin = PostgresStore(f"{pg_server}?fabric=admin")
    admin.aux().execute(f"DROP DATABASE IF EXISTS {database}")
    admin.aux().execute(f"CREATE DATABASE {database}")
    admin.close()
    url = pg_server.rsplit("/", 1)[0] + f"/{database}?fabric=f"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "agijobs", "fabrics", "--storage", url, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0] * 8, outputs
    assert all(orjson.loads(out)["fabrics"] == [] for out, _ in outputs)


def test_a_notify_wakes_the_runner_and_the_acknowledgement_wakes_the_cli(pg_url: str) -> None:
    """Both waits block on LISTEN with a 5 s timeout; each returns as soon as the other side
    commits, so a live command is not held up by polling."""
    runner, cli = PostgresStore(pg_url), PostgresStore(pg_url)
    runner.ensure()
    assert runner.pending_commands() == []  # listening from here on

    def submit_soon() -> None:
        time.sleep(0.2)
        cli.submit_command({"command": "pause-all", "issued_ns": 1})

    thread = threading.Thread(target=submit_soon)
    started = time.monotonic()
    thread.start()
    runner.wait_for_commands(5.0)
    woke_after = time.monotonic() - started
    thread.join()
    assert 0.2 <= woke_after < 1.0
    ((command_id, _),) = runner.pending_commands()
    runner.journal([{"id": command_id, "tick": 1, "index": 0, "command": {}}])

    def acknowledge_soon() -> None:
        time.sleep(0.2)
        runner.acknowledge(command_id, {"tick": 1, "event": "owner.pause-all", "effect": {}})

    thread = threading.Thread(target=acknowledge_soon)
    started = time.monotonic()
    thread.start()
    assert cli.wait_ack(command_id, 5.0) is not None
    acked_after = time.monotonic() - started
    thread.join()
    assert 0.2 <= acked_after < 1.0
    runner.close()
    cli.close()


def test_a_url_without_fabric_or_a_missing_server_is_a_clear_error(pg_server: str) -> None:
    no_fabric = pg_server
    result = agijobs("status", "--storage", no_fabric)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        f"Error: --storage: {no_fabric} names no fabric — add exactly one ?fabric=NAME "
        "(several fabrics can share a database)\n"
    )
    down = "postgresql://agijobs@127.0.0.1:1/agijobs?fabric=x"
    result = agijobs("status", "--storage", down)
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr.startswith(f"Error: storage {down}: cannot connect (")
    assert "check the URL, that the server is up" in result.stderr


def test_a_runner_whose_session_lost_the_lock_journals_nothing(pg_url: str) -> None:
    """The lock lives on the writer's session and the journal commits on another one: if
    the writer's session is ended (and another process could take the fabric), the runner
    must not take commands."""
    runner, cli, admin = PostgresStore(pg_url), PostgresStore(pg_url), PostgresStore(pg_url)
    cli.ensure()
    with runner.run_lock():
        session = runner.lock_session()
        assert session is not None and cli.lock_holder() == session
        command_id = cli.submit_command({"command": "pause-all", "issued_ns": 1})
        ((taken, raw),) = runner.pending_commands()
        admin.aux().execute("SELECT pg_terminate_backend(%s)", (int(session),))
        deadline = time.monotonic() + 5
        while cli.lock_holder() is not None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(Conflict, match="this runner lost the run lock"):
            runner.journal([{"id": taken, "tick": 1, "index": 0, "command": raw}])
    assert cli.read_journal() == []
    assert [command for command, _ in cli.pending_commands()] == [command_id]
    for store in (runner, cli, admin):
        store.close()
