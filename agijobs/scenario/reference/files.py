"""Reading reference files and telling them apart.

`read_reference` reads one file the way scenario files are read; `kind_of` recognises a
mission plan or a fabric config by content alone, which is how `agijobs plan` and `agijobs run`
know to translate. `expect` holds a file to the kind its reader wanted and, when it is
another, says what it looks like; `reference` follows a key of the mission plan to the file
it names (relative to the plan's folder) or to the object written inline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import BadInput
from .fields import At, shown


def read_reference(path: Path) -> Any:
    """Read a reference file: JSON, or YAML when its suffix is .yaml/.yml."""
    return read(path, None)


def read(path: Path, named_by: At | None) -> Any:
    from ..documents import parse_document, read_input_file

    if named_by is not None and not path.exists():
        raise BadInput(
            f"{named_by}: no such file {path}",
            "paths are relative to the folder of the file that names them",
        )
    # The same reader as scenario files: regular files only, JSON by suffix, else YAML (of
    # which JSON is a subset), duplicate keys refused, errors with line and column.
    data = read_input_file(path, f"{named_by}: {path}" if named_by else None)
    return parse_document(path, data)


def kind_of(raw: Any) -> str | None:
    """Recognise a reference file by content, never by file name.

    Returns:
        ``"mission"`` for a mission plan (top-level `config`, `jobBlueprint` or
        `ownerCommands`, and no `fabric`/`workload`), ``"fabric"`` for a fabric config
        (top-level `shards` and `nodes` lists, and no `fabric`), None otherwise.
    """
    if not isinstance(raw, dict) or "fabric" in raw:
        return None
    if "workload" not in raw and any(k in raw for k in ("config", "jobBlueprint", "ownerCommands")):
        return "mission"
    if isinstance(raw.get("shards"), list) and isinstance(raw.get("nodes"), list):
        return "fabric"
    return None


def looks_like(raw: Any) -> str | None:
    kind = kind_of(raw)
    if kind == "mission":
        return "a mission plan"
    if kind == "fabric":
        return "a fabric config"
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("jobs"), list):
        return "a job blueprint"
    if isinstance(raw.get("commands"), list):
        return "an owner-commands file"
    if "fabric" in raw:
        return "an agijobs scenario"
    return None


_SHAPES = {
    "fabric": ("a fabric config", "top-level `shards` and `nodes` lists"),
    "blueprint": ("a job blueprint", "a top-level `jobs` list"),
    "commands": ("an owner-commands file", "a top-level `commands` list"),
}


def expect(named_by: At | None, at: At, raw: Any, wanted: str) -> dict[str, Any]:
    """`raw` as the kind of reference file wanted, or BadInput saying what it looks like."""
    if wanted == "fabric":
        ok = kind_of(raw) == "fabric"
    else:
        key = "jobs" if wanted == "blueprint" else "commands"
        ok = kind_of(raw) is None and isinstance(raw, dict) and isinstance(raw.get(key), list)
    if ok:
        assert isinstance(raw, dict)
        return raw
    desc, shape = _SHAPES[wanted]
    looks = looks_like(raw)
    seems = f"; it looks like {looks}" if looks else ""
    if named_by is None:
        at.fail(f"not {desc}{seems}", f"pass {desc}: it has {shape}")
    shown = str(at.path) if at.path != named_by.path else "the inline object"
    named_by.fail(
        f"{shown} is not {desc}{seems}", f"point `{named_by.keys[-1]}` at {desc}: {shape}"
    )


def reference(at: At, obj: dict[str, Any], key: str, wanted: str) -> tuple[At, dict[str, Any]]:
    """A referenced file (a path relative to the naming file) or an inline object."""
    value = obj[key]
    if isinstance(value, str) and value.strip():
        target = At(at.path.parent / value)
        return target, expect(at / key, target, read(target.path, at / key), wanted)
    if isinstance(value, dict):
        return at / key, expect(at / key, at / key, value, wanted)
    (at / key).fail(
        f"must be a file path or an object (got {shown(value)})",
        "write the path of the file, relative to this one",
    )
