"""pytest plugin: one throw-away PostgreSQL server for the test session (scripts/pg_local.py).

`pg_server` (session) starts it in a tmp_path_factory directory and yields its base URL,
`postgresql://agijobs@127.0.0.1:PORT/agijobs`; `pg_url` (function) yields that URL with a
fabric name of its own, `?fabric=tN`, so every test starts from an empty fabric.

Without the PostgreSQL server binaries the tests that use them skip, saying why, unless
AGIJOBS_REQUIRE_POSTGRES=1 (CI sets it), in which case they fail.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pg_local.py"
_MODULE = "agijobs_tests_pg_local"
_fabric_numbers = itertools.count(1)


def load_pg_local() -> ModuleType:
    """scripts/pg_local.py as a module (scripts/ is not a package)."""
    loaded = sys.modules.get(_MODULE)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(_MODULE, _SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE] = module  # its dataclass looks its module up while being defined
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE]
        raise
    return module


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a PostgreSQL server that lives as long as the test session."""
    pg_local = load_pg_local()
    unavailable = ""
    try:
        server = pg_local.start(tmp_path_factory.mktemp("pgdata"))
    except pg_local.PgUnavailable as exc:
        unavailable = str(exc)
    if unavailable:  # outside the except block: no chained traceback in the report
        if os.environ.get("AGIJOBS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (AGIJOBS_REQUIRE_POSTGRES=1): {unavailable}")
        pytest.skip(f"PostgreSQL unavailable: {unavailable}")
    base: str = server.url
    try:
        yield base
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """The server's URL with a fresh fabric name: `{base}?fabric=tN`."""
    return f"{pg_server}?fabric=t{next(_fabric_numbers)}"
