"""Shared fixtures: a throw-away PostgreSQL server (tests.pg_fixture) and `backend`, which
runs a test once per storage backend (tests.backends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .backends import Backend, DirectoryBackend, PostgresBackend

pytest_plugins = ["tests.pg_fixture", "tests.contract_check"]


@pytest.fixture(params=["directory", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """An empty store of each kind: a directory, and a fabric in the session's PostgreSQL."""
    if request.param == "directory":
        return DirectoryBackend(tmp_path / "storage")
    return PostgresBackend(request.getfixturevalue("pg_url"))
