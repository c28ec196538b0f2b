"""The PostgreSQL driver is the `agijobs[postgresql]` extra: without it a postgresql://
storage or witness is refused, naming the extra (exit 4), and nothing else needs it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ..helpers import cli

MISSING = "needs the PostgreSQL driver (psycopg), which is not installed — install it: " + (
    "pip install 'agijobs[postgresql]'"
)


@pytest.fixture
def no_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if psycopg were not installed: importing it fails (a None entry stops the import)."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "agijobs.store.postgres", raising=False)


@pytest.mark.usefixtures("no_driver")
def test_a_database_storage_names_the_extra_to_install() -> None:
    result = cli("status", "--storage", "postgresql://ops:s3cret@db.example/fleet?fabric=prod")
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: --storage: postgresql://ops:***@db.example/fleet?fabric=prod {MISSING}\n"
    )


@pytest.mark.usefixtures("no_driver")
def test_a_database_witness_names_the_extra_to_install(tmp_path: Path) -> None:
    result = cli(
        "audit", "--storage", str(tmp_path), "--witness", "postgresql://ops@db.example/heads"
    )
    assert result.exit_code == 4, result.output
    assert result.stderr == f"Error: --witness: postgresql://ops@db.example/heads {MISSING}\n"


@pytest.mark.usefixtures("no_driver")
def test_a_storage_directory_needs_no_driver(tmp_path: Path) -> None:
    result = cli("status", "--storage", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "no run" in result.stdout
