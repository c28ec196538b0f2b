"""Reading YAML and JSON documents: bytes to plain data, every error naming the file and
where in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ..errors import BadInput


def read_document(path: Path) -> Any:
    if path.is_dir():
        raise BadInput(f"{path}: is a directory", "pass a scenario or plan file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file", "check the path") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})", "check the path") from None
    return parse_document(path, data)


def read_commands_document(path: Path, data: bytes | None) -> Any:
    """An `agijobs apply` document: from `path`, or `data` already read (stdin)."""
    return read_document(path) if data is None else parse_document(path, data)


def parse_document(path: Path, data: bytes) -> Any:
    """YAML or JSON bytes (JSON when `path` ends in .json) as plain data."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{path}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        ) from None
    if not text.strip():
        raise BadInput(
            f"{path}: the file is empty",
            "write a scenario or command (see docs/scenario-format.md)",
        )
    if path.suffix.lower() == ".json":
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BadInput(
                f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})",
                "fix the JSON syntax",
            ) from None
    import yaml

    try:
        return yaml.load(text, Loader=_unique_key_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInput(f"{path}: {where}invalid YAML ({problem})", "fix the YAML syntax") from None


def _unique_key_loader() -> Any:
    """A SafeLoader that refuses a key given twice in one mapping (YAML keeps the last)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key `{key}`", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader
