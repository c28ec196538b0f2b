"""What a storage holds, run by run: `agijobs fabrics`.

A PostgreSQL database holds many fabrics (rows named by ?fabric=, runs set aside by
`run --fresh` as NAME@RUN_ID); a storage directory holds one, and the runs `run --fresh`
set aside under archive/. Each is listed with its run id, the tick it reached, whether it
finished and whether a runner is live on it. Nothing is verified here: `status` and `audit`
do that for the one you pick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ..store import Store, is_database_url, no_run, open_store
from .loading import read_json
from .sessions import runner_is_live


def list_fabrics(storage: str) -> dict[str, Any]:
    """The fabrics `storage` holds: a database URL (with or without ?fabric=), or a
    directory (its run, then those under archive/)."""
    if is_database_url(storage):
        return _database(storage)
    return _directory(storage)


def entry(store: Store, name: str, archived: bool) -> dict[str, Any]:
    """One fabric's line: its run id, the tick it reached, finished?, live?"""
    info = read_json(store, "run.json") or {}
    live = runner_is_live(store)
    published = read_json(store, "live.json") if live else None
    summary = read_json(store, "summary.json") or {}
    tick = published.get("tick") if published is not None else None
    if tick is None:
        checkpoint = store.read_checkpoint()
        tick = _tick(checkpoint) if checkpoint is not None else None
    return {
        "name": name,
        "storage": store.location,
        "run_id": info.get("run_id"),
        "scenario": info.get("name"),
        "tick": tick,
        "finished": not live and summary.get("status") == "finished",
        "live": live,
        "archived": archived,
    }


def _tick(checkpoint: bytes) -> int | None:
    try:
        tick = orjson.loads(checkpoint).get("tick")
    except (orjson.JSONDecodeError, AttributeError):
        return None  # status and audit name what is wrong with it
    return tick if isinstance(tick, int) else None


def _database(url: str) -> dict[str, Any]:
    from ..store import require_driver

    require_driver("--storage", url)
    from ..store.postgres import PostgresStore
    from ..store.postgres_url import database_location, with_fabric

    # A fabric's name is needed to connect, not to list: any will do.
    probe = PostgresStore(with_fabric(url, "agijobs"))
    try:
        names = probe.fabric_names()
    finally:
        probe.close()
    fabrics = []
    for name in names:
        store = PostgresStore(with_fabric(url, name))
        try:
            fabrics.append(entry(store, name, archived="@" in name))
        finally:
            store.close()
    return {"storage": database_location(url), "backend": "postgresql", "fabrics": fabrics}


def _directory(storage: str) -> dict[str, Any]:
    store = open_store(storage)
    if not store.exists():
        raise no_run(store)
    fabrics = [entry(store, storage, archived=False)] if store.has_run() else []
    archive = Path(storage) / "archive"
    if archive.is_dir() and not archive.is_symlink():
        for folder in sorted(archive.iterdir()):
            if folder.is_dir() and not folder.is_symlink():
                name = str(Path(storage) / "archive" / folder.name)
                fabrics.append(entry(open_store(name), name, archived=True))
    return {"storage": store.location, "backend": "directory", "fabrics": fabrics}
