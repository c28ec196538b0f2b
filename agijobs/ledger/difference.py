"""Where two JSON documents first differ, said as an operator reads it.

A verifier that re-derives a document names the first field whose stored value is not the
derived one: ``state -> nodes -> n3 -> slots``. A list item that has an ``id`` is named by
it (the node, not its index), so the path survives a reordering being the difference.
"""

from __future__ import annotations

from typing import Any

import orjson


def first_difference(stored: Any, derived: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The path of the first value (in key order, depth first) where `stored` is not
    `derived`, with both values; None when they are equal. Types count: 1 is not 1.0 nor
    true, as the canonical bytes would differ."""
    if type(stored) is not type(derived):
        return path or "(the whole document)", stored, derived
    if isinstance(stored, dict):
        for key in sorted(stored.keys() | derived.keys()):
            where = f"{path} -> {key}" if path else str(key)
            if key not in stored:
                return where, _MISSING, derived[key]
            if key not in derived:
                return where, stored[key], _MISSING
            found = first_difference(stored[key], derived[key], where)
            if found is not None:
                return found
        return None
    if isinstance(stored, list):
        for index, (left, right) in enumerate(zip(stored, derived, strict=False)):
            found = first_difference(left, right, f"{path} -> {_item_name(index, right)}")
            if found is not None:
                return found
        if len(stored) != len(derived):
            return f"{path} (length)", len(stored), len(derived)
        return None
    return None if stored == derived else (path or "(the whole document)", stored, derived)


def describe_difference(found: tuple[str, Any, Any], source: str = "the log gives") -> str:
    """``state -> paused is true, but the log gives false`` (`source` says who gives)."""
    path, stored, derived = found
    if stored is _MISSING:
        return f"{path} is missing, but {source} {shown(derived)}"
    if derived is _MISSING:
        return f"{path} is {shown(stored)}, but {source} no such field"
    return f"{path} is {shown(stored)}, but {source} {shown(derived)}"


def shown(value: Any, limit: int = 80) -> str:
    """A value as JSON, cut to `limit` characters (a job table or a queue can be huge)."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING: Any = _Missing()


def _item_name(index: int, item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return f"{index} ({item['id']})"
    return str(index)
